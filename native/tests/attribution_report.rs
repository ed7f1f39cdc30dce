//! The "Why a policy wins" views in the HTML and Markdown reports, on the browser tests'
//! `cache.json` (shared prefixes through the reference cluster in virtual time, `fifo` against
//! `cache_aware`): a golden Markdown snapshot of the section, and the HTML page's tables and
//! per-instance charts.

use cpbench_core::report::Report;
use sage_cp_bench::export::visualize::Visuals;
use std::path::{Path, PathBuf};

fn cache_report() -> Report {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/browser/fixtures/cache.json");
    let text = std::fs::read_to_string(&path).expect("the browser fixtures are committed");
    Report::from_json(&text).expect("the fixture reads")
}

/// The Markdown from the section's heading to the next section's.
fn section(md: &str, heading: &str) -> String {
    let start = md.find(heading).expect("the section is there");
    let rest = &md[start..];
    let end = rest[heading.len()..]
        .find("\n## ")
        .map_or(rest.len(), |i| i + heading.len() + 1);
    rest[..end].to_owned()
}

#[test]
fn markdown_attribution_section_is_stable() {
    let md = Visuals::of(&cache_report(), Path::new(".")).markdown();
    let s = section(&md, "## Why a policy wins");
    assert!(
        s.contains("| cache\\_aware | control plane | 870858 | 769120 | 88.3% |"),
        "{s}"
    );
    insta::assert_snapshot!("attribution_section", s);
}

#[test]
fn html_report_shows_the_attribution_tables_and_charts() {
    let v = Visuals::of(&cache_report(), Path::new("."));
    let ids: Vec<&str> = v.charts.charts.iter().map(|c| c.spec.id.as_str()).collect();
    for id in [
        "instance-requests",
        "instance-tokens",
        "instance-running",
        "instance-waiting",
        "instance-kv-cache",
        "ttft-split",
    ] {
        assert!(ids.contains(&id), "{id} in {ids:?}");
    }
    let html = v.html().unwrap();
    for text in [
        "Why a policy wins",
        "Load imbalance",
        "Prefix-cache hit rate",
        "88.3%",
        "60.1%",
        "Longest wait per priority class",
        "TTFT: control-plane queue vs the rest",
    ] {
        assert!(html.contains(text), "{text} in the HTML");
    }
}
