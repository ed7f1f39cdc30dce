//! The page: header, tabs, footer; mounting.

use crate::charts::RedrawTick;
use crate::results::{Files, Results};
use crate::workload::WorkloadPreview;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

/// Mounts the app on the `#app` element (its placeholder content removed), or on the body.
pub(crate) fn mount() {
    let target = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("app"))
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
    match target {
        Some(el) => {
            el.set_text_content(None);
            leptos::mount::mount_to(el, App).forget();
        }
        None => leptos::mount::mount_to_body(App),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tab {
    Results,
    Preview,
}

/// The whole viewer.
#[component]
fn App() -> impl IntoView {
    // A single-file report carries only the results view: the workload preview's module is
    // not embedded in it.
    let single_file = crate::embedded::is_single_file();
    let start = match web_sys::window()
        .and_then(|w| w.location().hash().ok())
        .as_deref()
    {
        Some("#preview") if !single_file => Tab::Preview,
        _ => Tab::Results,
    };
    let tab = RwSignal::new(start);
    let tick = RwSignal::new(0u32);
    provide_context(RedrawTick(tick));
    let resize = window_event_listener(leptos::ev::resize, move |_| {
        tick.update(|t| *t = t.wrapping_add(1))
    });
    on_cleanup(move || resize.remove());
    let files = Files::new();

    let select = move |t: Tab| {
        tab.set(t);
        // Charts of a tab that was hidden have no size yet: draw them now.
        tick.update(|x| *x = x.wrapping_add(1));
        if let Some(w) = web_sys::window() {
            let _ = w
                .location()
                .set_hash(if t == Tab::Preview { "preview" } else { "" });
        }
    };

    view! {
        <header class="top">
            <div class="brand">
                <span class="logo" aria-hidden="true"></span>
                <h1>"sage-cp-bench" <span class="sub">"viewer"</span></h1>
            </div>
            <nav class="tabs" role="tablist">
                {[
                    (Tab::Results, "tab-results", "Results"),
                    (Tab::Preview, "tab-preview", "Workload preview"),
                ]
                    .into_iter()
                    .filter(|(t, _, _)| !single_file || *t == Tab::Results)
                    .map(|(t, id, label)| {
                        view! {
                            <button
                                type="button"
                                role="tab"
                                id=id
                                aria-selected=move || (tab.get() == t).to_string()
                                on:click=move |_| select(t)
                            >
                                {label}
                            </button>
                        }
                    })
                    .collect::<Vec<_>>()}
            </nav>
        </header>
        <main>
            <div role="tabpanel" id="panel-results" hidden=move || tab.get() != Tab::Results>
                <Results files=files />
            </div>
            <div role="tabpanel" id="panel-preview" hidden=move || tab.get() != Tab::Preview>
                <WorkloadPreview active=Signal::derive(move || tab.get() == Tab::Preview) />
            </div>
        </main>
        <footer>
            {format!("sage-cp-bench {} · ", cpbench_core::TOOL_VERSION)}
            "Everything runs in this page: result files and configs never leave your browser."
        </footer>
    }
}
