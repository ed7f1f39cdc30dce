//! `visualize --input` on other tools' result files (the real fixtures of
//! `core/tests/data/import/`): the report names the tool and what it lacks; AIPerf's aggregate
//! file takes the per-request JSONL beside it; a refused file is a usage error naming the tool.

use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sage-cp-bench"));
    c.env_remove("SAGE_CONTROL_PLANE_URL");
    c
}

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../core/tests/data/import")
        .join(path)
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cpbench-import-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs `visualize --format markdown` on `input`; the exit code, stderr and the Markdown.
fn visualize(input: &Path, out: &Path) -> (Option<i32>, String, String) {
    let o = bin()
        .args(["visualize", "--format", "markdown", "--input"])
        .arg(input)
        .arg("--output")
        .arg(out)
        .output()
        .unwrap();
    let md = std::fs::read_dir(out)
        .ok()
        .into_iter()
        .flatten()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "md"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .unwrap_or_default();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        md,
    )
}

#[test]
fn visualize_writes_reports_of_other_tools_files() {
    let dir = temp_dir("ok");
    for (input, tool, run) in [
        (
            "aiperf/profile_export_aiperf.json",
            "AIPerf 0.13.0",
            "AIPerf 0.13.0: poisson @4 req/s",
        ),
        (
            "guidellm/benchmarks.yaml",
            "GuideLLM 0.8.1",
            "GuideLLM 0.8.1: constant @4 req/s",
        ),
        (
            "vllm/vllm-summary.json",
            "vLLM bench serve",
            "vLLM bench serve: poisson @8 req/s",
        ),
    ] {
        let out = dir.join(tool.replace(' ', "-"));
        let (code, stderr, md) = visualize(&fixture(input), &out);
        assert_eq!(code, Some(0), "{input}: {stderr}");
        assert!(
            md.contains(&format!("Imported from {tool}")),
            "{input}:\n{md}"
        );
        assert!(md.contains(run), "{input}: run named {run}:\n{md}");
        assert!(md.contains("Not in this file:"), "{input}");
    }
    let md = visualize(
        &fixture("aiperf/profile_export_aiperf.json"),
        &dir.join("again"),
    )
    .2;
    assert!(
        // Markdown escapes the underscores of file names.
        md.contains(r"profile\_export\_aiperf.json with profile\_export.jsonl"),
        "the JSONL beside it is read too"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_refused_file_is_a_usage_error_naming_the_tool() {
    let dir = temp_dir("bad");
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("vllm/vllm-summary.json")).unwrap())
            .unwrap();
    doc["completed"] = "all".into();
    let bad = dir.join("bad.json");
    std::fs::write(&bad, doc.to_string()).unwrap();
    let (code, stderr, _) = visualize(&bad, &dir.join("out"));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "vLLM bench serve file is malformed: `completed` is \"all\", expected a number"
        ),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
