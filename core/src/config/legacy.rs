//! The original tool's configuration keys, accepted so its config files run unchanged: each
//! is rewritten into this tool's key before the text is read.
//!
//! | original key | becomes |
//! |---|---|
//! | `arrival_pattern: poisson` | `arrival: {pattern: poisson}` |
//! | `timeout_seconds` | `timeout_s` (a serde alias) |
//! | `embedding_batch_size: 32` | `embedding_batch_sizes: [32]` |
//! | `llm_slo_deadline_ms: 5000` | `slo.llm_deadline_ms: {HIGH: 5000, NORMAL: 5000, LOW: 5000}` (end-to-end LLM SLO) |
//! | `embedding_slo_deadline_ms: 500` | `slo.embedding_deadline_ms: {HIGH: 500, NORMAL: 500, LOW: 500}` |

use serde_json::{Map, Value};

/// The original keys rewritten here (`timeout_seconds` is a serde alias of `timeout_s`).
pub const LEGACY_KEYS: [&str; 4] = [
    "arrival_pattern",
    "embedding_batch_size",
    "llm_slo_deadline_ms",
    "embedding_slo_deadline_ms",
];

/// Rewrites the original keys of a config document (a mapping) into this tool's; an error
/// names an original key given together with the key it becomes, or with a value of the
/// wrong shape.
pub fn rewrite(doc: &mut Map<String, Value>) -> Result<(), String> {
    let take =
        |old: &str, new: &str, doc: &mut Map<String, Value>| -> Result<Option<Value>, String> {
            let Some(v) = doc.remove(old) else {
                return Ok(None);
            };
            if doc.contains_key(new) {
                return Err(format!(
                    "{old} (the original tool's key) and {new} both given; keep one"
                ));
            }
            Ok(Some(v))
        };
    if let Some(v) = take("arrival_pattern", "arrival", doc)? {
        let pattern = v.as_str().ok_or_else(|| {
            format!(
                "arrival_pattern: expected a pattern name (poisson, uniform, gamma, burst), got {v}"
            )
        })?;
        doc.insert("arrival".into(), serde_json::json!({ "pattern": pattern }));
    }
    if let Some(v) = take("embedding_batch_size", "embedding_batch_sizes", doc)? {
        doc.insert("embedding_batch_sizes".into(), Value::Array(vec![v]));
    }
    for (old, field) in [
        ("llm_slo_deadline_ms", "llm_deadline_ms"),
        ("embedding_slo_deadline_ms", "embedding_deadline_ms"),
    ] {
        let Some(v) = doc.remove(old) else { continue };
        let slo = doc
            .entry("slo")
            .or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(slo) = slo else {
            return Err(format!("{old} given while slo is not a mapping"));
        };
        if slo.contains_key(field) {
            return Err(format!(
                "{old} (the original tool's key) and slo.{field} both given; keep one"
            ));
        }
        slo.insert(
            field.into(),
            serde_json::json!({ "HIGH": v, "NORMAL": v, "LOW": v }),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::BenchmarkConfig;
    use crate::slo::LlmSloDefinition;

    /// The original README's configuration tables, as a user would write them.
    #[test]
    fn the_original_tools_config_files_run_unchanged() {
        let llm = "control_plane_url: http://localhost:8080\n\
                   policies: [fifo, priority, slo_aware]\n\
                   num_requests: 100\n\
                   request_rate: 10.0\n\
                   arrival_pattern: poisson\n\
                   priority_distribution: {NORMAL: 1.0}\n\
                   timeout_seconds: 60.0\n\
                   warmup_requests: 10\n";
        let c = BenchmarkConfig::from_yaml(llm).unwrap();
        c.validate().unwrap();
        assert_eq!(c.arrival, crate::arrival::ArrivalConfig::Poisson);
        assert_eq!(c.timeout_s, 60.0);
        let hybrid = r#"{"mode": "hybrid", "llm_ratio": 0.7, "embedding_ratio": 0.3,
            "embedding_model": "BAAI/bge-m3", "embedding_batch_size": 32,
            "llm_slo_deadline_ms": 5000, "embedding_slo_deadline_ms": 500,
            "arrival_pattern": "uniform", "policies": ["fifo", "hybrid_slo"]}"#;
        let c = BenchmarkConfig::from_json(hybrid).unwrap();
        c.validate().unwrap();
        assert_eq!(c.embedding_batch_sizes, vec![32]);
        assert_eq!(c.slo.llm_definition, LlmSloDefinition::EndToEnd);
        assert_eq!(c.slo.llm_deadline_ms.low, 5000);
        assert_eq!(c.slo.embedding_deadline_ms.high, 500);
        assert_eq!(c.llm_ratio, 0.7);
        assert_eq!(c.arrival, crate::arrival::ArrivalConfig::Constant);
        let e =
            BenchmarkConfig::from_yaml("arrival_pattern: poisson\narrival: {pattern: poisson}\n")
                .unwrap_err()
                .to_string();
        assert!(
            e.contains("arrival_pattern") && e.contains("keep one"),
            "{e}"
        );
    }
}
