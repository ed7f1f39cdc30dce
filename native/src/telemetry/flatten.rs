//! Turning a JSON document (an `/admin/metrics` snapshot) into named numbers.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Every finite number in `value`, by path. Object keys are joined with `.`; an array whose
/// elements are all objects with distinct `id` fields (strings or numbers) names its
/// elements by id, any other array by index. Strings, booleans and nulls are left out.
///
/// `{"queues": {"llm": 2}, "instances": [{"id": "llm-0", "running": 3}]}` gives
/// `queues.llm = 2` and `instances.llm-0.running = 3`.
pub fn flatten_numbers(value: &Value) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    walk(value, &mut String::new(), &mut out);
    out
}

fn walk(value: &Value, path: &mut String, out: &mut BTreeMap<String, f64>) {
    match value {
        Value::Number(n) => {
            if let Some(x) = n.as_f64().filter(|x| x.is_finite())
                && !path.is_empty()
            {
                out.insert(path.clone(), x);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                descend(path, k, v, out);
            }
        }
        Value::Array(items) => match element_ids(items) {
            Some(ids) => {
                for (id, v) in ids.iter().zip(items) {
                    descend(path, id, v, out);
                }
            }
            None => {
                for (i, v) in items.iter().enumerate() {
                    descend(path, &i.to_string(), v, out);
                }
            }
        },
        Value::String(_) | Value::Bool(_) | Value::Null => {}
    }
}

fn descend(path: &mut String, segment: &str, v: &Value, out: &mut BTreeMap<String, f64>) {
    let len = path.len();
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(segment);
    walk(v, path, out);
    path.truncate(len);
}

/// The `id` of every element, when every element is an object with a non-empty string or
/// numeric `id` and no two are the same.
fn element_ids(items: &[Value]) -> Option<Vec<String>> {
    if items.is_empty() {
        return None;
    }
    let mut seen = BTreeSet::new();
    let mut ids = Vec::with_capacity(items.len());
    for item in items {
        let id = match item.get("id")? {
            Value::String(s) if !s.is_empty() => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return None,
        };
        if !seen.insert(id.clone()) {
            return None;
        }
        ids.push(id);
    }
    Some(ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reference_metrics_shape() {
        let m = json!({
            "policy": "fifo", "uptime_s": 12.5,
            "requests": {"received": 10, "completed": 8, "failed": 0, "rejected": 2},
            "queues": {"llm": 3, "embedding": 0},
            "instances": [
                {"id": "llm-0", "model": "q", "running": 4, "kv_cache_usage": 0.25},
                {"id": "emb-0", "model": "b", "running": 0, "kv_cache_usage": 0.0}
            ],
            "adaptive_mode": null, "cost_per_request_usd": null
        });
        let f = flatten_numbers(&m);
        assert_eq!(
            f.keys().map(String::as_str).collect::<Vec<_>>(),
            vec![
                "instances.emb-0.kv_cache_usage",
                "instances.emb-0.running",
                "instances.llm-0.kv_cache_usage",
                "instances.llm-0.running",
                "queues.embedding",
                "queues.llm",
                "requests.completed",
                "requests.failed",
                "requests.received",
                "requests.rejected",
                "uptime_s",
            ]
        );
        assert_eq!(f["queues.llm"], 3.0);
        assert_eq!(f["instances.llm-0.running"], 4.0);
        assert_eq!(f["instances.llm-0.kv_cache_usage"], 0.25);
    }

    #[test]
    fn arrays_without_usable_ids_use_indexes() {
        let m = json!({
            "a": [1, 2.5, "x", true],
            "dup": [{"id": "x", "v": 1}, {"id": "x", "v": 2}],
            "mixed": [{"id": "x", "v": 1}, {"v": 2}],
            "numeric": [{"id": 7, "v": 1}],
            "nested": [[1, 2], [3]]
        });
        let f = flatten_numbers(&m);
        assert_eq!(f["a.0"], 1.0);
        assert_eq!(f["a.1"], 2.5);
        assert!(!f.contains_key("a.2") && !f.contains_key("a.3"));
        assert_eq!((f["dup.0.v"], f["dup.1.v"]), (1.0, 2.0));
        assert_eq!((f["mixed.0.v"], f["mixed.1.v"]), (1.0, 2.0));
        assert_eq!(f["numeric.7.v"], 1.0);
        assert_eq!((f["nested.0.1"], f["nested.1.0"]), (2.0, 3.0));
        // The `id` of a named element is a number like any other field.
        assert_eq!(f["numeric.7.id"], 7.0);
    }

    #[test]
    fn a_bare_number_has_no_name() {
        assert!(flatten_numbers(&json!(3)).is_empty());
        assert!(flatten_numbers(&json!({})).is_empty());
    }
}
