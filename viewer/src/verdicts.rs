//! What the loaded files conclude over repeated trials: per file with statistics, the "best
//! of" lines (a winner only when significant) and the verdict table (each policy against the
//! baseline, paired by trial, Holm-adjusted).

use crate::results::Files;
use cpbench_core::chart::runs::name_runs;
use cpbench_core::chart::table::{has_embeddings, summary_rows};
use cpbench_core::chart::verdicts::{best_lines, verdict_rows};
use leptos::prelude::*;

/// The verdicts of every loaded file that has statistics over trials.
#[component]
pub fn Verdicts(
    /// The loaded files.
    files: Files,
) -> impl IntoView {
    let sections = Memo::new(move |_| {
        files.files.with(|fs| {
            fs.iter()
                .filter_map(|f| {
                    let stats = f.report.statistics.as_ref()?;
                    let rows = summary_rows(&name_runs(&[("", &f.report)]));
                    let hybrid = has_embeddings(&rows);
                    Some((
                        f.name.clone(),
                        format!(
                            "{} against {} over {} trials ({} seeds); {:.0} % intervals, p-values adjusted with Holm's method across the policies compared.",
                            f.name,
                            stats.baseline,
                            stats.trials_planned,
                            stats.trial_seeds.as_str(),
                            stats.confidence * 100.0
                        ),
                        best_lines(&rows, Some(stats)),
                        verdict_rows(stats, hybrid),
                    ))
                })
                .collect::<Vec<_>>()
        })
    });
    view! {
        <Show when=move || sections.with(|s| !s.is_empty())>
            <section class="card verdicts" id="verdicts">
                <h2>"Verdicts over trials"</h2>
                {move || {
                    sections
                        .get()
                        .into_iter()
                        .map(|(name, intro, best, rows)| {
                            let several = rows.iter().any(|r| !r.variant.is_empty());
                            view! {
                                <div class="verdict-file" data-file=name>
                                    <p class="note">{intro}</p>
                                    <ul class="best-lines">
                                        {best.into_iter().map(|l| view! { <li>{l}</li> }).collect_view()}
                                    </ul>
                                    <div class="table-wrap">
                                        <table class="verdict-table">
                                            <thead>
                                                <tr>
                                                    {several.then(|| view! { <th>"Variant"</th> })}
                                                    <th>"Policy"</th>
                                                    <th>"Metric"</th>
                                                    <th>"Difference"</th>
                                                    <th>"95% interval"</th>
                                                    <th>"p (adjusted)"</th>
                                                    <th>"Verdict"</th>
                                                </tr>
                                            </thead>
                                            <tbody>
                                                {rows
                                                    .into_iter()
                                                    .map(|r| {
                                                        let variant = several.then(|| view! { <td>{r.variant.clone()}</td> });
                                                        view! {
                                                            <tr
                                                                data-policy=r.policy.clone()
                                                                data-metric=r.column.id()
                                                                class:significant=r.significant
                                                            >
                                                                {variant}
                                                                <td>{r.policy.clone()}</td>
                                                                <td>{r.column.label()}</td>
                                                                <td class="num">{r.difference.clone()}</td>
                                                                <td class="num">{r.interval.clone()}</td>
                                                                <td class="num">{r.p_adjusted.clone()}</td>
                                                                <td class="verdict">{r.verdict.clone()}</td>
                                                            </tr>
                                                        }
                                                    })
                                                    .collect_view()}
                                            </tbody>
                                        </table>
                                    </div>
                                </div>
                            }
                        })
                        .collect_view()
                }}
            </section>
        </Show>
    }
}
