// Loads the workload-preview module (config parser, workload generator, hash) the first time
// it is needed, from `preview/` beside the page, and runs it.

let loading = null;

function load() {
  if (!loading) {
    const url = new URL('preview/cpbench_viewer_preview.js', document.baseURI).href;
    loading = import(url)
      .then(async (m) => {
        await m.default();
        return m;
      })
      .catch((err) => {
        loading = null;
        throw err;
      });
  }
  return loading;
}

export async function runPreview(text, seed, dataset, trace, allowLarge) {
  const m = await load();
  return m.preview(text, seed, dataset, trace, allowLarge);
}
