//! Result files (every readable `schema_version`, the upgrade path included).

use cpbench_core::report::{Report, SCHEMA_VERSION, upgrade};

/// A result file loads or not without panicking; a loaded report is of the current version,
/// and written again (compact or pretty) it loads back equal. Upgrading any JSON document
/// from any version never panics.
pub fn check_report(text: &str) {
    if let Ok(mut doc) = serde_json::from_str::<serde_json::Value>(text) {
        for from in [0, 1, 2, u64::MAX] {
            upgrade(&mut doc.clone(), from);
        }
        upgrade(&mut doc, 1);
    }
    let Ok(report) = Report::from_json(text) else {
        return;
    };
    assert_eq!(report.schema_version, SCHEMA_VERSION);
    let _ = report.slo_targets();
    for written in [report.to_json(), report.to_json_pretty()] {
        match Report::from_json(&written) {
            Ok(back) => assert_eq!(back, report, "written {written:?} from {text:?}"),
            Err(e) => panic!("{e}: written {written:?} from {text:?}"),
        }
    }
}
