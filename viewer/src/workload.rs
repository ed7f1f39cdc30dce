//! The workload preview tab: a config editor whose workload is generated in the browser, by
//! the preview module (loaded when the tab is first opened).

use crate::charts::ChartView;
use crate::web;
use cpbench_core::chart::{Axis, ChartKind, ChartSpec};
use cpbench_core::config::{Mode, example_yaml};
use cpbench_viewer_preview::{Generated, NamedFile, Preview, config_extension};
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::sync::Arc;

/// A chosen dataset or trace file.
#[derive(Clone, PartialEq)]
struct Chosen {
    name: String,
    bytes: Arc<Vec<u8>>,
}

fn empty_spec(id: &str) -> ChartSpec {
    ChartSpec {
        id: id.to_owned(),
        title: String::new(),
        note: String::new(),
        kind: ChartKind::Lines { markers: false },
        x: Axis::default(),
        y: Axis::default(),
        series: Vec::new(),
    }
}

/// The workload preview tab.
#[component]
pub(crate) fn WorkloadPreview(
    /// Whether the tab is shown; nothing is loaded or computed before it first is.
    #[prop(into)]
    active: Signal<bool>,
) -> impl IntoView {
    let text = RwSignal::new(example_yaml(Mode::Llm));
    let seed = RwSignal::new(String::new());
    let dataset = RwSignal::new(None::<Chosen>);
    let trace = RwSignal::new(None::<Chosen>);
    // The text for which "generate anyway" was pressed.
    let large_ok = RwSignal::new(None::<String>);

    // The latest answer of the preview module; `None` until the first one.
    let preview = RwSignal::new(None::<Preview>);
    let asked = StoredValue::new(0u64);
    let opened = Memo::new(move |was: Option<&bool>| was.copied().unwrap_or(false) || active.get());
    Effect::new(move |_| {
        if !opened.get() {
            return;
        }
        let t = text.get();
        let s = seed.get();
        let d = dataset.get().map(|c| c.bytes.to_vec());
        let tr = trace.get().map(|c| c.bytes.to_vec());
        let allow_large = large_ok.with(|ok| ok.as_deref() == Some(t.as_str()));
        let n = asked.get_value() + 1;
        asked.set_value(n);
        spawn_local(async move {
            let p = web::run_preview(&t, &s, d, tr, allow_large).await;
            // Only the answer to the latest question is shown.
            if asked.get_value() == n {
                preview.set(Some(p));
            }
        });
    });
    // The last workload generated, kept while the text is being edited into something invalid.
    let last: Memo<Option<Arc<Generated>>> =
        Memo::new(move |prev: Option<&Option<Arc<Generated>>>| {
            preview.with(|p| match p {
                Some(Preview::Ready(g)) => Some(Arc::new((**g).clone())),
                _ => prev.cloned().flatten(),
            })
        });
    let current = Memo::new(move |_| preview.with(|p| matches!(p, Some(Preview::Ready(_)))));
    let chart_ids = Memo::new(move |_| {
        last.with(|g| {
            g.as_ref()
                .map(|g| g.charts.iter().map(|c| c.id.clone()).collect::<Vec<_>>())
                .unwrap_or_default()
        })
    });

    let choose = move |target: RwSignal<Option<Chosen>>| {
        move |ev: leptos::ev::Event| {
            let input: web_sys::HtmlInputElement = event_target(&ev);
            let Some(file) = input.files().and_then(|l| l.get(0)) else {
                return;
            };
            spawn_local(async move {
                let name = file.name();
                match web::file_bytes(&file).await {
                    Ok(bytes) => target.set(Some(Chosen {
                        name,
                        bytes: Arc::new(bytes),
                    })),
                    Err(e) => web_sys::console::error_1(&format!("{name}: {e}").into()),
                }
            });
        }
    };

    let download = move |_| {
        let t = text.get_untracked();
        let ext = config_extension(&t);
        let mime = if ext == "json" {
            "application/json"
        } else {
            "application/yaml"
        };
        if let Err(e) = web::download_text(&format!("sage-cp-bench-config.{ext}"), &t, mime) {
            web_sys::console::error_1(&format!("download: {e}").into());
        }
    };

    let status = move || {
        preview.with(|p| match p {
            None => view! {
                <p class="hint" id="preview-loading">
                    "Loading the workload generator…"
                </p>
            }
            .into_any(),
            Some(Preview::Ready(_)) => ().into_any(),
            Some(Preview::Parse { message, line, column }) => {
                let pos = match (line, column) {
                    (Some(l), Some(c)) => format!("line {l}, column {c}"),
                    (Some(l), None) => format!("line {l}"),
                    _ => String::new(),
                };
                view! {
                    <div class="error" id="config-error" role="alert">
                        <div class="error-head">
                            <strong>"The config does not parse"</strong>
                            <span class="error-pos">{pos}</span>
                        </div>
                        <p class="error-message">{message.clone()}</p>
                    </div>
                }
                .into_any()
            }
            Some(Preview::Invalid(problems)) => {
                view! {
                    <div class="error" id="config-problems" role="alert">
                        <div class="error-head">
                            <strong>{format!("{} problem(s) in the config", problems.len())}</strong>
                        </div>
                        <table class="problems">
                            <thead>
                                <tr>
                                    <th>"Field"</th>
                                    <th>"Got"</th>
                                    <th>"Expected"</th>
                                </tr>
                            </thead>
                            <tbody>
                                {problems
                                    .iter()
                                    .map(|pr| {
                                        view! {
                                            <tr data-field=pr.field.clone()>
                                                <td>
                                                    <code>{pr.field.clone()}</code>
                                                </td>
                                                <td>
                                                    <code>{pr.value.clone()}</code>
                                                </td>
                                                <td>{pr.expected.clone()}</td>
                                            </tr>
                                        }
                                    })
                                    .collect_view()}
                            </tbody>
                        </table>
                    </div>
                }
                .into_any()
            }
            Some(Preview::NeedsFile { file, path }) => {
                let (what, target) = match file {
                    NamedFile::Dataset => ("dataset", dataset),
                    NamedFile::Trace => ("trace", trace),
                };
                view! {
                    <div class="notice" id="config-needs-file">
                        <p>
                            {format!(
                                "The config names the {what} file {path:?}. The browser cannot open paths: choose that file to preview the workload.",
                            )}
                        </p>
                        <label class="button">
                            {format!("Choose the {what} file…")}
                            <input type="file" on:change=choose(target) />
                        </label>
                    </div>
                }
                .into_any()
            }
            Some(Preview::BadFile { file, message }) => {
                let (what, target) = match file {
                    NamedFile::Dataset => ("dataset", dataset),
                    NamedFile::Trace => ("trace", trace),
                };
                view! {
                    <div class="error" role="alert">
                        <p class="error-message">{format!("The {what} file could not be read: {message}")}</p>
                        <label class="button">
                            {format!("Choose another {what} file…")}
                            <input type="file" on:change=choose(target) />
                        </label>
                    </div>
                }
                .into_any()
            }
            Some(Preview::TooLarge { requests }) => {
                view! {
                    <div class="notice" id="config-large">
                        <p>
                            {format!(
                                "This workload has {requests} requests (warmup included); generating it in the page may take a while.",
                            )}
                        </p>
                        <button
                            type="button"
                            class="button primary"
                            on:click=move |_| large_ok.set(Some(text.get_untracked()))
                        >
                            "Generate anyway"
                        </button>
                    </div>
                }
                .into_any()
            }
            Some(Preview::Failed(message)) => {
                view! {
                    <div class="error" role="alert">
                        <p class="error-message">{message.clone()}</p>
                    </div>
                }
                .into_any()
            }
        })
    };

    let stats = move || {
        preview.with(|p| {
            let Some(Preview::Ready(g)) = p else {
                return None;
            };
            let rate = if g.duration_s > 0.0 {
                format!("{:.2}", g.requests as f64 / g.duration_s)
            } else {
                "-".into()
            };
            Some(view! {
                <dl class="stats" id="workload-stats">
                    <div>
                        <dt>"Requests"</dt>
                        <dd id="workload-requests">{g.requests.to_string()}</dd>
                    </div>
                    <div>
                        <dt>"Warmup"</dt>
                        <dd id="workload-warmup">{g.warmup.to_string()}</dd>
                    </div>
                    <div>
                        <dt>"Last arrival"</dt>
                        <dd>{format!("{:.1} s", g.duration_s)}</dd>
                    </div>
                    <div>
                        <dt>"Mean rate"</dt>
                        <dd>{format!("{rate} req/s")}</dd>
                    </div>
                    <div>
                        <dt>"Seed"</dt>
                        <dd id="workload-seed">{g.seed.to_string()}</dd>
                    </div>
                    <div class="hash">
                        <dt>"Workload hash"</dt>
                        <dd>
                            <code id="workload-hash">{g.hash.clone()}</code>
                        </dd>
                    </div>
                </dl>
            })
        })
    };

    let files_chosen = move || {
        let d = dataset.get().map(|c| format!("dataset: {}", c.name));
        let t = trace.get().map(|c| format!("trace: {}", c.name));
        let list: Vec<String> = d.into_iter().chain(t).collect();
        (!list.is_empty()).then(|| {
            view! {
                <p class="hint">
                    {format!("Using {}. ", list.join(", "))}
                    <button
                        type="button"
                        class="link"
                        on:click=move |_| {
                            dataset.set(None);
                            trace.set(None);
                        }
                    >
                        "Forget them"
                    </button>
                </p>
            }
        })
    };

    view! {
        <section class="preview">
            <div class="card editor">
                <div class="editor-head">
                    <h2>"Workload preview"</h2>
                    <div class="mode-switch" role="group" aria-label="Example config">
                        <button
                            type="button"
                            id="example-llm"
                            class="button"
                            on:click=move |_| text.set(example_yaml(Mode::Llm))
                        >
                            "LLM example"
                        </button>
                        <button
                            type="button"
                            id="example-hybrid"
                            class="button"
                            on:click=move |_| text.set(example_yaml(Mode::Hybrid))
                        >
                            "Hybrid example"
                        </button>
                    </div>
                </div>
                <p class="note">
                    "Edit a benchmark config (YAML or JSON). The workload is generated here by the same code as the runner, so the hash equals "
                    <code>"sage-cp-bench config --hash FILE --seed N"</code> "."
                </p>
                <textarea
                    id="config-editor"
                    rows="22"
                    spellcheck="false"
                    aria-label="Benchmark config"
                    bind:value=text
                ></textarea>
                <div class="editor-foot">
                    <label class="seed">
                        <span>"Seed"</span>
                        <input
                            id="seed-input"
                            type="text"
                            inputmode="numeric"
                            placeholder="from the config"
                            bind:value=seed
                        />
                    </label>
                    <button type="button" id="download-config" class="button" on:click=download>
                        "Download config"
                    </button>
                </div>
                {files_chosen}
            </div>
            <div class="preview-status">{status} {stats}</div>
            <div class="grid" class:stale=move || !current.get()>
                <For
                    each=move || chart_ids.get()
                    key=|id| id.clone()
                    children=move |id| {
                        let key = id.clone();
                        let spec = Memo::new(move |_| {
                            last.with(|g| {
                                g.as_ref()
                                    .and_then(|g| g.charts.iter().find(|c| c.id == id).cloned())
                                    .unwrap_or_else(|| empty_spec(&id))
                            })
                        });
                        view! { <ChartView key=key spec=spec stale=Signal::derive(move || !current.get()) /> }
                    }
                />
            </div>
        </section>
    }
}
