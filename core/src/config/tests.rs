use super::*;

fn problems(yaml: &str) -> ConfigErrors {
    BenchmarkConfig::from_yaml(yaml)
        .expect("parses")
        .validate()
        .expect_err("invalid")
}

#[test]
fn empty_documents_are_the_default() {
    let d = BenchmarkConfig::default();
    assert_eq!(BenchmarkConfig::from_yaml("").unwrap(), d);
    assert_eq!(BenchmarkConfig::from_yaml("# nothing\n").unwrap(), d);
    assert_eq!(BenchmarkConfig::from_json("{}").unwrap(), d);
    assert_eq!(BenchmarkConfig::from_text("{}", None).unwrap(), d);
    d.validate().unwrap();
    d.validate_for_reference().unwrap();
}

#[test]
fn negative_rate_is_named() {
    let e = problems("request_rate: -5");
    assert_eq!(
        e.problems,
        [ConfigProblem::new(
            "request_rate",
            "-5",
            "a finite number > 0 (requests per second)"
        )]
    );
    assert_eq!(
        e.to_string(),
        "request_rate: got -5, expected a finite number > 0 (requests per second)"
    );
    assert!(problems("request_rate: 0").has_field("request_rate"));
    assert!(problems("request_rate: .nan").has_field("request_rate"));
    assert!(problems("request_rate: .inf").has_field("request_rate"));
}

#[test]
fn hybrid_ratios_must_sum_to_one() {
    let e = problems("mode: hybrid\nllm_ratio: 0.7\nembedding_ratio: 0.2");
    assert!(e.has_field("llm_ratio + embedding_ratio"), "{e}");
    assert!(e.to_string().contains("0.7 + 0.2"), "{e}");
    // 0.1 + 0.2 is not exactly 0.3 in binary, but within the tolerance of 1.
    BenchmarkConfig::from_yaml("mode: hybrid\nllm_ratio: 0.7\nembedding_ratio: 0.3")
        .unwrap()
        .validate()
        .unwrap();
}

#[test]
fn hybrid_ratio_defaults_resolve() {
    let c = BenchmarkConfig::from_yaml("mode: hybrid").unwrap();
    assert_eq!((c.llm_ratio, c.embedding_ratio), (0.5, 0.5));
    assert_eq!(c, BenchmarkConfig::for_mode(Mode::Hybrid));
    let c = BenchmarkConfig::from_yaml("mode: hybrid\nllm_ratio: 0.75").unwrap();
    assert_eq!((c.llm_ratio, c.embedding_ratio), (0.75, 0.25));
    let c = BenchmarkConfig::from_json(r#"{"mode": "hybrid", "embedding_ratio": 0.25}"#).unwrap();
    assert_eq!((c.llm_ratio, c.embedding_ratio), (0.75, 0.25));
    c.validate().unwrap();
    assert_eq!(c.kinds(), [RequestKind::LlmChat, RequestKind::Embedding]);
}

#[test]
fn embeddings_in_llm_mode_name_both() {
    let e = problems("embedding_ratio: 0.3\nllm_ratio: 0.7");
    assert_eq!(e.problems.len(), 1, "{e}");
    let p = &e.problems[0];
    assert_eq!(p.field, "embedding_ratio");
    assert!(
        p.expected.contains("llm mode") && p.expected.contains("hybrid"),
        "{p}"
    );
    assert!(problems("llm_ratio: 0.5").has_field("llm_ratio"));
}

#[test]
fn policy_names_are_checked() {
    let e = problems("policies: [fifo, '', fifo]");
    assert!(e.has_field("policies[1]"), "{e}");
    assert!(e.has_field("policies[2]"), "{e}");
    assert!(problems("policies: []").has_field("policies"));
    let c = BenchmarkConfig::from_yaml("policies: [fifo, my_policy]").unwrap();
    c.validate().unwrap();
    let e = c.validate_for_reference().unwrap_err();
    assert_eq!(e.problems.len(), 1);
    assert_eq!(e.problems[0].field, "policies[1]");
    assert!(e.problems[0].expected.contains("hybrid_slo"), "{e}");
}

#[test]
fn unknown_keys_are_errors_with_a_position() {
    let e = BenchmarkConfig::from_yaml("num_requests: 5\nrequest_rat: 5\n").unwrap_err();
    assert!(e.message.contains("request_rat"), "{e}");
    assert_eq!(e.line, Some(2));
    let e = BenchmarkConfig::from_json("{\n \"seeds\": 1}").unwrap_err();
    assert_eq!(e.format, ConfigFormat::Json);
    assert!(e.message.contains("seeds"), "{e}");
    assert_eq!(e.line, Some(2));
    let e = BenchmarkConfig::from_yaml("arrival:\n  pattern: gamma\n  burstines: 1\n").unwrap_err();
    assert!(
        e.message.contains("burstines") && e.message.contains("arrival"),
        "{e}"
    );
    let e = BenchmarkConfig::from_yaml("arrival: {pattern: poisson, burstiness: 1}").unwrap_err();
    assert!(
        e.message.contains("burstiness") && e.message.contains("poisson"),
        "{e}"
    );
    let e =
        BenchmarkConfig::from_yaml("output_length: {dist: fixed, value: 4, min: 1}").unwrap_err();
    assert!(
        e.message.contains("output_length") && e.message.contains("min"),
        "{e}"
    );
    let e = BenchmarkConfig::from_yaml("priority_distribution: {URGENT: 1}").unwrap_err();
    assert!(e.message.contains("URGENT"), "{e}");
    let e = BenchmarkConfig::from_yaml("num_requests: many").unwrap_err();
    assert!(e.message.contains("num_requests"), "{e}");
    assert_eq!((e.line, e.column), (Some(1), Some(15)));
}

#[test]
fn min_above_max_is_named() {
    let e = problems("prompt_length: {dist: uniform, min: 100, max: 10}");
    assert_eq!(e.problems.len(), 1, "{e}");
    assert_eq!(e.problems[0].field, "prompt_length.min");
    assert!(
        problems("output_length: {dist: normal, mean: 5, stddev: -1, min: 1, max: 9}")
            .has_field("output_length.stddev")
    );
    assert!(
        problems("output_length: {dist: lognormal, mean: 5, sigma: -1, min: 1, max: 9}")
            .has_field("output_length.sigma")
    );
}

#[test]
fn warmup_must_be_fewer_than_requests() {
    let e = problems("num_requests: 10\nwarmup_requests: 10");
    assert_eq!(e.problems.len(), 1, "{e}");
    assert_eq!(e.problems[0].field, "warmup_requests");
    assert_eq!(e.problems[0].expected, "fewer than num_requests (10)");
    let e = problems("num_requests: 0\nwarmup_requests: 0");
    assert_eq!(e.problems.len(), 1, "{e}");
    assert!(e.has_field("num_requests"));
}

#[test]
fn batch_sizes_are_checked() {
    let e = problems("embedding_batch_sizes: []");
    assert!(e.has_field("embedding_batch_sizes"), "{e}");
    let e = problems("embedding_batch_sizes: [1, 0]");
    assert!(e.has_field("embedding_batch_sizes[1]"), "{e}");
}

#[test]
fn every_problem_is_reported_at_once() {
    let e = problems(
        "request_rate: -1\ntimeout_s: 0\nnum_requests: 5\nwarmup_requests: 9\n\
         arrival: {pattern: gamma, burstiness: 0}\nmodel_distribution: {'': 1, m: -1}\n\
         priority_distribution: {HIGH: 0, LOW: 0}\nembedding_model: ''\n\
         control_plane_url: localhost:8080\nmax_concurrency: 0\n\
         slo: {tpot_ms: -1, llm_deadline_ms: {HIGH: 0, NORMAL: 1, LOW: 1}}\n\
         completions_ratio: 2\n",
    );
    for field in [
        "request_rate",
        "timeout_s",
        "warmup_requests",
        "arrival.burstiness",
        "model_distribution[\"\"]",
        "model_distribution[\"m\"]",
        "priority_distribution",
        "embedding_model",
        "control_plane_url",
        "max_concurrency",
        "slo.tpot_ms.HIGH",
        "slo.llm_deadline_ms.HIGH",
        "completions_ratio",
    ] {
        assert!(e.has_field(field), "{field} missing from:\n{e}");
    }
    assert_eq!(e.to_string().lines().count(), e.problems.len());
}

#[test]
fn dataset_and_trace_rules() {
    assert!(problems("prompt_length: {dist: empirical}").has_field("prompt_length"));
    assert!(problems("dataset: {path: d.json}").has_field("prompt_length"));
    assert!(
        problems("dataset: {path: d.txt}\nprompt_length: {dist: empirical}")
            .has_field("dataset.format")
    );
    let c = BenchmarkConfig::from_yaml(
        "dataset: {path: d.json}\nprompt_length: {dist: empirical}\noutput_length: {dist: empirical}",
    )
    .unwrap();
    c.validate().unwrap();
    assert_eq!(
        c.dataset.as_ref().unwrap().resolved_format(),
        Some(DatasetFormat::Sharegpt)
    );
    assert!(problems("arrival: {pattern: trace}").has_field("arrival.timestamps_ms"));
    assert!(problems("trace: {path: t.jsonl}").has_field("trace"));
    assert!(
        problems(
            "num_requests: 3\nwarmup_requests: 0\narrival: {pattern: trace, timestamps_ms: [1, 2]}"
        )
        .has_field("arrival.timestamps_ms")
    );
    BenchmarkConfig::from_yaml("arrival: {pattern: trace}\ntrace: {path: t.jsonl}")
        .unwrap()
        .validate()
        .unwrap();
}

#[test]
fn round_trips_through_yaml_and_json() {
    let mut c = BenchmarkConfig::for_mode(Mode::Hybrid);
    c.arrival = ArrivalConfig::Burst {
        on_s: 0.5,
        off_s: 1.5,
    };
    c.control_plane_url = Some("http://127.0.0.1:8080".into());
    c.max_concurrency = Some(64);
    c.slo.tpot_ms = Some(crate::request::PerPriority {
        high: 50.0,
        normal: 60.5,
        low: 70.0,
    });
    c.output_length = LengthDist::Normal {
        mean: 100.5,
        stddev: 0.1,
        min: 1,
        max: 300,
    };
    c.prompt_length = LengthDist::Empirical;
    c.dataset = Some(DatasetRef {
        path: "x.jsonl".into(),
        format: Some(DatasetFormat::Jsonl),
    });
    c.validate().unwrap();
    for d in [BenchmarkConfig::default(), c] {
        assert_eq!(BenchmarkConfig::from_yaml(&d.to_yaml()).unwrap(), d);
        assert_eq!(BenchmarkConfig::from_json(&d.to_json_pretty()).unwrap(), d);
        assert_eq!(
            BenchmarkConfig::from_text(&d.to_json_pretty(), Some("yaml")).unwrap(),
            d
        );
    }
}

#[test]
fn aliases_of_the_original_are_accepted() {
    let c = BenchmarkConfig::from_yaml("timeout_seconds: 5\narrival: {pattern: uniform}").unwrap();
    assert_eq!(c.timeout_s, 5.0);
    assert_eq!(c.arrival, ArrivalConfig::Constant);
}

#[test]
fn examples_parse_and_validate() {
    let llm = BenchmarkConfig::from_yaml(&example_yaml(Mode::Llm)).unwrap();
    assert_eq!(llm, BenchmarkConfig::default());
    let hybrid = BenchmarkConfig::from_yaml(&example_yaml(Mode::Hybrid)).unwrap();
    hybrid.validate_for_reference().unwrap();
    let mut expected = BenchmarkConfig::for_mode(Mode::Hybrid);
    expected.set_llm_ratio(0.7);
    expected.embedding_ratio = 0.3;
    expected.policies = vec!["fifo".into(), "hybrid".into(), "hybrid_slo".into()];
    assert_eq!(hybrid, expected);
}

#[test]
fn format_hints() {
    assert_eq!(
        ConfigFormat::from_extension(".YML"),
        Some(ConfigFormat::Yaml)
    );
    assert_eq!(
        ConfigFormat::from_extension("json"),
        Some(ConfigFormat::Json)
    );
    assert_eq!(ConfigFormat::from_extension("toml"), None);
    assert_eq!(ConfigFormat::sniff("  {\"a\": 1}"), ConfigFormat::Json);
    let e = BenchmarkConfig::from_text("seed: 1", Some("json")).unwrap_err();
    assert_eq!(e.format, ConfigFormat::Json);
    assert_eq!(Mode::parse("Hybrid"), Some(Mode::Hybrid));
    assert_eq!(Mode::parse("both"), None);
}

#[test]
fn the_examples_reuse_lines_parse_and_validate_uncommented() {
    let text = example_yaml(Mode::Llm)
        .lines()
        .map(|l| {
            l.strip_prefix("# shared_prefixes:")
                .map(|r| format!("shared_prefixes:{r}"))
                .or_else(|| {
                    l.strip_prefix("# sessions:")
                        .map(|r| format!("sessions:{r}"))
                })
                .unwrap_or_else(|| l.to_string())
        })
        .collect::<Vec<_>>()
        .join("\n");
    let c = BenchmarkConfig::load(&text, None).unwrap();
    assert_eq!(c.shared_prefixes.unwrap().groups, 32);
    assert_eq!(c.sessions.unwrap().answer_ms_per_token, 20.0);
}
