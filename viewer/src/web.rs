//! Thin wrappers over the browser APIs the viewer uses: the panic hook, reading files,
//! fetching URLs, downloading text.

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Shows any panic's message in the page's `#panic` element (and the console), so a bug
/// never leaves a blank or silently frozen page.
pub(crate) fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let message =
            format!("The viewer stopped because of a bug: {info}. Reload the page to start again.");
        web_sys::console::error_1(&JsValue::from_str(&message));
        if let Some(el) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.get_element_by_id("panic"))
        {
            el.set_text_content(Some(&message));
            let _ = el.remove_attribute("hidden");
        }
    }));
}

/// Text of a JavaScript error or value, for messages.
pub(crate) fn js_message(v: &JsValue) -> String {
    if let Some(e) = v.dyn_ref::<js_sys::Error>() {
        return String::from(e.message());
    }
    v.as_string().unwrap_or_else(|| format!("{v:?}"))
}

/// The whole text of a chosen or dropped file.
pub(crate) async fn file_text(file: &web_sys::File) -> Result<String, String> {
    let v = JsFuture::from(file.text())
        .await
        .map_err(|e| js_message(&e))?;
    v.as_string()
        .ok_or_else(|| "the file is not text".to_owned())
}

/// The bytes of a chosen file.
pub(crate) async fn file_bytes(file: &web_sys::File) -> Result<Vec<u8>, String> {
    let v = JsFuture::from(file.array_buffer())
        .await
        .map_err(|e| js_message(&e))?;
    Ok(js_sys::Uint8Array::new(&v).to_vec())
}

/// Fetches a URL's body as text (same origin, or a server that allows it with CORS).
pub(crate) async fn fetch_text(url: &str) -> Result<String, String> {
    let window = web_sys::window().ok_or("no window")?;
    let resp = JsFuture::from(window.fetch_with_str(url))
        .await
        .map_err(|e| {
            format!(
                "could not fetch it ({}); a server on another origin must allow CORS",
                js_message(&e)
            )
        })?;
    let resp: web_sys::Response = resp.dyn_into().map_err(|e| js_message(&e))?;
    if !resp.ok() {
        return Err(format!(
            "the server answered {} {}",
            resp.status(),
            resp.status_text()
        ));
    }
    let text = JsFuture::from(resp.text().map_err(|e| js_message(&e))?)
        .await
        .map_err(|e| js_message(&e))?;
    text.as_string()
        .ok_or_else(|| "the response is not text".to_owned())
}

/// The `url` parameters of the page's address, in order.
pub(crate) fn url_params() -> Vec<String> {
    let Some(search) = web_sys::window().and_then(|w| w.location().search().ok()) else {
        return Vec::new();
    };
    let Ok(params) = web_sys::UrlSearchParams::new_with_str(&search) else {
        return Vec::new();
    };
    params
        .get_all("url")
        .iter()
        .filter_map(|v| v.as_string())
        .filter(|s| !s.trim().is_empty())
        .collect()
}

/// Offers `text` as a download named `file_name`.
pub(crate) fn download_text(file_name: &str, text: &str, mime: &str) -> Result<(), String> {
    let parts = js_sys::Array::of1(&JsValue::from_str(text));
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type(mime);
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &opts)
        .map_err(|e| js_message(&e))?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(|e| js_message(&e))?;
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("no document")?;
    let a: web_sys::HtmlAnchorElement = document
        .create_element("a")
        .map_err(|e| js_message(&e))?
        .dyn_into()
        .map_err(|e| js_message(&e))?;
    a.set_href(&url);
    a.set_download(file_name);
    a.click();
    web_sys::Url::revoke_object_url(&url).map_err(|e| js_message(&e))?;
    Ok(())
}

#[wasm_bindgen::prelude::wasm_bindgen(module = "/js/preview.js")]
extern "C" {
    /// Runs the workload-preview module (loading it the first time): the answer is a
    /// `cpbench_viewer_preview::Preview` as JSON.
    #[wasm_bindgen(catch, js_name = runPreview)]
    async fn run_preview_js(
        text: &str,
        seed: &str,
        dataset: Option<Vec<u8>>,
        trace: Option<Vec<u8>>,
        allow_large: bool,
    ) -> Result<JsValue, JsValue>;
}

/// The preview of these inputs, computed by the lazily loaded preview module.
pub(crate) async fn run_preview(
    text: &str,
    seed: &str,
    dataset: Option<Vec<u8>>,
    trace: Option<Vec<u8>>,
    allow_large: bool,
) -> cpbench_viewer_preview::Preview {
    use cpbench_viewer_preview::Preview;
    match run_preview_js(text, seed, dataset, trace, allow_large).await {
        Ok(v) => match v
            .as_string()
            .map(|json| serde_json::from_str::<Preview>(&json))
        {
            Some(Ok(p)) => p,
            Some(Err(e)) => Preview::Failed(format!(
                "the preview module answered something unreadable: {e}"
            )),
            None => Preview::Failed("the preview module answered no text".into()),
        },
        Err(e) => Preview::Failed(format!(
            "the workload preview module could not be loaded ({}); check that the site's preview/ folder was deployed",
            js_message(&e)
        )),
    }
}

/// Device pixels per CSS pixel (1 where unknown).
pub(crate) fn pixel_ratio() -> f64 {
    web_sys::window()
        .map(|w| w.device_pixel_ratio())
        .filter(|r| r.is_finite() && *r > 0.0)
        .unwrap_or(1.0)
}
