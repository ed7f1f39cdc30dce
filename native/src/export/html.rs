//! The HTML report: one self-contained file (inline CSS, charts as inline SVG, no script, no
//! network), laid out from a [`Document`]. Every text from the result is escaped with
//! [`escape`]; the SVG charts come from the SVG backend, which escapes its text the same way.

use super::document::{AlertKind, Block, Card, Document, Table};
use std::fmt::Write;

/// `s` with the five characters that are markup in HTML text and attribute values (`&`, `<`,
/// `>`, `"`, `'`) replaced by character references.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The report's style sheet.
pub const STYLE: &str = r#"
:root { --fg: #1d2430; --muted: #5b6573; --line: #dde2e8; --bg: #f6f7f9; --accent: #1f77b4; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: var(--fg); background: var(--bg); }
main { max-width: 1500px; margin: 0 auto; padding: 24px 20px 48px; }
h1 { font-size: 1.7rem; margin: 0 0 4px; }
h2 { font-size: 1.3rem; margin: 36px 0 12px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 1.08rem; margin: 24px 0 8px; }
nav { margin: 8px 0 16px; font-size: 0.92rem; }
nav a { margin-right: 14px; color: var(--accent); text-decoration: none; }
p { margin: 8px 0; }
.alert { border-left: 4px solid #7f7f7f; background: #fff; padding: 8px 12px; margin: 10px 0; }
.alert.warning { border-color: #d62728; background: #fff5f5; }
.alert.note { border-color: #1f77b4; background: #f3f8fd; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); gap: 12px; margin: 12px 0; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; }
.card .label { color: var(--muted); font-size: 0.82rem; text-transform: uppercase; letter-spacing: 0.03em; }
.card .value { font-size: 1.35rem; font-weight: 600; margin: 2px 0; overflow-wrap: anywhere; }
.card .detail { color: var(--muted); font-size: 0.85rem; overflow-wrap: anywhere; }
.table-wrap { overflow-x: auto; margin: 8px 0 14px; }
table { border-collapse: collapse; background: #fff; font-size: 0.9rem; }
th, td { border: 1px solid var(--line); padding: 5px 9px; text-align: left; vertical-align: top; }
th { background: #eef1f4; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td strong { color: #0b5394; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 8px 0 12px; background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; }
dt { color: var(--muted); }
dd { margin: 0; overflow-wrap: anywhere; }
.chart-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 700px), 1fr)); gap: 14px; margin: 14px 0; }
figure.chart { background: #fff; border: 1px solid var(--line); border-radius: 8px; margin: 0; padding: 12px 14px; min-width: 0; }
figure.chart figcaption { margin-bottom: 6px; }
figure.chart figcaption .note { display: block; color: var(--muted); font-size: 0.88rem; }
figure.chart svg { display: block; width: 100%; max-width: 800px; height: auto; margin: 0 auto; }
pre { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 10px; overflow-x: auto; font-size: 0.82rem; }
details { margin: 8px 0; }
summary { cursor: pointer; color: var(--accent); }
footer { color: var(--muted); font-size: 0.85rem; margin-top: 36px; }
"#;

/// The HTML page of `doc`; `svgs[i]` is the inline SVG of chart `i` (see
/// [`Block::Chart::index`]).
pub fn render(doc: &Document, svgs: &[String]) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape(&doc.title),
    );
    out.push_str(&main_element(doc, svgs));
    out.push_str("</body>\n</html>\n");
    out
}

/// The report's `<main>` element (styled by [`STYLE`]): what [`render`] puts in its body.
pub fn main_element(doc: &Document, svgs: &[String]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "<main>\n<h1>{}</h1>", escape(&doc.title));
    let sections: Vec<(&str, &str)> = doc
        .blocks
        .iter()
        .filter_map(|b| match b {
            Block::Heading {
                level: 2, text, id, ..
            } => Some((id.as_str(), text.as_str())),
            _ => None,
        })
        .collect();
    if !sections.is_empty() {
        out.push_str("<nav>");
        for (id, text) in sections {
            let _ = write!(out, "<a href=\"#{}\">{}</a>", escape(id), escape(text));
        }
        out.push_str("</nav>\n");
    }
    let (body, footer) = match doc.blocks.split_last() {
        Some((Block::Paragraph(last), rest)) => (rest, Some(last)),
        _ => (&doc.blocks[..], None),
    };
    // Consecutive charts share a grid: two side by side on a wide screen.
    let mut in_grid = false;
    for b in body {
        let chart = matches!(b, Block::Chart { .. });
        if chart && !in_grid {
            out.push_str("<div class=\"chart-grid\">\n");
        } else if !chart && in_grid {
            out.push_str("</div>\n");
        }
        in_grid = chart;
        block(&mut out, b, svgs);
    }
    if in_grid {
        out.push_str("</div>\n");
    }
    if let Some(f) = footer {
        let _ = writeln!(out, "<footer>{}</footer>", escape(f));
    }
    out.push_str("</main>\n");
    out
}

fn table(out: &mut String, t: &Table) {
    out.push_str("<div class=\"table-wrap\"><table>\n<thead><tr>");
    for (i, h) in t.headers.iter().enumerate() {
        let class = if t.numeric.get(i).copied().unwrap_or(false) {
            " class=\"num\""
        } else {
            ""
        };
        let _ = write!(out, "<th{class}>{}</th>", escape(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in &t.rows {
        out.push_str("<tr>");
        for (i, c) in row.iter().enumerate() {
            let class = if t.numeric.get(i).copied().unwrap_or(false) {
                " class=\"num\""
            } else {
                ""
            };
            if c.strong {
                let _ = write!(out, "<td{class}><strong>{}</strong></td>", escape(&c.text));
            } else {
                let _ = write!(out, "<td{class}>{}</td>", escape(&c.text));
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table></div>\n");
}

fn cards(out: &mut String, cards: &[Card]) {
    out.push_str("<div class=\"cards\">\n");
    for c in cards {
        let _ = writeln!(
            out,
            "<div class=\"card\"><div class=\"label\">{}</div><div class=\"value\">{}</div><div class=\"detail\">{}</div></div>",
            escape(&c.label),
            escape(&c.value),
            escape(&c.detail)
        );
    }
    out.push_str("</div>\n");
}

/// The chart's SVG with an accessible name; the SVG itself is the backend's output.
fn labelled_svg(svg: &str, title: &str) -> String {
    match svg.strip_prefix("<svg ") {
        Some(rest) => format!("<svg role=\"img\" aria-label=\"{}\" {rest}", escape(title)),
        None => svg.to_owned(),
    }
}

fn block(out: &mut String, b: &Block, svgs: &[String]) {
    match b {
        Block::Heading { level, text, id } => {
            let level = (*level).clamp(2, 4);
            let _ = writeln!(
                out,
                "<h{level} id=\"{}\">{}</h{level}>",
                escape(id),
                escape(text)
            );
        }
        Block::Paragraph(t) => {
            let _ = writeln!(out, "<p>{}</p>", escape(t));
        }
        Block::Alert { kind, text } => {
            let class = match kind {
                AlertKind::Note => "note",
                AlertKind::Warning => "warning",
            };
            let _ = writeln!(out, "<div class=\"alert {class}\">{}</div>", escape(text));
        }
        Block::Cards(c) => cards(out, c),
        Block::Table(t) => table(out, t),
        Block::KeyValues(kv) => {
            out.push_str("<dl>\n");
            for (k, v) in kv {
                let _ = writeln!(out, "<dt>{}</dt><dd>{}</dd>", escape(k), escape(v));
            }
            out.push_str("</dl>\n");
        }
        Block::List(items) => {
            out.push_str("<ul>\n");
            for i in items {
                let _ = writeln!(out, "<li>{}</li>", escape(i));
            }
            out.push_str("</ul>\n");
        }
        Block::Chart {
            index,
            id,
            title,
            note,
        } => {
            let _ = write!(
                out,
                "<figure class=\"chart\" id=\"chart-{}\">\n<figcaption><strong>{}</strong><span class=\"note\">{}</span></figcaption>\n",
                escape(id),
                escape(title),
                escape(note)
            );
            match svgs.get(*index) {
                Some(svg) => out.push_str(&labelled_svg(svg, title)),
                None => out.push_str("<p>(chart not rendered)</p>"),
            }
            out.push_str("</figure>\n");
        }
        Block::Code(text) => {
            let _ = writeln!(out, "<pre><code>{}</code></pre>", escape(text));
        }
        Block::Details { summary, blocks } => {
            let _ = writeln!(out, "<details><summary>{}</summary>", escape(summary));
            for b in blocks {
                block(out, b, svgs);
            }
            out.push_str("</details>\n");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_replaces_every_markup_character() {
        assert_eq!(
            escape(r#"<script>alert("x") & 'y'</script>"#),
            "&lt;script&gt;alert(&quot;x&quot;) &amp; &#39;y&#39;&lt;/script&gt;"
        );
        assert_eq!(escape("slo_aware · 12 ms"), "slo_aware · 12 ms");
        assert_eq!(escape("&amp;"), "&amp;amp;");
        assert_eq!(escape(""), "");
    }

    #[test]
    fn svg_gets_an_accessible_name() {
        assert_eq!(
            labelled_svg("<svg width=\"1\">", "A <b>"),
            "<svg role=\"img\" aria-label=\"A &lt;b&gt;\" width=\"1\">"
        );
        assert_eq!(labelled_svg("x", "t"), "x");
    }
}
