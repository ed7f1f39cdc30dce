//! The results tab: loading result files, the summary table, the comparison charts.

use crate::charts::{ChartView, Select};
use crate::embedded;
use crate::load::{LoadError, load_error, unique_name, url_file_name};
use crate::web;
use cpbench_core::chart::metric::{Breakdown, GpuMetric, LatencyMetric, Percentile, SeriesField};
use cpbench_core::chart::runs::{NamedRun, name_runs};
use cpbench_core::chart::table::{Column, SummaryRow, best_row, sort_rows, summary_rows};
use cpbench_core::chart::{ChartSpec, color};
use cpbench_core::chart::{compare, control_plane, distribution, intervals};
use cpbench_core::import;
use cpbench_core::report::{GpuStatus, ImportInfo, Report, ReportKind};
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::sync::Arc;

/// A loaded result file.
#[derive(Clone)]
pub(crate) struct LoadedFile {
    id: u64,
    pub(crate) name: String,
    pub(crate) report: Arc<Report>,
}

/// The loaded files and the errors of those that failed.
#[derive(Clone, Copy)]
pub(crate) struct Files {
    pub(crate) files: RwSignal<Vec<LoadedFile>>,
    errors: RwSignal<Vec<(u64, LoadError)>>,
    next_id: StoredValue<u64>,
}

impl Files {
    pub(crate) fn new() -> Self {
        Self {
            files: RwSignal::new(Vec::new()),
            errors: RwSignal::new(Vec::new()),
            next_id: StoredValue::new(0),
        }
    }

    fn id(&self) -> u64 {
        let id = self.next_id.get_value();
        self.next_id.set_value(id + 1);
        id
    }

    /// Parses `text` and adds it as a file named `name`, or records why it could not be read.
    fn add_text(&self, name: &str, text: &str) {
        self.add_batch(vec![(name.to_owned(), text.to_owned())]);
    }

    /// Parses files loaded together and adds each, or records why it could not be read; an
    /// AIPerf `profile_export.jsonl` joins the AIPerf aggregate file of the same batch
    /// ([`import::read_batch`]).
    fn add_batch(&self, batch: Vec<(String, String)>) {
        let pairs: Vec<(&str, &str)> = batch
            .iter()
            .map(|(n, t)| (n.as_str(), t.as_str()))
            .collect();
        for ((name, text), result) in batch.iter().zip(import::read_batch(&pairs)) {
            let id = self.id();
            match result {
                None => {}
                Some(Ok(report)) => self.files.update(|fs| {
                    let name = unique_name(name, fs.iter().map(|f| f.name.as_str()));
                    fs.push(LoadedFile {
                        id,
                        name,
                        report: Arc::new(report),
                    });
                }),
                Some(Err(e)) => {
                    let e = load_error(name, text, e);
                    self.errors.update(|es| es.push((id, e)));
                }
            }
        }
    }

    fn add_error(&self, e: LoadError) {
        let id = self.id();
        self.errors.update(|es| es.push((id, e)));
    }

    /// Reads the chosen or dropped files, then adds them as one batch.
    fn add_file_list(self, list: Option<web_sys::FileList>) {
        let Some(list) = list else { return };
        let chosen: Vec<web_sys::File> = (0..list.length()).filter_map(|i| list.get(i)).collect();
        spawn_local(async move {
            let mut batch = Vec::new();
            for file in chosen {
                let name = file.name();
                match web::file_text(&file).await {
                    Ok(text) => batch.push((name, text)),
                    Err(e) => self.add_error(LoadError::new(
                        name,
                        format!("could not read the file: {e}"),
                    )),
                }
            }
            self.add_batch(batch);
        });
    }

    /// Fetches the `?url=` files, then adds them as one batch.
    async fn load_urls(self, urls: Vec<String>) {
        let mut batch = Vec::new();
        for url in urls {
            match web::fetch_text(&url).await {
                Ok(text) => batch.push((url_file_name(&url), text)),
                Err(e) => self.add_error(LoadError::new(url, e)),
            }
        }
        self.add_batch(batch);
    }

    /// Runs `f` on the named runs of every loaded file.
    pub(crate) fn with_runs<T>(&self, f: impl FnOnce(&[NamedRun<'_>]) -> T) -> T {
        self.files.with(|fs| {
            let pairs: Vec<(&str, &Report)> = fs
                .iter()
                .map(|f| (f.name.as_str(), f.report.as_ref()))
                .collect();
            f(&name_runs(&pairs))
        })
    }
}

fn options<T: Copy>(
    all: &[T],
    id: impl Fn(T) -> &'static str,
    text: impl Fn(T) -> String,
) -> Vec<(String, String)> {
    all.iter().map(|&x| (id(x).to_owned(), text(x))).collect()
}

fn kind_name(k: ReportKind) -> &'static str {
    match k {
        ReportKind::Run => "run",
        ReportKind::Compare => "policy comparison",
        ReportKind::Sweep => "rate sweep",
        ReportKind::Experiment => "experiment",
        ReportKind::Simulation => "simulation",
    }
}

/// The results tab.
#[component]
pub(crate) fn Results(
    /// The loaded files.
    files: Files,
) -> impl IntoView {
    // The result file of a single-file report comes first.
    if let Some((name, text)) = embedded::result_file() {
        spawn_local(async move { files.add_text(&name, &text) });
    }
    // `?url=...` (repeatable): fetch each once, at start, adding them in the order given.
    let urls = web::url_params();
    if !urls.is_empty() {
        spawn_local(files.load_urls(urls));
    }

    let dragging = RwSignal::new(false);
    let pasted = RwSignal::new(String::new());
    let paste_count = StoredValue::new(0u32);
    let has_runs = Memo::new(move |_| {
        files
            .files
            .with(|fs| fs.iter().any(|f| !f.report.runs.is_empty()))
    });

    let on_drop = move |ev: web_sys::DragEvent| {
        ev.prevent_default();
        dragging.set(false);
        files.add_file_list(ev.data_transfer().and_then(|d| d.files()));
    };
    let load_pasted = move |_| {
        let text = pasted.get_untracked();
        if text.trim().is_empty() {
            return;
        }
        let n = paste_count.get_value() + 1;
        paste_count.set_value(n);
        files.add_text(&format!("pasted {n}"), &text);
        pasted.set(String::new());
    };

    view! {
        <section
            class="results"
            on:dragover=move |ev: web_sys::DragEvent| {
                ev.prevent_default();
                dragging.set(true);
            }
            on:dragleave=move |_| dragging.set(false)
            on:drop=on_drop
        >
            <div
                class="card loader"
                class:dragging=move || dragging.get()
                class:compact=move || files.files.with(|f| !f.is_empty())
            >
                <div class="dropzone">
                    <p class="drop-title">
                        {move || {
                            if files.files.with(|f| f.is_empty()) {
                                "Drop result files here"
                            } else {
                                "Drop more files to compare"
                            }
                        }}
                    </p>
                    <p class="drop-sub">
                        "JSON result files written by sage-cp-bench (run, compare, sweep, experiment, simulate), or by vLLM bench serve, GuideLLM (JSON or YAML) and AIPerf (profile_export_aiperf.json with profile_export.jsonl). Several files are compared side by side."
                    </p>
                    <label class="button primary">
                        "Choose files…"
                        <input
                            id="file-input"
                            type="file"
                            multiple
                            accept=".json,.jsonl,.yaml,.yml,application/json"
                            on:change=move |ev| {
                                let input: web_sys::HtmlInputElement = event_target(&ev);
                                files.add_file_list(input.files());
                                input.set_value("");
                            }
                        />
                    </label>
                </div>
                <details class="paste">
                    <summary>"…or paste a result file"</summary>
                    <textarea
                        id="paste-input"
                        rows="6"
                        spellcheck="false"
                        placeholder="{\"schema_version\": 1, ...}"
                        bind:value=pasted
                    ></textarea>
                    <button id="paste-load" type="button" class="button" on:click=load_pasted>
                        "Load pasted JSON"
                    </button>
                </details>
                <p class="hint">
                    "Links can open files directly: add "<code>"?url=results.json"</code>
                    " to this page's address (repeat it for several files; other origins must allow CORS). Nothing is uploaded: files are read in your browser."
                </p>
            </div>
            <ErrorList files=files />
            <FileList files=files />
            <Show when=move || has_runs.get()>
                <Comparison files=files />
            </Show>
        </section>
    }
}

/// The errors of files that could not be read.
#[component]
fn ErrorList(files: Files) -> impl IntoView {
    view! {
        <div class="errors" id="load-errors">
            <For
                each=move || files.errors.get()
                key=|(id, _)| *id
                children=move |(id, e)| {
                    let position = e.position();
                    view! {
                        <div class="error" role="alert">
                            <div class="error-head">
                                <strong class="error-source">{e.source.clone()}</strong>
                                {position.map(|p| view! { <span class="error-pos">{p}</span> })}
                                <button
                                    type="button"
                                    class="dismiss"
                                    aria-label="Dismiss"
                                    on:click=move |_| files.errors.update(|es| es.retain(|(i, _)| *i != id))
                                >
                                    "×"
                                </button>
                            </div>
                            <p class="error-message">{e.message.clone()}</p>
                            {e.excerpt.clone().map(|x| view! { <pre class="excerpt">{x}</pre> })}
                        </div>
                    }
                }
            />
        </div>
    }
}

/// The loaded files, with what each holds and a button to remove it.
#[component]
fn FileList(files: Files) -> impl IntoView {
    view! {
        <div class="files" id="file-list">
            <For
                each=move || files.files.get()
                key=|f| f.id
                children=move |f| {
                    let r = f.report.clone();
                    let id = f.id;
                    // One short line; the unavailable reason (NVML's words) on hover.
                    let (gpu, gpu_detail) = match &r.gpu.status {
                        GpuStatus::Sampled => ("GPU sampled", String::new()),
                        GpuStatus::NotRequested => ("GPU not monitored", String::new()),
                        GpuStatus::Unavailable { reason } => ("GPU unavailable", reason.clone()),
                    };
                    let warnings: Vec<String> = r
                        .warnings
                        .iter()
                        .cloned()
                        .chain(r.runs.iter().flat_map(|run| run.warnings.iter().map(move |w| format!("{}: {w}", run.policy))))
                        .collect();
                    let notes: Vec<String> = r
                        .environment
                        .notes
                        .iter()
                        .cloned()
                        .chain(r.runs.iter().flat_map(|run| run.notes.iter().map(move |n| format!("{}: {n}", run.policy))))
                        .collect();
                    view! {
                        <div class="file card">
                            <div class="file-head">
                                <strong class="file-name">{f.name.clone()}</strong>
                                <span class="badge">{kind_name(r.kind)}</span>
                                {r.imported.as_ref().map(|i| view! { <span class="badge imported">{format!("imported: {}", i.label())}</span> })}
                                {(r.simulated && r.kind != ReportKind::Simulation)
                                    .then(|| view! { <span class="badge sim">"simulated"</span> })}
                                {r.partial.then(|| view! { <span class="badge warn">"partial"</span> })}
                                <button
                                    type="button"
                                    class="dismiss"
                                    aria-label="Remove this file"
                                    on:click=move |_| files.files.update(|fs| fs.retain(|x| x.id != id))
                                >
                                    "×"
                                </button>
                            </div>
                            <p class="file-meta">
                                {meta_line(&r)}
                                {r.imported.is_none().then(|| format!(
                                    "{} run(s) · {} requests each · seed {} · workload {} · {} {} · {} · ",
                                    r.runs.len(),
                                    r.workload_requests,
                                    r.seed,
                                    r.workload_hash.get(..12).unwrap_or(&r.workload_hash),
                                    r.tool.name,
                                    r.tool.version,
                                    r.created_at,
                                ))}
                                <span
                                    class="gpu-status"
                                    title=(!gpu_detail.is_empty()).then_some(gpu_detail)
                                >
                                    {gpu}
                                </span>
                            </p>
                            {r.imported.clone().map(imported_details)}
                            {(!warnings.is_empty())
                                .then(|| {
                                    view! {
                                        <ul class="warnings">
                                            {warnings.into_iter().map(|w| view! { <li>{w}</li> }).collect_view()}
                                        </ul>
                                    }
                                })}
                            {(!notes.is_empty())
                                .then(|| {
                                    let n = notes.len();
                                    view! {
                                        <details class="notes">
                                            <summary>{format!("{n} note(s)")}</summary>
                                            <ul>
                                                {notes.into_iter().map(|w| view! { <li>{w}</li> }).collect_view()}
                                            </ul>
                                        </details>
                                    }
                                })}
                        </div>
                    }
                }
            />
        </div>
    }
}

/// The first words of a file's description: for an imported file, where it came from (the
/// seed, workload and GPU lines of our files mean nothing there).
fn meta_line(r: &Report) -> Option<String> {
    let i = r.imported.as_ref()?;
    Some(format!(
        "{} run(s) · {} {} · {}{} · ",
        r.runs.len(),
        i.label(),
        i.source,
        r.created_at,
        r.environment
            .control_plane_url
            .as_deref()
            .map(|u| format!(" · against {u}"))
            .unwrap_or_default(),
    ))
}

/// What an imported file lacks of our metrics and how its tool's definitions differ.
fn imported_details(i: ImportInfo) -> impl IntoView {
    let lacks = i.lacks.join(", ");
    let definitions = i.definitions;
    let n = definitions.len();
    view! {
        <p class="imported-lacks">{format!("Not in this file: {lacks}.")}</p>
        <details class="imported-definitions">
            <summary>{format!("{n} difference(s) of definition")}</summary>
            <ul>{definitions.into_iter().map(|d| view! { <li>{d}</li> }).collect_view()}</ul>
        </details>
    }
}

/// A chart spec recomputed from the loaded runs whenever they or the signals `f` reads change.
fn chart_memo(
    files: Files,
    f: impl Fn(&[NamedRun<'_>]) -> ChartSpec + Send + Sync + 'static,
) -> Memo<ChartSpec> {
    Memo::new(move |_| files.with_runs(&f))
}

/// The summary table and every chart of the loaded runs.
#[component]
fn Comparison(files: Files) -> impl IntoView {
    let metric = RwSignal::new("ttft".to_owned());
    let percentile = RwSignal::new("p99".to_owned());
    let breakdown = RwSignal::new("priority".to_owned());
    let field = RwSignal::new("completed".to_owned());
    let gpu_metric = RwSignal::new("utilization".to_owned());
    // The control-plane chart opens on a field that moves during a run (not an all-zero one).
    let cp_key = RwSignal::new(
        files
            .with_runs(control_plane::preferred_key)
            .unwrap_or_default(),
    );
    let trial_metric = RwSignal::new(intervals::INTERVAL_COLUMNS[0].id().to_owned());

    let m = move || LatencyMetric::parse(&metric.get()).unwrap_or(LatencyMetric::Ttft);
    let p = move || Percentile::parse(&percentile.get()).unwrap_or(Percentile::P99);
    let b = move || Breakdown::parse(&breakdown.get()).unwrap_or(Breakdown::Priority);

    let throughput = chart_memo(files, compare::throughput);
    let tokens = chart_memo(files, compare::token_throughput);
    let latency = chart_memo(files, move |r| compare::latency_percentiles(r, m()));
    let cdf = chart_memo(files, move |r| distribution::cdf(r, m()));
    let by_group = chart_memo(files, move |r| compare::latency_by(r, m(), p(), b()));
    let slo = chart_memo(files, move |r| compare::slo_compliance_by(r, b()));
    let goodput = chart_memo(files, move |r| compare::goodput_by(r, b()));
    let sweep_tp = chart_memo(files, compare::sweep_throughput);
    let sweep_lat = chart_memo(files, move |r| compare::sweep_latency(r, m(), p()));
    let series = chart_memo(files, move |r| {
        compare::time_series(
            r,
            SeriesField::parse(&field.get()).unwrap_or(SeriesField::Completed),
        )
    });
    let lateness = chart_memo(files, compare::lateness);
    let gpu = chart_memo(files, move |r| {
        compare::gpu(
            r,
            GpuMetric::parse(&gpu_metric.get()).unwrap_or(GpuMetric::Utilization),
        )
    });
    let cp_keys = Memo::new(move |_| files.with_runs(control_plane::keys));
    let cp = chart_memo(files, move |r| {
        let key = cp_key.get();
        let keys = control_plane::keys(r);
        // A field chosen by the reader, else one that moves during a run.
        let key = if keys.contains(&key) {
            key
        } else {
            control_plane::preferred_key(r).unwrap_or_default()
        };
        control_plane::field_chart(r, &key)
    });
    let instances = chart_memo(files, control_plane::requests_by_instance);
    let has_instances = Memo::new(move |_| instances.with(ChartSpec::has_data));
    let trials = chart_memo(files, move |r| {
        let c = Column::from_id(&trial_metric.get()).unwrap_or(intervals::INTERVAL_COLUMNS[0]);
        intervals::over_trials(r, c).unwrap_or_else(|| compare::throughput(r))
    });
    let has_trials = Memo::new(move |_| files.with_runs(intervals::has_trials));
    let trial_opts = Signal::stored(
        intervals::INTERVAL_COLUMNS
            .iter()
            .map(|c| (c.id().to_owned(), c.label().to_owned()))
            .collect::<Vec<_>>(),
    );
    let has_sweep = Memo::new(move |_| files.with_runs(compare::has_sweep));
    let has_gpu = Memo::new(move |_| files.with_runs(compare::has_gpu));
    let rows = Memo::new(move |_| files.with_runs(summary_rows));

    let metric_opts = options(&LatencyMetric::ALL, LatencyMetric::as_str, |m| {
        m.long().to_owned()
    });
    let pct_opts = options(&Percentile::ALL, Percentile::as_str, |p| {
        p.as_str().to_owned()
    });
    let group_opts = options(&Breakdown::ALL, Breakdown::as_str, |b| b.label().to_owned());
    let field_opts = options(&SeriesField::ALL, SeriesField::as_str, |f| {
        f.label().to_owned()
    });
    let gpu_opts = Signal::stored(options(&GpuMetric::ALL, GpuMetric::as_str, |g| {
        g.label().to_owned()
    }));
    let cp_opts = Signal::derive(move || {
        cp_keys
            .get()
            .into_iter()
            .map(|k| (k.clone(), k))
            .collect::<Vec<_>>()
    });

    view! {
        <section class="card summary">
            <h2>"Summary"</h2>
            <p class="note">
                "The numbers of the terminal table. Click a header to sort; the best value of each column is marked."
            </p>
            <SummaryTable rows=rows />
        </section>
        <crate::verdicts::Verdicts files=files />
        <section class="controls card" aria-label="Chart options">
            <Select label="Latency metric" id="metric-select" options=metric_opts value=metric />
            <Select label="Percentile" id="percentile-select" options=pct_opts value=percentile />
            <Select label="Group by" id="breakdown-select" options=group_opts value=breakdown />
        </section>
        <div class="grid">
            <Show when=move || has_trials.get()>
                <ChartView key="trials" spec=trials>
                    <Select label="Metric" id="trials-select" options=trial_opts value=trial_metric />
                </ChartView>
            </Show>
            <ChartView key="throughput" spec=throughput />
            <ChartView key="tokens" spec=tokens />
            <ChartView key="latency" spec=latency />
            <ChartView key="cdf" spec=cdf />
            <ChartView key="latency-by" spec=by_group />
            <ChartView key="slo" spec=slo />
            <ChartView key="goodput" spec=goodput />
            <Show when=move || has_sweep.get()>
                <ChartView key="sweep-throughput" spec=sweep_tp />
                <ChartView key="sweep-latency" spec=sweep_lat />
            </Show>
            <ChartView key="time-series" spec=series>
                <Select label="Series" id="series-select" options=field_opts value=field />
            </ChartView>
            <ChartView key="lateness" spec=lateness />
            <Show when=move || has_gpu.get()>
                <ChartView key="gpu" spec=gpu>
                    <Select label="Reading" id="gpu-select" options=gpu_opts value=gpu_metric />
                </ChartView>
            </Show>
            <Show when=move || !cp_keys.get().is_empty()>
                <ChartView key="control-plane" spec=cp>
                    <Select label="Field" id="cp-select" options=cp_opts value=cp_key />
                </ChartView>
            </Show>
            <Show when=move || has_instances.get()>
                <ChartView key="instances" spec=instances />
            </Show>
        </div>
        <crate::attribution::Attribution files=files />
    }
}

/// The summary table, sortable by clicking a header.
#[component]
fn SummaryTable(
    /// One row per run, in run order.
    rows: Memo<Vec<SummaryRow>>,
) -> impl IntoView {
    let sort = RwSignal::new(None::<(Column, bool)>);
    let columns = Memo::new(move |_| rows.with(|r| Column::for_rows(r)));
    // The best run (by its index) of each column.
    let best = Memo::new(move |_| {
        rows.with(|r| {
            columns
                .get()
                .into_iter()
                .filter_map(|c| best_row(r, c).map(|i| (c, r[i].index)))
                .collect::<Vec<_>>()
        })
    });
    let sorted = move || {
        let mut r = rows.get();
        if let Some((c, desc)) = sort.get() {
            sort_rows(&mut r, c, desc);
        }
        r
    };
    let click = move |c: Column| {
        sort.update(|s| {
            *s = match *s {
                Some((k, desc)) if k == c => Some((c, !desc)),
                // Numbers start with the best first.
                _ => Some((c, c != Column::Policy && c.higher_is_better())),
            }
        })
    };

    view! {
        <div class="table-wrap">
            <table id="summary-table">
                <thead>
                    <tr>
                        {move || {
                            columns
                                .get()
                                .into_iter()
                                .map(|c| {
                                    let state = move || sort.get().filter(|(k, _)| *k == c).map(|(_, d)| d);
                                    view! {
                                        <th
                                            data-col=c.id()
                                            aria-sort=move || match state() {
                                                Some(true) => "descending",
                                                Some(false) => "ascending",
                                                None => "none",
                                            }
                                        >
                                            <button type="button" on:click=move |_| click(c)>
                                                {c.header()}
                                                <span class="arrow">
                                                    {move || match state() {
                                                        Some(true) => "▼",
                                                        Some(false) => "▲",
                                                        None => "",
                                                    }}
                                                </span>
                                            </button>
                                        </th>
                                    }
                                })
                                .collect_view()
                        }}
                    </tr>
                </thead>
                <tbody>
                    {move || {
                        let cols = columns.get();
                        let best = best.get();
                        sorted()
                            .into_iter()
                            .map(|r| {
                                let cells = cols
                                    .iter()
                                    .map(|&c| {
                                        let is_best = best.contains(&(c, r.index));
                                        let value = c.value(&r).map(|v| v.to_string());
                                        let swatch = (c == Column::Policy)
                                            .then(|| {
                                                view! {
                                                    <span class="swatch" style:background=color(r.index).hex()></span>
                                                }
                                            });
                                        view! {
                                            <td data-col=c.id() data-value=value class:best=is_best>
                                                {swatch}
                                                {c.text(&r)}
                                            </td>
                                        }
                                    })
                                    .collect_view();
                                view! { <tr data-run=r.index.to_string()>{cells}</tr> }
                            })
                            .collect_view()
                    }}
                </tbody>
            </table>
        </div>
    }
}
