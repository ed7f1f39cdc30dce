//! Why a policy wins: each backend instance's load over time, the TTFT split into
//! control-plane queue time and the rest, and the tables of load imbalance, prefix-cache hit
//! rate and longest wait per priority class (all from `cpbench_core::chart::attribution`).

use crate::charts::{ChartView, Select};
use crate::results::Files;
use cpbench_core::chart::attribution::instance_timeline::{self, InstanceQuantity};
use cpbench_core::chart::attribution::{ViewTable, tables, ttft_split};
use cpbench_core::chart::color;
use leptos::prelude::*;

/// The section: its charts (when they have data) and its tables (when they have rows).
#[component]
pub fn Attribution(
    /// The loaded files.
    files: Files,
) -> impl IntoView {
    let quantity = RwSignal::new(InstanceQuantity::Requests.as_str().to_owned());
    let available = Memo::new(move |_| files.with_runs(instance_timeline::available));
    let timeline = Memo::new(move |_| {
        let q = InstanceQuantity::parse(&quantity.get()).unwrap_or(InstanceQuantity::Requests);
        files.with_runs(|r| instance_timeline::chart(r, q))
    });
    let split = Memo::new(move |_| files.with_runs(ttft_split::chart));
    let has_split = Memo::new(move |_| split.with(|s| s.has_data()));
    let quantity_opts = Signal::derive(move || {
        available
            .get()
            .into_iter()
            .map(|q| (q.as_str().to_owned(), q.label().to_owned()))
            .collect::<Vec<_>>()
    });
    let views = Memo::new(move |_| {
        files.with_runs(|r| {
            tables(r)
                .into_iter()
                .filter(ViewTable::has_rows)
                .collect::<Vec<_>>()
        })
    });
    view! {
        <Show when=move || views.with(|v| !v.is_empty())>
            <section class="card attribution" id="attribution">
                <h2>"Why a policy wins"</h2>
                {move || views.get().into_iter().map(view_table).collect_view()}
            </section>
        </Show>
        <div class="grid">
            <Show when=move || !available.with(Vec::is_empty)>
                <ChartView key="instance-timeline" spec=timeline>
                    <Select label="Per instance" id="instance-select" options=quantity_opts value=quantity />
                </ChartView>
            </Show>
            <Show when=move || has_split.get()>
                <ChartView key="ttft-split" spec=split />
            </Show>
        </div>
    }
}

/// One view's table: title, definition, rows (each marked with its run).
fn view_table(t: ViewTable) -> impl IntoView {
    let numeric = t.numeric.clone();
    view! {
        <div class="view-table" id=format!("view-{}", t.id)>
            <h3>{t.title}</h3>
            <p class="note">{t.definition.clone()}</p>
            <div class="table-wrap">
                <table class="attribution-table" data-view=t.id>
                    <thead>
                        <tr>{t.headers.iter().map(|h| view! { <th>{*h}</th> }).collect_view()}</tr>
                    </thead>
                    <tbody>
                        {t
                            .rows
                            .into_iter()
                            .map(|r| {
                                let run = r.run;
                                let cells = r
                                    .cells
                                    .into_iter()
                                    .enumerate()
                                    .map(|(i, c)| {
                                        let swatch = (i == 0)
                                            .then(|| view! { <span class="swatch" style:background=color(run).hex()></span> });
                                        view! {
                                            <td class:num=numeric.get(i).copied().unwrap_or(false)>{swatch}{c}</td>
                                        }
                                    })
                                    .collect_view();
                                view! { <tr data-run=run.to_string()>{cells}</tr> }
                            })
                            .collect_view()}
                    </tbody>
                </table>
            </div>
        </div>
    }
}
