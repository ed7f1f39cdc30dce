//! The runs a chart shows: each run of one or several result files, with the name and colour
//! its series get in every chart ([`name_runs`]).

use super::{Point, Series, color};
use crate::report::{ImportInfo, PolicyRun, PolicyStatistics, Report};
use std::fmt::Write;

/// One run to chart, with the names its series get.
#[derive(Debug, Clone, Copy)]
pub struct NamedRun<'a> {
    /// The run.
    pub run: &'a PolicyRun,
    /// Index of the run in the list (its colour).
    pub index: usize,
    /// The name of the file it came from; `None` when only one file is shown.
    pub file: Option<&'a str>,
    /// With repeated trials: the statistics of this policy and variant over the trials (`run`
    /// is then the first trial's run, which the per-run charts show).
    pub stats: Option<&'a PolicyStatistics>,
    /// For a run imported from another tool's file: where it came from (its label names the
    /// tool in every series name).
    pub tool: Option<&'a ImportInfo>,
}

impl NamedRun<'_> {
    /// The series name: [`run_label`], after the tool's name and version for an imported
    /// run (`GuideLLM 0.8.1: constant @2 req/s`), and after the file's name when several files
    /// are shown.
    pub fn name(&self) -> String {
        self.prefixed(run_label(self.run))
    }

    /// `s` after the tool's label (imported runs) and the file's name (several files).
    fn prefixed(&self, s: String) -> String {
        let s = match self.tool {
            Some(t) => format!("{}: {s}", t.label()),
            None => s,
        };
        match self.file {
            Some(f) => format!("{f}: {s}"),
            None => s,
        }
    }

    /// A series of this run: its name and colour, with `points`.
    pub fn series(&self, points: Vec<Point>) -> Series {
        Series {
            name: self.name(),
            color: color(self.index),
            points,
        }
    }

    /// The policy, after the tool and the file as in [`name`](Self::name).
    fn policy_name(&self) -> String {
        self.prefixed(self.run.policy.clone())
    }

    /// The name without the request rate: the series a sweep's runs share.
    pub fn sweep_group(&self) -> String {
        let mut s = self.policy_name();
        if let Some(ratio) = self.run.params.llm_ratio {
            let _ = write!(s, " llm={ratio}");
        }
        s
    }

    /// The name without the LLM ratio: the series a mixed-ratio experiment's runs share.
    pub fn ratio_group(&self) -> String {
        let params = &self.run.params;
        let mut s = self.policy_name();
        if let Some(rate) = params.request_rate_rps {
            let _ = write!(s, " @{rate} req/s");
        }
        if let Some(l) = &params.label {
            let _ = write!(s, " [{l}]");
        }
        s
    }
}

/// A run's label, as the terminal table writes it: the policy, then ` @{rate} req/s`,
/// ` llm={ratio}` and ` [{label}]` when the run has them.
pub fn run_label(r: &PolicyRun) -> String {
    let mut s = r.policy.clone();
    if let Some(rate) = r.params.request_rate_rps {
        let _ = write!(s, " @{rate} req/s");
    }
    if let Some(ratio) = r.params.llm_ratio {
        let _ = write!(s, " llm={ratio}");
    }
    if let Some(l) = &r.params.label {
        let _ = write!(s, " [{l}]");
    }
    s
}

/// The runs of the given files, in order, named after their file when there are several.
/// A report with repeated trials gives one run per policy and variant: its first trial's run,
/// with the statistics over all of them ([`NamedRun::stats`]).
pub fn name_runs<'a>(files: &[(&'a str, &'a Report)]) -> Vec<NamedRun<'a>> {
    let several = files.len() > 1;
    files
        .iter()
        .flat_map(|&(name, report)| {
            representatives(report).map(move |(run, stats)| (name, report, run, stats))
        })
        .enumerate()
        .map(|(index, (name, report, run, stats))| NamedRun {
            run,
            index,
            file: several.then_some(name),
            stats,
            tool: report.imported.as_ref(),
        })
        .collect()
}

/// A report's runs, one per policy and variant when the runs were repeated in trials (the
/// first run of each, with its statistics); every run otherwise.
fn representatives(
    report: &Report,
) -> impl Iterator<Item = (&PolicyRun, Option<&PolicyStatistics>)> {
    let mut seen: Vec<(&str, crate::report::RunParams)> = Vec::new();
    report.runs.iter().filter_map(move |run| {
        let Some(stats) = &report.statistics else {
            return Some((run, None));
        };
        let variant = run.params.variant();
        if seen
            .iter()
            .any(|(p, v)| *p == run.policy.as_str() && *v == variant)
        {
            return None;
        }
        seen.push((run.policy.as_str(), variant.clone()));
        let found = stats
            .groups
            .iter()
            .find(|g| {
                g.request_rate_rps == variant.request_rate_rps && g.llm_ratio == variant.llm_ratio
            })
            .and_then(|g| g.policies.iter().find(|p| p.policy == run.policy));
        Some((run, found))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::fixtures::{report, run};
    use crate::report::RunParams;

    #[test]
    fn runs_are_named_after_their_file_only_when_there_are_several() {
        let a = report(vec![
            run("fifo", 30, 1, RunParams::default()),
            run("priority", 30, 2, RunParams::default()),
        ]);
        let b = report(vec![run(
            "fifo",
            30,
            3,
            RunParams {
                request_rate_rps: Some(20.0),
                llm_ratio: Some(0.5),
                label: Some("x".into()),
                trial: None,
            },
        )]);
        let one = name_runs(&[("a.json", &a)]);
        assert_eq!(
            one.iter().map(NamedRun::name).collect::<Vec<_>>(),
            ["fifo", "priority"]
        );
        let two = name_runs(&[("a.json", &a), ("b.json", &b)]);
        assert_eq!(
            two.iter().map(NamedRun::name).collect::<Vec<_>>(),
            [
                "a.json: fifo",
                "a.json: priority",
                "b.json: fifo @20 req/s llm=0.5 [x]"
            ]
        );
        assert_eq!(two[2].index, 2);
        assert_eq!(two[2].sweep_group(), "b.json: fifo llm=0.5");
        assert_eq!(two[2].ratio_group(), "b.json: fifo @20 req/s [x]");
        let s = two[1].series(vec![]);
        assert_eq!((s.name.as_str(), s.color), ("a.json: priority", color(1)));
    }
}
