//! The interactive HTML report: one file that embeds the browser viewer (its styles, JS and
//! wasm, built in by `native/build.rs` from `www/dist`) and the result file, so that opened
//! from disk, without network or server, it shows the viewer's charts, table and tooltips and
//! can load more files to compare. The static report ([`super::html`]) is inside `<noscript>`
//! for readers with scripts blocked, and shown instead if the viewer cannot start.
//!
//! A binary built without the viewer (plain `cargo build`, no `www/build.sh` before it) has
//! no bundle: [`bundled`] says why, and the writer falls back to the static report.

use super::html::{STYLE, escape};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use std::fmt::Write;

/// The built viewer's files.
// Never constructed in a binary built without the viewer.
#[allow(dead_code)]
struct Bundle {
    /// `styles.css`.
    styles: &'static str,
    /// The wasm-bindgen glue (`pkg/cpbench_viewer.js`, an ES module).
    glue: &'static str,
    /// The JS snippets the glue imports: the import specifier (`./snippets/...`) and the text.
    snippets: &'static [(&'static str, &'static str)],
    /// The viewer's wasm, gzipped when `wasm_gzip`.
    wasm: &'static [u8],
    /// Whether `wasm` is gzipped.
    wasm_gzip: bool,
}

include!(concat!(env!("OUT_DIR"), "/viewer_bundle.rs"));

/// The script that starts the embedded viewer (allowed by its hash in the page's CSP).
const BOOT: &str = include_str!("interactive_boot.js");

/// The id of the element holding the result file (the viewer's `embedded` module reads it).
pub const RESULTS_ID: &str = "cpbench-embedded-results";

/// `Ok(())` when the viewer is built into this binary; otherwise why not, and how to get it.
pub fn bundled() -> Result<(), String> {
    BUNDLE.map(|_| ()).map_err(|why| {
        format!(
            "the interactive viewer is not built into this sage-cp-bench ({why}); run www/build.sh, then build sage-cp-bench again"
        )
    })
}

/// `json` made safe as the text of a `<script>` element: every `<` (which JSON has only
/// inside strings) written as `\u003c`, so no `</script>` or `<!--` can end or change it.
pub fn script_safe_json(json: &str) -> String {
    json.replace('<', "\\u003c")
}

/// The single-file page: the viewer starting on `result_json` (a result file's JSON, shown as
/// `result_name`), with `static_main` (the static report's `<main>`) for readers without
/// scripts. `None` when the viewer is not built in (see [`bundled`]).
pub fn render(
    title: &str,
    result_name: &str,
    result_json: &str,
    static_main: &str,
) -> Option<String> {
    let b = BUNDLE.ok()?;
    let boot_hash = STANDARD.encode(Sha256::digest(BOOT.as_bytes()));
    let mut out = String::with_capacity(b.wasm.len() * 4 / 3 + result_json.len() + 200_000);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"color-scheme\" content=\"light\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         script-src 'sha256-{boot_hash}' blob: 'wasm-unsafe-eval'; style-src 'unsafe-inline'; \
         img-src data: blob:; connect-src *; object-src 'none'; base-uri 'none'; form-action 'none'\">\n\
         <title>{}</title>\n<link rel=\"icon\" href=\"data:,\">\n\
         <style id=\"cpbench-viewer-style\" media=\"not all\">{}</style>\n\
         <noscript id=\"cpbench-static-style\"><style>{STYLE}</style></noscript>\n\
         <noscript><style>#app {{ display: none; }}</style></noscript>\n\
         <script type=\"module\">{BOOT}</script>\n</head>\n<body>\n\
         <div id=\"panic\" class=\"panic\" role=\"alert\" hidden></div>\n\
         <div id=\"app\"><p class=\"boot\">Loading the viewer…</p></div>\n\
         <noscript id=\"cpbench-static-report\">\n{static_main}</noscript>\n",
        escape(title),
        b.styles,
    );
    let _ = writeln!(
        out,
        "<script type=\"application/json\" id=\"{RESULTS_ID}\" data-name=\"{}\">{}</script>",
        escape(result_name),
        script_safe_json(result_json)
    );
    let _ = writeln!(
        out,
        "<script type=\"application/octet-stream\" id=\"cpbench-viewer-glue\">{}</script>",
        STANDARD.encode(b.glue)
    );
    for (path, text) in b.snippets {
        let _ = writeln!(
            out,
            "<script type=\"application/octet-stream\" class=\"cpbench-viewer-snippet\" data-path=\"{}\">{}</script>",
            escape(path),
            STANDARD.encode(text)
        );
    }
    let _ = writeln!(
        out,
        "<script type=\"application/octet-stream\" id=\"cpbench-viewer-wasm\" data-encoding=\"{}\">{}</script>",
        if b.wasm_gzip { "gzip" } else { "none" },
        STANDARD.encode(b.wasm)
    );
    out.push_str("</body>\n</html>\n");
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_json_cannot_end_its_script_element() {
        let json = r#"{"policy":"</script><script>alert(1)</script><!--"}"#;
        let safe = script_safe_json(json);
        assert!(!safe.contains('<'), "{safe}");
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back["policy"], "</script><script>alert(1)</script><!--");
    }

    #[test]
    fn the_page_embeds_the_viewer_or_says_why_not() {
        let page = render(
            "T <x>",
            "r.json",
            r#"{"a":"</script>"}"#,
            "<main>static</main>",
        );
        match (bundled(), page) {
            (Ok(()), Some(page)) => {
                assert!(page.contains("<title>T &lt;x&gt;</title>"));
                assert!(page.contains(r#"{"a":"\u003c/script>"}"#));
                assert_eq!(
                    page.matches("</script>").count(),
                    page.matches("<script").count()
                );
                assert!(
                    page.contains("<noscript id=\"cpbench-static-report\">\n<main>static</main>")
                );
                assert!(page.contains(RESULTS_ID));
            }
            (Err(why), None) => assert!(why.contains("www/build.sh"), "{why}"),
            (b, p) => panic!("bundled {b:?} but page {}", p.is_some()),
        }
    }
}
