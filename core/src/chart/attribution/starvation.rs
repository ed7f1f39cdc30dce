//! The longest wait of each priority class: whether a policy starves a class (the longest
//! control-plane queue time and time to first token per class, and the failures, timeouts
//! among them, that never got an answer).

use super::{ViewRow, ViewTable};
use crate::chart::runs::NamedRun;
use crate::chart::table::ms;
use crate::request::Priority;

/// What the table's numbers are.
pub const DEFINITION: &str = "Per priority class, over its successful requests: the longest control-plane queue time (X-Queue-Time-Ms) and the longest and 99th-percentile time to first token (LLM requests), measured from the intended send time. Failed requests (timeouts included) got no first token and are counted apart: a class whose requests time out is starved beyond its longest TTFT.";

/// One row per run and priority class that has requests.
pub fn table(runs: &[NamedRun<'_>]) -> ViewTable {
    let mut rows = Vec::new();
    for r in runs {
        for p in Priority::ALL {
            let Some(s) = r.run.by_priority.get(p.as_str()) else {
                continue;
            };
            if s.requests_total == 0 {
                continue;
            }
            let timeouts = s.errors_by_kind.get("timeout").copied().unwrap_or(0);
            rows.push(ViewRow {
                run: r.index,
                cells: vec![
                    r.name(),
                    p.as_str().to_owned(),
                    s.requests_total.to_string(),
                    if timeouts > 0 {
                        format!("{} ({timeouts} timed out)", s.requests_failed)
                    } else {
                        s.requests_failed.to_string()
                    },
                    ms(s.queue_time.map(|q| q.max_ms)),
                    ms(s.ttft.map(|t| t.max_ms)),
                    ms(s.ttft.map(|t| t.p99_ms)),
                ],
            });
        }
    }
    ViewTable {
        id: "starvation",
        title: "Longest wait per priority class",
        definition: DEFINITION.into(),
        headers: vec![
            "Policy",
            "Class",
            "Requests",
            "Failed",
            "Longest queue (ms)",
            "Longest TTFT (ms)",
            "p99 TTFT (ms)",
        ],
        numeric: vec![false, false, true, true, true, true, true],
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::fixtures::{report, run};
    use crate::chart::runs::name_runs;
    use crate::report::RunParams;

    #[test]
    fn one_row_per_class_with_its_longest_waits() {
        let rep = report(vec![run("priority", 30, 2, RunParams::default())]);
        let t = table(&name_runs(&[("r", &rep)]));
        let classes: Vec<&str> = t.rows.iter().map(|r| r.cells[1].as_str()).collect();
        assert_eq!(classes, ["HIGH", "NORMAL", "LOW"]);
        let high = &rep.runs[0].by_priority["HIGH"];
        assert_eq!(
            t.rows[0].cells[4],
            ms(Some(high.queue_time.unwrap().max_ms))
        );
        assert_eq!(t.rows[0].cells[5], ms(Some(high.ttft.unwrap().max_ms)));
        // Request 7 (priority 7 % 3 = NORMAL) timed out.
        assert_eq!(t.rows[1].cells[3], "1 (1 timed out)");
    }
}
