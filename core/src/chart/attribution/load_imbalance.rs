//! How evenly a run's requests were spread over the backend instances: the load-imbalance
//! metric per run ([`PolicyRun::load_imbalance`](crate::report::PolicyRun)) with what it is
//! made of.

use super::{ViewRow, ViewTable, fixed};
use crate::chart::runs::NamedRun;
use crate::report::PolicyRun;
use std::collections::BTreeSet;

/// How the load imbalance is defined (shown with the table).
pub const DEFINITION: &str = "Load imbalance = the most requests any backend instance got / the mean number of requests per instance, over the instances named by the responses' X-Backend-Instance header (1 is even; n instances with everything on one give n). Instances that got no request are not in the mean: the control plane's instances of the same kinds that got none are counted as idle.";

/// The instances the control plane listed (its last `/admin/metrics` snapshot) that got no
/// request, of a kind (`llm`, `embedding`) of an instance that got some.
pub fn idle_instances(run: &PolicyRun) -> Vec<String> {
    let Some(list) = run
        .control_plane
        .after
        .as_ref()
        .or(run.control_plane.before.as_ref())
        .and_then(|v| v.get("instances"))
        .and_then(|v| v.as_array())
    else {
        return Vec::new();
    };
    let kind_of = |v: &serde_json::Value| v.get("kind").and_then(|k| k.as_str()).map(str::to_owned);
    let id_of = |v: &serde_json::Value| v.get("id").and_then(|k| k.as_str()).map(str::to_owned);
    let used_kinds: BTreeSet<String> = list
        .iter()
        .filter(|i| id_of(i).is_some_and(|id| run.by_instance.contains_key(&id)))
        .filter_map(kind_of)
        .collect();
    list.iter()
        .filter(|i| kind_of(i).is_some_and(|k| used_kinds.contains(&k)))
        .filter_map(id_of)
        .filter(|id| !run.by_instance.contains_key(id))
        .collect()
}

/// One row per run with instances: instances, requests routed, most on one instance, mean
/// per instance, the imbalance, and the idle instances.
pub fn table(runs: &[NamedRun<'_>]) -> ViewTable {
    let rows = runs
        .iter()
        .filter_map(|r| {
            let imbalance = r.run.load_imbalance?;
            let by = &r.run.by_instance;
            let routed: u64 = by.values().map(|s| s.requests).sum();
            let (busiest, max) = by
                .iter()
                .max_by_key(|(_, s)| s.requests)
                .map(|(n, s)| (n.clone(), s.requests))?;
            let idle = idle_instances(r.run);
            Some(ViewRow {
                run: r.index,
                cells: vec![
                    r.name(),
                    by.len().to_string(),
                    routed.to_string(),
                    format!("{max} ({busiest})"),
                    fixed(routed as f64 / by.len() as f64, 1),
                    fixed(imbalance, 2),
                    if idle.is_empty() {
                        "0".into()
                    } else {
                        format!("{} ({})", idle.len(), idle.join(", "))
                    },
                ],
            })
        })
        .collect();
    ViewTable {
        id: "load-imbalance",
        title: "Load imbalance",
        definition: DEFINITION.into(),
        headers: vec![
            "Policy",
            "Instances",
            "Requests routed",
            "Most on one",
            "Mean per instance",
            "Imbalance (max/mean)",
            "Idle instances",
        ],
        numeric: vec![false, true, true, true, true, true, false],
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::fixtures::{report, run};
    use crate::chart::runs::name_runs;
    use crate::metrics::InstanceStats;
    use crate::report::RunParams;

    #[test]
    fn rows_show_the_imbalance_and_the_idle_instances() {
        let mut a = run("cache_aware", 10, 1, RunParams::default());
        let stats = |n: u64| InstanceStats {
            requests: n,
            ..Default::default()
        };
        a.by_instance.insert("llm-0".into(), stats(9));
        a.by_instance.insert("llm-1".into(), stats(3));
        a.load_imbalance = Some(1.5);
        a.control_plane.after = Some(serde_json::json!({"instances": [
            {"id": "llm-0", "kind": "llm"}, {"id": "llm-1", "kind": "llm"},
            {"id": "llm-2", "kind": "llm"}, {"id": "emb-0", "kind": "embedding"}]}));
        let rep = report(vec![a, run("none", 10, 1, RunParams::default())]);
        let t = table(&name_runs(&[("r", &rep)]));
        assert_eq!(t.rows.len(), 1, "runs without instances have no row");
        assert_eq!(
            t.rows[0].cells,
            [
                "cache_aware",
                "2",
                "12",
                "9 (llm-0)",
                "6.0",
                "1.50",
                "1 (llm-2)"
            ]
        );
    }
}
