//! Valid inputs of each parser: the bases that the structure-aware generators mutate, and the
//! seeds of the fuzz targets' corpora.

use cpbench_core::cluster::ClusterSpec;
use cpbench_core::cluster::presets::PRESET_NAMES;
use cpbench_core::config::{BenchmarkConfig, Mode, example_yaml};
use cpbench_core::record::{Outcome, RequestRecord, TokenSource};
use cpbench_core::report::{PolicyRun, PolicySwitch, Report, ReportKind, RunParams};
use cpbench_core::request::{Priority, RequestKind};
use cpbench_core::slo::SloTargets;

/// SSE streams as servers send them.
pub fn sse_streams() -> Vec<Vec<u8>> {
    [
        &b"data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\ndata: [DONE]\n\n"[..],
        b": keep-alive\n\nevent: message\nid: 7\nretry: 100\ndata: line1\ndata: line2\n\n",
        b"\xEF\xBB\xBFdata: x\r\n\r\ndata: y\r\rdata:z\n\n",
        b"data\n\ndata:\n\n:comment\ndata: {\"a\"\ndata: :1}\n\ndata: partial",
        b"data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n\
data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" world\"},\"finish_reason\":null}]}\n\n\
data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2}}\n\n\
data: [DONE]\n\n",
    ]
    .iter()
    .map(|s| s.to_vec())
    .collect()
}

/// OpenAI and vLLM stream chunks, one per line.
pub fn chunk_lines() -> Vec<Vec<u8>> {
    let content = |s: &str| {
        format!(
            r#"{{"id":"c","object":"chat.completion.chunk","choices":[{{"index":0,"delta":{{"content":"{s}"}},"finish_reason":null}}]}}"#
        )
    };
    let text = |s: &str| {
        format!(
            r#"{{"id":"c","object":"text_completion","choices":[{{"index":0,"text":"{s}","logprobs":null,"finish_reason":null}}]}}"#
        )
    };
    let lines = [
        [content("Hi"), content(" there"), content("\\\"q"), content("")].join("\n"),
        [text("a"), text("b c"), text("\\u00e9")].join("\n"),
        [
            content("x"),
            r#"{"id":"c","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}}"#.to_string(),
            "[DONE]".to_string(),
        ]
        .join("\n"),
        [
            content("x"),
            r#"{"choices":[{"delta":{"content":"a"},"finish_reason":"abort"}]}"#.to_string(),
            r#"{"error":{"message":"boom","type":"server_error","code":500}}"#.to_string(),
        ]
        .join("\n"),
        [
            r#"{"x":{"usage":{}},"choices":[{"delta":{"content":"a"}}]}"#.to_string(),
            "{\"x\":{\"usage\":{}},\"choices\":[{\"delta\":{\"content\":\"\u{1}\"}}]}".to_string(),
            r#"{"choices":[{"delta":{"content":""},"logprobs":{"content":[{"token":"a"}]}}]}"#
                .to_string(),
        ]
        .join("\n"),
    ];
    lines.into_iter().map(String::into_bytes).collect()
}

/// Benchmark configs in YAML and JSON.
pub fn configs() -> Vec<String> {
    let mut out = vec![
        example_yaml(Mode::Llm),
        example_yaml(Mode::Hybrid),
        BenchmarkConfig::default().to_json_pretty(),
        BenchmarkConfig::for_mode(Mode::Hybrid).to_yaml(),
        String::new(),
    ];
    out.extend(
        [
            "mode: hybrid\nllm_ratio: 0.25\npolicies: [fifo, hybrid_slo]\nembedding_batch_sizes: [1, 4]\n",
            "arrival: {pattern: gamma, burstiness: 0.5}\nrequest_rate: 20\nnum_requests: 50\nwarmup_requests: 0\n",
            "arrival: {pattern: burst, on_s: 1.5, off_s: 0.5}\nmax_concurrency: 8\ntimeout_seconds: 30\n",
            "arrival:\n  pattern: trace\n  timestamps_ms: [0, 10.5, 20, 1e3]\nnum_requests: 4\nwarmup_requests: 1\n",
            "arrival: {pattern: trace}\ntrace: {path: t.jsonl}\n",
            "dataset: {path: prompts.json}\nprompt_length: {dist: empirical}\noutput_length: {dist: empirical}\n",
            "prompt_length: {dist: normal, mean: 100, std: 20, min: 1, max: 400}\noutput_length: {dist: fixed, value: 16}\n",
            "slo:\n  llm_definition: per_token\n  ttft_ms: {HIGH: 200, NORMAL: 400, LOW: 800}\n  tpot_ms: {HIGH: 20, NORMAL: 40, LOW: 80}\n",
            "slo:\n  llm_deadline_ms: {HIGH: 500, NORMAL: 1000, LOW: 2000}\n",
            "control_plane_url: http://127.0.0.1:8080\npriority_distribution: {HIGH: 1}\nmodel_distribution: {m: 2}\n",
            "{\"mode\": \"llm\", \"seed\": 7, \"completions_ratio\": 0.5, \"stream\": false}",
        ]
        .map(String::from),
    );
    out
}

/// Cluster specs: the presets, written as YAML.
pub fn clusters() -> Vec<String> {
    PRESET_NAMES
        .iter()
        .map(|n| ClusterSpec::preset(n).expect("a preset").to_yaml())
        .collect()
}

/// ShareGPT and JSONL datasets.
pub fn datasets() -> Vec<Vec<u8>> {
    vec![
        include_bytes!("../data/sharegpt_small.json").to_vec(),
        br#"[{"conversations":[{"from":"human","value":"hi"},{"from":"gpt","value":"hello there"}]},{"conversations":[]}]"#.to_vec(),
        b"{\"prompt\": \"What is a queue?\", \"output_tokens\": 12}\n\n{\"text\": \"plain\"}\r\n{\"prompt\": \"x\", \"max_tokens\": 3}\n".to_vec(),
    ]
}

/// Replay traces.
pub fn traces() -> Vec<Vec<u8>> {
    vec![
        include_bytes!("../data/trace_small.jsonl").to_vec(),
        b"{\"offset_ms\": 0}\n{\"offset_ms\": -5.5, \"kind\": \"llm_generate\", \"priority\": \"normal\"}\n".to_vec(),
    ]
}

/// A small report of `kind` with two runs (failures, token sources, queue times).
pub fn report(kind: ReportKind) -> Report {
    let mut report = Report::new(
        kind,
        "2026-01-02T03:04:05Z",
        serde_json::to_value(BenchmarkConfig::default()).expect("a config serializes"),
        42,
        "sha256:abc",
        6,
    );
    for policy in ["fifo", "priority"] {
        let records = (0..6u64)
            .map(|id| {
                let ok = id != 3;
                RequestRecord {
                    sent_us: id * 100_000 + 150,
                    first_token_us: ok.then_some(id * 100_000 + 40_000),
                    end_us: id * 100_000 + 250_000,
                    itl_us: if ok { vec![9_000; 2] } else { vec![] },
                    outcome: if ok {
                        Outcome::Success
                    } else {
                        Outcome::Http {
                            status: 503,
                            message: "overloaded".into(),
                        }
                    },
                    output_tokens: if ok { 3 } else { 0 },
                    output_tokens_source: if ok {
                        TokenSource::Usage
                    } else {
                        TokenSource::None
                    },
                    chunks: if ok { 3 } else { 0 },
                    queue_time_ms: ok.then_some(1.5),
                    ..RequestRecord::new(
                        id,
                        RequestKind::LlmChat,
                        Priority::ALL[(id % 3) as usize],
                        "qwen",
                        1000,
                        20,
                        id * 100_000,
                    )
                }
            })
            .collect();
        let mut run = PolicyRun::from_records(
            policy,
            PolicySwitch::Verified,
            RunParams {
                request_rate_rps: Some(10.0),
                llm_ratio: None,
                label: None,
                trial: None,
            },
            records,
            &SloTargets::default(),
            true,
        );
        run.notes.push("timer resolution 1 us".into());
        report.runs.push(run);
    }
    report
        .warnings
        .push("sent late: raise --max-concurrency".into());
    report
}

/// Result files: a current one (compact and pretty) and its version 1 form (notes as
/// `note: ` warnings, no SLO definition).
pub fn reports() -> Vec<String> {
    let current = report(ReportKind::Compare);
    let mut v1 = serde_json::to_value(&current).expect("a report serializes");
    v1["schema_version"] = 1.into();
    if let Some(slo) = v1["config"]["slo"].as_object_mut() {
        slo.remove("llm_definition");
    }
    for run in v1["runs"].as_array_mut().into_iter().flatten() {
        let notes = run["notes"].take();
        let run = run.as_object_mut().expect("a run is an object");
        run.remove("notes");
        if let (Some(w), Some(notes)) = (
            run.get_mut("warnings").and_then(|w| w.as_array_mut()),
            notes.as_array(),
        ) {
            w.extend(
                notes
                    .iter()
                    .filter_map(|n| n.as_str())
                    .map(|n| serde_json::Value::from(format!("note: {n}"))),
            );
        }
    }
    vec![
        current.to_json(),
        report(ReportKind::Simulation).to_json_pretty(),
        serde_json::to_string(&v1).expect("a document serializes"),
    ]
}
