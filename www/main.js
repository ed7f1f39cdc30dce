// Loads the WebAssembly viewer; any failure to start is shown in the page.
import init from './pkg/cpbench_viewer.js';

init().catch((err) => {
  const el = document.getElementById('panic');
  el.textContent = `The viewer could not start: ${err && err.message ? err.message : err}`;
  el.hidden = false;
});
