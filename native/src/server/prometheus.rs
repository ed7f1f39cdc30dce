//! `GET /metrics`: the cluster's metrics in the Prometheus text exposition format (0.0.4).
//!
//! Families (counters count since the server started or the last `/admin/reset`):
//! - `cpbench_requests_total{outcome}` (`received`, `completed`, `failed`, `rejected`)
//! - `cpbench_queue_depth{queue}` (`llm`, `embedding`): requests waiting in the control plane
//! - per instance, labelled `instance`, `kind` and `model` (the model loaded now):
//!   `cpbench_instance_running`, `cpbench_instance_waiting`,
//!   `cpbench_instance_kv_cache_usage_ratio` (0 to 1), and the counters
//!   `cpbench_instance_completed_total`, `cpbench_instance_output_tokens_total`,
//!   `cpbench_instance_busy_seconds_total`, `cpbench_instance_cost_usd_total`,
//!   `cpbench_instance_model_switches_total`, `cpbench_instance_preemptions_total`,
//!   `cpbench_instance_batches_total`
//! - per LLM instance, labelled the same, the prefix cache's counters (tokens are estimated
//!   tokens; the first two are vLLM's `vllm:prefix_cache_queries` and
//!   `vllm:prefix_cache_hits`, whose ratio is the hit rate):
//!   `cpbench_instance_prefix_cache_queries_total`, `cpbench_instance_prefix_cache_hits_total`,
//!   `cpbench_instance_prefix_cache_hit_blocks_total`,
//!   `cpbench_instance_prefix_cache_miss_blocks_total`,
//!   `cpbench_instance_prefix_cache_evictions_total` (blocks), and the gauge
//!   `cpbench_instance_prefix_cache_blocks` (blocks cached now)
//! - `cpbench_policy_info{policy, adaptive_mode}` 1, `cpbench_cluster_info{cluster}` 1
//! - `cpbench_uptime_seconds`, `cpbench_cost_usd_total`, `cpbench_cost_per_request_usd`
//!   (absent before the first completion), `cpbench_policy_switches_total`,
//!   `cpbench_model_switches_total`, `cpbench_preemptions_total`,
//!   `cpbench_embedding_batches_total`, `cpbench_colocated_embedding_batches_total`, and the
//!   prefix caches' totals `cpbench_prefix_cache_queries_total`,
//!   `cpbench_prefix_cache_hits_total`, `cpbench_prefix_cache_hit_blocks_total`,
//!   `cpbench_prefix_cache_miss_blocks_total`, `cpbench_prefix_cache_evictions_total`

use crate::telemetry::prometheus::{escape_help, escape_label_value};
use cpbench_core::cluster::{ClusterMetrics, InstanceMetrics, PrefixCacheMetrics};
use std::fmt::Write as _;

/// The `Content-Type` of the exposition.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

struct Out(String);

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{k}=\"{}\"", escape_label_value(v));
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {}", go_float(value));
    }

    fn single(&mut self, name: &str, kind: &str, help: &str, value: f64) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }
}

/// A float as Prometheus writes it (`NaN`, `+Inf`, `-Inf`, else Rust's shortest form).
fn go_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        v.to_string()
    }
}

type InstanceField = fn(&InstanceMetrics) -> f64;

/// Per-instance families: name, type, help, value.
const INSTANCE_FAMILIES: [(&str, &str, &str, InstanceField); 10] = [
    (
        "cpbench_instance_running",
        "gauge",
        "Sequences in the instance's running batch (embedding servers: requests in the batch in flight).",
        |i| i.running as f64,
    ),
    (
        "cpbench_instance_waiting",
        "gauge",
        "Requests waiting at the instance.",
        |i| i.waiting as f64,
    ),
    (
        "cpbench_instance_kv_cache_usage_ratio",
        "gauge",
        "Fraction of the instance's KV cache in use, 0 to 1 (0 for embedding servers).",
        |i| i.kv_cache_usage,
    ),
    (
        "cpbench_instance_completed_total",
        "counter",
        "Requests the instance completed.",
        |i| i.completed as f64,
    ),
    (
        "cpbench_instance_output_tokens_total",
        "counter",
        "Output tokens the instance generated.",
        |i| i.output_tokens as f64,
    ),
    (
        "cpbench_instance_busy_seconds_total",
        "counter",
        "Seconds the instance spent working (steps, batches, model switches).",
        |i| i.busy_s,
    ),
    (
        "cpbench_instance_cost_usd_total",
        "counter",
        "Busy time times the instance's price, US dollars.",
        |i| i.cost_usd,
    ),
    (
        "cpbench_instance_model_switches_total",
        "counter",
        "Model loads on the instance.",
        |i| i.model_switches as f64,
    ),
    (
        "cpbench_instance_preemptions_total",
        "counter",
        "Sequences preempted for lack of KV cache.",
        |i| i.preemptions as f64,
    ),
    (
        "cpbench_instance_batches_total",
        "counter",
        "Embedding batches the instance ran.",
        |i| i.batches as f64,
    ),
];

type PrefixField = fn(&PrefixCacheMetrics) -> f64;

/// Prefix-cache families, per LLM instance (`cpbench_instance_` + name) and in total
/// (`cpbench_` + name): name, type, help, value.
const PREFIX_FAMILIES: [(&str, &str, &str, PrefixField); 6] = [
    (
        "prefix_cache_queries_total",
        "counter",
        "Prompt tokens looked up in the prefix cache, each request once (vLLM's vllm:prefix_cache_queries).",
        |p| p.queried_tokens as f64,
    ),
    (
        "prefix_cache_hits_total",
        "counter",
        "Prompt tokens found in the prefix cache, not prefilled (vLLM's vllm:prefix_cache_hits).",
        |p| p.hit_tokens as f64,
    ),
    (
        "prefix_cache_hit_blocks_total",
        "counter",
        "Full prompt blocks (16 tokens) found in the prefix cache.",
        |p| p.hit_blocks as f64,
    ),
    (
        "prefix_cache_miss_blocks_total",
        "counter",
        "Full prompt blocks (16 tokens) not found in the prefix cache.",
        |p| p.miss_blocks as f64,
    ),
    (
        "prefix_cache_evictions_total",
        "counter",
        "Cached blocks evicted to make room for running sequences.",
        |p| p.evicted_blocks as f64,
    ),
    (
        "prefix_cache_blocks",
        "gauge",
        "Blocks in the prefix cache now, in use or free.",
        |p| p.cached_blocks as f64,
    ),
];

/// The exposition of a metrics snapshot.
pub(crate) fn render(m: &ClusterMetrics) -> String {
    let mut o = Out(String::with_capacity(4096));
    o.family(
        "cpbench_requests_total",
        "counter",
        "Requests by outcome: received, then completed, failed (abandoned by the client) or rejected.",
    );
    for (outcome, n) in [
        ("received", m.requests.received),
        ("completed", m.requests.completed),
        ("failed", m.requests.failed),
        ("rejected", m.requests.rejected),
    ] {
        o.sample("cpbench_requests_total", &[("outcome", outcome)], n as f64);
    }
    o.family(
        "cpbench_queue_depth",
        "gauge",
        "Requests waiting in the control plane's queue for dispatch.",
    );
    o.sample(
        "cpbench_queue_depth",
        &[("queue", "llm")],
        m.queues.llm as f64,
    );
    o.sample(
        "cpbench_queue_depth",
        &[("queue", "embedding")],
        m.queues.embedding as f64,
    );
    for (name, kind, help, field) in INSTANCE_FAMILIES {
        o.family(name, kind, help);
        for i in &m.instances {
            let labels = [
                ("instance", i.id.as_str()),
                ("kind", i.kind.as_str()),
                ("model", i.model.as_str()),
            ];
            o.sample(name, &labels, field(i));
        }
    }
    for (name, kind, help, field) in PREFIX_FAMILIES {
        let name = format!("cpbench_instance_{name}");
        o.family(&name, kind, help);
        for i in &m.instances {
            if let Some(p) = &i.prefix_cache {
                let labels = [
                    ("instance", i.id.as_str()),
                    ("kind", i.kind.as_str()),
                    ("model", i.model.as_str()),
                ];
                o.sample(&name, &labels, field(p));
            }
        }
    }
    o.family(
        "cpbench_policy_info",
        "gauge",
        "The scheduling policy in force (adaptive_mode: the mode adaptive runs now, else empty).",
    );
    o.sample(
        "cpbench_policy_info",
        &[
            ("adaptive_mode", m.adaptive_mode.as_deref().unwrap_or("")),
            ("policy", m.policy.as_str()),
        ],
        1.0,
    );
    o.family("cpbench_cluster_info", "gauge", "The simulated cluster.");
    o.sample(
        "cpbench_cluster_info",
        &[("cluster", m.cluster.as_str())],
        1.0,
    );
    o.single(
        "cpbench_uptime_seconds",
        "gauge",
        "Seconds since the control plane started.",
        m.uptime_s,
    );
    o.single(
        "cpbench_cost_usd_total",
        "counter",
        "Busy time of every instance times its price, US dollars.",
        m.cost_usd,
    );
    if let Some(c) = m.cost_per_request_usd {
        o.single(
            "cpbench_cost_per_request_usd",
            "gauge",
            "cpbench_cost_usd_total per completed request.",
            c,
        );
    }
    for (name, help, v) in [
        (
            "cpbench_policy_switches_total",
            "Mode switches made by the adaptive policy.",
            m.policy_switches,
        ),
        (
            "cpbench_model_switches_total",
            "Model loads across the pool.",
            m.model_switches,
        ),
        (
            "cpbench_preemptions_total",
            "Preemptions across LLM instances.",
            m.preemptions,
        ),
        (
            "cpbench_embedding_batches_total",
            "Embedding batches run, everywhere.",
            m.embedding_batches,
        ),
        (
            "cpbench_colocated_embedding_batches_total",
            "Embedding batches run on LLM instances.",
            m.colocated_embedding_batches,
        ),
    ] {
        o.single(name, "counter", help, v as f64);
    }
    // The cluster's totals of the prefix-cache counters (the gauge is per instance only).
    for (name, kind, help, field) in PREFIX_FAMILIES {
        if kind == "counter" {
            o.single(
                &format!("cpbench_{name}"),
                kind,
                help,
                field(&m.prefix_cache),
            );
        }
    }
    o.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::prometheus::{MetricType, parse};
    use cpbench_core::cluster::{QueueDepths, RequestCounts};

    fn instance(id: &str, kind: &str, model: &str, running: u64, kv: f64) -> InstanceMetrics {
        InstanceMetrics {
            id: id.into(),
            model: model.into(),
            kind: kind.into(),
            gpu: "A100".into(),
            running,
            waiting: 1,
            kv_cache_usage: kv,
            completed: 10,
            output_tokens: 640,
            busy_s: 1.5,
            cost_usd: 0.0015,
            model_switches: 0,
            preemptions: 2,
            batches: 0,
            prefix_cache: (kind == "llm").then_some(PrefixCacheMetrics {
                queried_tokens: 4096,
                hit_tokens: 1024,
                miss_tokens: 3072,
                hit_blocks: 64,
                miss_blocks: 190,
                evicted_blocks: 7,
                cached_blocks: 300,
                hit_rate: Some(0.25),
            }),
        }
    }

    fn metrics() -> ClusterMetrics {
        ClusterMetrics {
            policy: "adaptive".into(),
            uptime_s: 12.5,
            requests: RequestCounts {
                received: 30,
                completed: 20,
                failed: 1,
                rejected: 2,
            },
            queues: QueueDepths {
                llm: 5,
                embedding: 0,
            },
            instances: vec![
                instance("llm-0", "llm", "Qwen/Qwen2.5-7B-Instruct", 8, 0.625),
                instance("emb-0", "embedding", "a \"quoted\" \\ model", 0, 0.0),
            ],
            adaptive_mode: Some("slo_aware".into()),
            policy_switches: 3,
            cost_usd: 0.003,
            cost_per_request_usd: None,
            model_switches: 0,
            preemptions: 2,
            embedding_batches: 4,
            colocated_embedding_batches: 1,
            cluster: "default".into(),
            prefix_cache: PrefixCacheMetrics {
                queried_tokens: 4096,
                hit_tokens: 1024,
                ..PrefixCacheMetrics::default()
            },
        }
    }

    #[test]
    fn renders_what_the_parser_reads_back() {
        let text = render(&metrics());
        let e = parse(&text);
        assert_eq!(e.errors, vec![], "{text}");
        let v = |name: &str, labels: &[(&str, &str)]| {
            e.find(name, labels)
                .unwrap_or_else(|| panic!("{name} {labels:?} missing:\n{text}"))
                .value
        };
        assert_eq!(
            v("cpbench_requests_total", &[("outcome", "received")]),
            30.0
        );
        assert_eq!(v("cpbench_requests_total", &[("outcome", "rejected")]), 2.0);
        assert_eq!(v("cpbench_queue_depth", &[("queue", "llm")]), 5.0);
        assert_eq!(
            v(
                "cpbench_instance_running",
                &[
                    ("instance", "llm-0"),
                    ("model", "Qwen/Qwen2.5-7B-Instruct"),
                    ("kind", "llm")
                ]
            ),
            8.0
        );
        assert_eq!(
            v(
                "cpbench_instance_kv_cache_usage_ratio",
                &[("instance", "llm-0")]
            ),
            0.625
        );
        assert_eq!(
            v(
                "cpbench_instance_running",
                &[("model", "a \"quoted\" \\ model")]
            ),
            0.0
        );
        assert_eq!(
            v(
                "cpbench_policy_info",
                &[("policy", "adaptive"), ("adaptive_mode", "slo_aware")]
            ),
            1.0
        );
        assert_eq!(v("cpbench_uptime_seconds", &[]), 12.5);
        assert_eq!(v("cpbench_policy_switches_total", &[]), 3.0);
        assert!(e.find("cpbench_cost_per_request_usd", &[]).is_none());
        assert_eq!(e.type_of("cpbench_requests_total"), MetricType::Counter);
        assert_eq!(e.type_of("cpbench_instance_running"), MetricType::Gauge);
        assert_eq!(e.types.len(), e.help.len());
        // Every sample belongs to a declared family.
        assert!(e.samples.iter().all(|s| e.types.contains_key(&s.name)));
        assert_eq!(
            v(
                "cpbench_instance_prefix_cache_hits_total",
                &[("instance", "llm-0")]
            ),
            1024.0
        );
        assert_eq!(
            v(
                "cpbench_instance_prefix_cache_queries_total",
                &[("instance", "llm-0")]
            ),
            4096.0
        );
        assert!(
            e.find(
                "cpbench_instance_prefix_cache_hits_total",
                &[("instance", "emb-0")]
            )
            .is_none(),
            "embedding servers have no prefix cache"
        );
        assert_eq!(v("cpbench_prefix_cache_hits_total", &[]), 1024.0);
        assert_eq!(
            e.type_of("cpbench_instance_prefix_cache_blocks"),
            MetricType::Gauge
        );
        // 4 + 2 + 10 * 2 + 6 (prefix families, the LLM instance only) + 1 + 1 + 1 + 1 + 5 + 5
        assert_eq!(e.samples.len(), 46);
    }

    #[test]
    fn special_floats() {
        assert_eq!(go_float(f64::NAN), "NaN");
        assert_eq!(go_float(f64::INFINITY), "+Inf");
        assert_eq!(go_float(f64::NEG_INFINITY), "-Inf");
        assert_eq!(go_float(0.1), "0.1");
        assert_eq!(go_float(3.0), "3");
    }
}
