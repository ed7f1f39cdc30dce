// Starts the viewer embedded in this single-file report: its glue, JS snippets and wasm are
// base64 data blocks of the page (a file:// page can load nothing else). The glue is imported
// from a blob: URL after its snippet imports are pointed at blob: URLs of the snippets; the
// wasm is handed to it as bytes. If anything fails, the static report is shown instead.
const byId = (id) => document.getElementById(id);

function decode(b64) {
  const s = atob(b64.trim());
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

async function gunzip(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

const jsUrl = (text) => URL.createObjectURL(new Blob([text], { type: 'text/javascript' }));
const text = (b64) => new TextDecoder().decode(decode(b64));

async function start() {
  byId('cpbench-viewer-style').media = 'all';
  let glue = text(byId('cpbench-viewer-glue').textContent);
  for (const s of document.querySelectorAll('script.cpbench-viewer-snippet')) {
    const url = jsUrl(text(s.textContent));
    const path = s.dataset.path;
    glue = glue.replaceAll(`'${path}'`, `'${url}'`).replaceAll(`"${path}"`, `"${url}"`);
  }
  const w = byId('cpbench-viewer-wasm');
  let wasm = decode(w.textContent);
  if (w.dataset.encoding === 'gzip') wasm = await gunzip(wasm);
  const viewer = await import(jsUrl(glue));
  await viewer.default({ module_or_path: wasm });
}

start().catch((err) => {
  byId('cpbench-viewer-style').media = 'not all';
  const panic = byId('panic');
  panic.textContent = `The interactive viewer could not start (${err && err.message ? err.message : err}); this is the static report.`;
  panic.hidden = false;
  // With scripts on, the <noscript> elements hold their markup as text: show it.
  const style = byId('cpbench-static-style');
  if (style) document.head.insertAdjacentHTML('beforeend', style.textContent);
  const report = byId('cpbench-static-report');
  if (report) byId('app').innerHTML = report.textContent;
});
