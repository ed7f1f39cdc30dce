//! The browser viewer of sage-cp-bench result files.
//!
//! A leptos app (client-side rendering, compiled to WebAssembly) that loads one or several
//! result files (file picker, drag and drop, paste, `?url=`), its own or those of `vllm bench
//! serve`, GuideLLM and AIPerf (read by [`cpbench_core::import`]), compares their runs in a
//! sortable summary table and interactive charts drawn with plotters on `<canvas>` from the
//! chart specs of [`cpbench_core::chart`], and previews the workload of a config, generated in
//! the browser by the same core as the runner (so its hash equals the native one).
//!
//! The workload preview's computation is the crate `cpbench-viewer-preview`, built as its own
//! module that the page loads when the preview is first opened, so the results view loads
//! without the config parser and the workload generator.
//!
//! A page that embeds a result file (the single-file HTML report of `sage-cp-bench`) opens
//! with it loaded (`embedded`); more files can be added to compare as on the hosted page.
//!
//! The logic that needs no browser ([`load`]) builds and is tested on every target; the page
//! itself (`app`, `attribution`, `charts`, `embedded`, `results`, `workload`, `web`) exists
//! only on `wasm32`.

pub mod load;

// leptos' `#[component]` re-emits each component function as `pub`, which the workspace's
// `unreachable_pub` lint flags inside these private modules.
#[cfg(target_arch = "wasm32")]
#[allow(unreachable_pub)]
mod app;
#[cfg(target_arch = "wasm32")]
#[allow(unreachable_pub)]
mod attribution;
#[cfg(target_arch = "wasm32")]
#[allow(unreachable_pub)]
mod charts;
#[cfg(target_arch = "wasm32")]
mod embedded;
#[cfg(target_arch = "wasm32")]
#[allow(unreachable_pub)]
mod results;
#[cfg(target_arch = "wasm32")]
#[allow(unreachable_pub)]
mod verdicts;
#[cfg(target_arch = "wasm32")]
mod web;
#[cfg(target_arch = "wasm32")]
#[allow(unreachable_pub)]
mod workload;

/// Entry point: installs the panic hook and mounts the app on `#app` (or the body).
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen(start)]
pub fn start() {
    web::install_panic_hook();
    app::mount();
}
