//! The result file a single-file HTML report carries (written by `sage-cp-bench visualize` and
//! beside each run): a `<script type="application/json" id="cpbench-embedded-results">`
//! element, loaded at start as if the user had opened the file. Its text is untrusted: it goes
//! through the same reader as any opened file, so a malformed one is listed as an error.

/// The id of the element that holds the embedded result file (the native report writer uses
/// the same id).
const ELEMENT_ID: &str = "cpbench-embedded-results";

/// The name shown for the embedded file when the element has no `data-name`.
const DEFAULT_NAME: &str = "embedded report";

/// The embedded file's name (its `data-name`) and text, when the page has one.
pub(crate) fn result_file() -> Option<(String, String)> {
    let el = web_sys::window()?
        .document()?
        .get_element_by_id(ELEMENT_ID)?;
    let name = el
        .get_attribute("data-name")
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_NAME.to_owned());
    Some((name, el.text_content().unwrap_or_default()))
}

/// Whether the page is a single-file report (it has the element, readable or not).
pub(crate) fn is_single_file() -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id(ELEMENT_ID))
        .is_some()
}
