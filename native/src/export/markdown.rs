//! The Markdown report (GitHub-flavoured: tables, alerts), laid out from the same
//! [`Document`] as the HTML one. Charts are images referenced by relative path (PNG files
//! written beside the report). Every text from the result goes through [`escape`], so a name
//! with `|`, `*`, `<` or `[` stays text and never breaks a table or becomes markup.

use super::document::{AlertKind, Block, Document, Table};
use std::fmt::Write;

/// `s` as Markdown text: the characters that are markup in CommonMark/GFM inline text and
/// tables (`\ ` * _ [ ] < > | # ~ & !`) backslash-escaped, line breaks as spaces.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '~' | '&' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '\r' => {}
            '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The Markdown of `doc`; `chart_paths[i]` is the relative path of chart `i`'s image.
pub fn render(doc: &Document, chart_paths: &[String]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", escape(&doc.title));
    for b in &doc.blocks {
        block(&mut out, b, chart_paths);
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

fn table(out: &mut String, t: &Table) {
    let _ = writeln!(
        out,
        "| {} |",
        t.headers
            .iter()
            .map(|h| escape(h))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(
        out,
        "|{}|",
        (0..t.headers.len())
            .map(|i| if t.numeric.get(i).copied().unwrap_or(false) {
                "---:"
            } else {
                "---"
            })
            .collect::<Vec<_>>()
            .join("|")
    );
    for row in &t.rows {
        let cells: Vec<String> = row
            .iter()
            .map(|c| {
                let text = escape(&c.text);
                if c.strong && !text.is_empty() {
                    format!("**{text}**")
                } else {
                    text
                }
            })
            .collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out.push('\n');
}

/// A fence of backticks longer than any run of backticks in `text`.
fn fence(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    "`".repeat((longest + 1).max(3))
}

fn block(out: &mut String, b: &Block, chart_paths: &[String]) {
    match b {
        Block::Heading { level, text, .. } => {
            let level = usize::from((*level).clamp(2, 4));
            let _ = writeln!(out, "{} {}\n", "#".repeat(level), escape(text));
        }
        Block::Paragraph(t) => {
            let _ = writeln!(out, "{}\n", escape(t));
        }
        Block::Alert { kind, text } => {
            let tag = match kind {
                AlertKind::Note => "NOTE",
                AlertKind::Warning => "WARNING",
            };
            let _ = writeln!(out, "> [!{tag}]\n> {}\n", escape(text));
        }
        Block::Cards(cards) => {
            for c in cards {
                let _ = writeln!(
                    out,
                    "- **{}:** {} ({})",
                    escape(&c.label),
                    escape(&c.value),
                    escape(&c.detail)
                );
            }
            out.push('\n');
        }
        Block::Table(t) => table(out, t),
        Block::KeyValues(kv) => {
            for (k, v) in kv {
                let _ = writeln!(out, "- **{}:** {}", escape(k), escape(v));
            }
            out.push('\n');
        }
        Block::List(items) => {
            for i in items {
                let _ = writeln!(out, "- {}", escape(i));
            }
            out.push('\n');
        }
        Block::Chart {
            index, title, note, ..
        } => {
            let _ = writeln!(out, "**{}**\n", escape(title));
            if let Some(path) = chart_paths.get(*index) {
                let _ = writeln!(out, "![{}](<{}>)\n", escape(title), path);
            }
            if !note.is_empty() {
                let _ = writeln!(out, "_{}_\n", escape(note));
            }
        }
        Block::Code(text) => {
            let f = fence(text);
            let _ = writeln!(out, "{f}json\n{text}\n{f}\n");
        }
        Block::Details { summary, blocks } => {
            let _ = writeln!(out, "**{}**\n", escape(summary));
            for b in blocks {
                block(out, b, chart_paths);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::document::Cell;

    #[test]
    fn escape_keeps_names_as_text() {
        assert_eq!(escape("a|b"), "a\\|b");
        assert_eq!(escape("slo_aware"), "slo\\_aware");
        assert_eq!(
            escape("<script>alert(1)</script>"),
            "\\<script\\>alert(1)\\</script\\>"
        );
        assert_eq!(escape("[x](y) *z*"), "\\[x\\](y) \\*z\\*");
        assert_eq!(escape("two\nlines"), "two lines");
        assert_eq!(escape("12.5 ms"), "12.5 ms");
    }

    #[test]
    fn tables_escape_pipes_and_align_numbers() {
        let mut out = String::new();
        table(
            &mut out,
            &Table {
                headers: vec!["Policy".into(), "Rate".into()],
                numeric: vec![false, true],
                rows: vec![vec![
                    Cell::from("a|b"),
                    Cell {
                        text: "12.5".into(),
                        strong: true,
                    },
                ]],
            },
        );
        assert_eq!(
            out,
            "| Policy | Rate |\n|---|---:|\n| a\\|b | **12.5** |\n\n"
        );
    }

    #[test]
    fn code_fences_outgrow_the_content() {
        assert_eq!(fence("no ticks"), "```");
        assert_eq!(fence("a ```` b"), "`````");
    }
}
