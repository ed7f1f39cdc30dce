// End-to-end tests of the viewer in headless Chromium: loading, the numbers shown, the charts,
// hostile file contents, and the workload preview's hash against the native one.
//
// Needs the built bundle (www/build.sh, or VIEWER_DIST) and, for the hash test, either
// WORKLOAD_HASH_BIN (the built `workload_hash` example) or cargo.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, writeFile, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  startServer,
  launch,
  openPage,
  readFixture,
  fixturePath,
  waitForCharts,
  inkedPixels,
  canvasImage,
  formatNumber,
  repoRoot,
} from './harness.mjs';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

async function loadFiles(names, path = '/') {
  const { page, log } = await openPage(browser.context, server.origin + path);
  await page.setInputFiles('#file-input', names.map(fixturePath));
  await page.waitForSelector('#summary-table tbody tr');
  return { page, log };
}

/** The table's cells by run index and column id: `{ text, value }`. */
async function tableCells(page) {
  return page.$$eval('#summary-table tbody tr', (rows) =>
    rows.map((tr) => ({
      run: Number(tr.dataset.run),
      cells: Object.fromEntries(
        [...tr.querySelectorAll('td')].map((td) => [td.dataset.col, { text: td.textContent.trim(), value: td.dataset.value }]),
      ),
    })),
  );
}

function assertClean(log) {
  assert.deepEqual(log.errors, [], 'no uncaught page errors');
  assert.deepEqual(log.dialogs, [], 'no dialogs');
  const origin = server.origin;
  const foreign = log.requests.filter((u) => !u.startsWith(origin) && !u.startsWith('data:') && !u.startsWith('blob:'));
  assert.deepEqual(foreign, [], 'the page requests nothing but its own origin');
}

test('a compare result loads and the table shows the file\'s numbers', async () => {
  const report = await readFixture('compare.json');
  const { page, log } = await loadFiles(['compare.json']);
  const rows = await tableCells(page);
  assert.equal(rows.length, report.runs.length);
  for (const { run, cells } of rows) {
    const r = report.runs[run];
    const s = r.summary;
    const expect = {
      throughput: s.request_throughput_rps,
      output_tokens: s.output_tokens_per_s,
      ttft_p50: s.ttft.p50_ms,
      ttft_p99: s.ttft.p99_ms,
      high_ttft_p99: r.by_priority.HIGH.ttft.p99_ms,
      tpot_p50: s.tpot.p50_ms,
      e2e_avg: s.e2e.mean_ms,
      e2e_p99: s.e2e.p99_ms,
      slo: s.slo_compliance,
      errors: s.error_rate,
    };
    assert.equal(cells.policy.text, r.policy);
    for (const [col, v] of Object.entries(expect)) {
      // The exact number is on the cell; the text is that number rounded as the terminal table rounds it.
      assert.equal(Number(cells[col].value), v, `${r.policy} ${col} value`);
      const shown = parseFloat(cells[col].text);
      let tolerance;
      let scaled = v;
      if (col === 'slo' || col === 'errors') {
        scaled = v * 100;
        tolerance = 0.05;
        assert.match(cells[col].text, /^\d+\.\d%$/);
      } else if (col === 'throughput') {
        tolerance = 0.05;
      } else if (col === 'output_tokens') {
        tolerance = 0.5;
      } else {
        tolerance = v >= 100 ? 0.5 : 0.05;
      }
      assert.ok(Math.abs(shown - scaled) <= tolerance + 1e-9, `${r.policy} ${col}: shown ${cells[col].text}, file ${v}`);
    }
  }
  // The best TTFT p99 is marked.
  const best = Math.min(...report.runs.map((r) => r.summary.ttft.p99_ms));
  const marked = await page.$$eval('#summary-table td.best[data-col="ttft_p99"]', (tds) => tds.map((t) => Number(t.dataset.value)));
  assert.deepEqual(marked, [best]);
  assertClean(log);
  // The preview's module (workload generator) is not loaded for viewing results.
  assert.ok(!log.requests.some((u) => u.includes('/preview/')), log.requests.join('\n'));
  await page.close();
});

test('headers sort the table', async () => {
  const { page } = await loadFiles(['compare.json']);
  const values = () => page.$$eval('#summary-table tbody td[data-col="ttft_p99"]', (tds) => tds.map((t) => Number(t.dataset.value)));
  await page.click('#summary-table th[data-col="ttft_p99"] button');
  const asc = await values();
  assert.deepEqual(asc, [...asc].sort((a, b) => a - b), 'latency sorts best (lowest) first');
  assert.equal(await page.getAttribute('#summary-table th[data-col="ttft_p99"]', 'aria-sort'), 'ascending');
  await page.click('#summary-table th[data-col="ttft_p99"] button');
  const desc = await values();
  assert.deepEqual(desc, [...asc].reverse());
  await page.click('#summary-table th[data-col="policy"] button');
  const names = await page.$$eval('#summary-table tbody td[data-col="policy"]', (tds) => tds.map((t) => t.textContent.trim()));
  assert.deepEqual(names, [...names].sort());
  await page.close();
});

test('every chart is drawn, and a legend toggle changes it', async () => {
  const { page, log } = await loadFiles(['compare.json']);
  await waitForCharts(page);
  const ids = await page.$$eval('#panel-results figure.chart', (fs) => fs.map((f) => f.id));
  for (const id of ['chart-throughput', 'chart-tokens', 'chart-latency', 'chart-cdf', 'chart-latency-by', 'chart-slo', 'chart-goodput', 'chart-time-series', 'chart-lateness', 'chart-gpu', 'chart-control-plane', 'chart-instances']) {
    assert.ok(ids.includes(id), `${id} shown (have ${ids})`);
  }
  for (const id of ids) {
    const inked = await inkedPixels(page, `#${id} canvas`);
    assert.ok(inked > 2000, `${id} has ${inked} drawn pixels`);
  }
  // No sweep in a compare file.
  assert.ok(!ids.includes('chart-sweep-throughput'));

  const canvas = '#chart-throughput canvas';
  const before = await canvasImage(page, canvas);
  const draws = Number(await page.getAttribute(canvas, 'data-draws'));
  const first = page.locator('#chart-throughput .legend-item').first();
  await first.click();
  await page.waitForFunction(([sel, n]) => Number(document.querySelector(sel).dataset.draws) > n, [canvas, draws]);
  assert.equal(await first.getAttribute('aria-pressed'), 'false');
  const hidden = await canvasImage(page, canvas);
  assert.notEqual(hidden, before, 'hiding a series redraws the chart without it');
  await first.click();
  await page.waitForFunction(([sel, n]) => Number(document.querySelector(sel).dataset.draws) > n + 1, [canvas, draws]);
  assert.equal(await canvasImage(page, canvas), before, 'showing it again gives the first drawing back');
  assertClean(log);
  await page.close();
});

test('hovering a bar shows its exact value', async () => {
  const report = await readFixture('compare.json');
  const { page } = await loadFiles(['compare.json']);
  await waitForCharts(page);
  const canvas = page.locator('#chart-throughput canvas');
  const geometry = (await canvas.getAttribute('data-geometry')).split(',').map(Number);
  const [left, top, right, bottom, xMin, xMax, yMin, yMax] = geometry;
  await canvas.scrollIntoViewIfNeeded();
  const box = await canvas.boundingBox();
  const ratio = box.width / (await canvas.evaluate((c) => c.width));
  const n = report.runs.length;
  for (let series = 0; series < n; series++) {
    // Category 0 (throughput) spans -0.4..0.4; series k has the k-th slice of it.
    const x = -0.4 + ((series + 0.5) * 0.8) / n;
    const value = report.runs[series].summary.request_throughput_rps;
    const px = left + ((x - xMin) / (xMax - xMin)) * (right - left);
    const py = bottom + ((value / 2 - yMin) / (yMax - yMin)) * (top - bottom);
    await page.mouse.move(box.x + px * ratio, box.y + py * ratio);
    const tip = page.locator('#chart-throughput .tooltip');
    await tip.waitFor();
    assert.equal(await tip.locator('.tip-series').textContent(), report.runs[series].policy);
    assert.equal(await tip.locator('.tip-y').textContent(), `${formatNumber(value)} req/s`);
    assert.equal(await tip.locator('.tip-x').textContent(), 'Throughput');
  }
  await page.mouse.move(0, 0);
  await page.locator('#chart-throughput .tooltip').waitFor({ state: 'detached' });
  await page.close();
});

test('selects change the metric and percentile', async () => {
  const { page } = await loadFiles(['compare.json']);
  await waitForCharts(page);
  assert.match(await page.textContent('#chart-latency h3'), /Time to first token/);
  await page.selectOption('#metric-select', 'e2e');
  assert.match(await page.textContent('#chart-latency h3'), /End-to-end latency/);
  assert.match(await page.textContent('#chart-cdf h3'), /End-to-end latency/);
  await page.selectOption('#percentile-select', 'p50');
  await page.selectOption('#breakdown-select', 'kind');
  assert.equal(await page.textContent('#chart-latency-by h3'), 'E2E p50 by request type');
  await page.selectOption('#series-select', 'e2e_p99');
  assert.equal(await page.textContent('#chart-time-series h3'), 'E2E p99 per second');
  await page.close();
});

test('?url= loads several files, each a named series, and sweeps get their charts', async () => {
  const sweep = await readFixture('sweep.json');
  const compare = await readFixture('compare.json');
  const { page, log } = await openPage(browser.context, `${server.origin}/?url=fixtures/compare.json&url=fixtures/sweep.json&url=fixtures/missing.json`);
  await page.waitForFunction(() => document.querySelectorAll('#summary-table tbody tr').length >= 11);
  const files = await page.$$eval('#file-list .file-name', (es) => es.map((e) => e.textContent));
  assert.deepEqual(files.sort(), ['compare.json', 'sweep.json']);
  const names = await page.$$eval('#summary-table tbody td[data-col="policy"]', (tds) => tds.map((t) => t.textContent.trim()));
  assert.equal(names.length, compare.runs.length + sweep.runs.length);
  assert.ok(names.includes('sweep.json: fifo @13 req/s'), names.join(' | '));
  assert.ok(names.some((n) => n.startsWith('compare.json: ')));
  await page.waitForSelector('#chart-sweep-throughput canvas');
  await waitForCharts(page);
  assert.ok((await inkedPixels(page, '#chart-sweep-latency canvas')) > 2000);
  const legend = await page.$$eval('#chart-sweep-throughput .legend-name', (es) => es.map((e) => e.textContent));
  assert.deepEqual(legend, ['sweep.json: fifo', 'sweep.json: slo_aware']);
  const err = await page.textContent('#load-errors');
  assert.match(err, /missing\.json/);
  assert.match(err, /404/);
  assertClean(log);
  await page.close();
});

test('malformed JSON shows the parse error with its position, and the page keeps working', async () => {
  const { page, log } = await openPage(browser.context, server.origin + '/');
  await page.setInputFiles('#file-input', [fixturePath('malformed.json'), fixturePath('schema-v99.json')]);
  await page.waitForFunction(() => document.querySelectorAll('#load-errors .error').length === 2);
  const errors = await page.$$eval('#load-errors .error', (es) =>
    es.map((e) => ({
      source: e.querySelector('.error-source').textContent,
      pos: e.querySelector('.error-pos')?.textContent ?? null,
      message: e.querySelector('.error-message').textContent,
      excerpt: e.querySelector('.excerpt')?.textContent ?? null,
    })),
  );
  const bad = errors.find((e) => e.source === 'malformed.json');
  assert.match(bad.pos, /^line 6, column \d+$/);
  assert.match(bad.message, /line 6 column \d+/);
  assert.match(bad.excerpt, /"requests_total": 12 "requests_succeeded"/);
  assert.match(bad.excerpt, /\n *\^$/);
  const v2 = errors.find((e) => e.source === 'schema-v99.json');
  assert.match(v2.message, /schema_version 99/);
  assert.match(v2.message, /reads schema_version 1 to 2/);
  assert.match(v2.message, /written by sage-cp-bench 9\.0\.0/);

  // Pasted text gets the same treatment.
  await page.click('.paste summary');
  await page.fill('#paste-input', '{"schema_version": 1,\n  oops}');
  await page.click('#paste-load');
  await page.waitForFunction(() => document.querySelectorAll('#load-errors .error').length === 3);
  const pasted = await page.$$eval('#load-errors .error', (es) => es.map((e) => [e.querySelector('.error-source').textContent, e.querySelector('.error-pos')?.textContent]));
  assert.deepEqual(pasted[2], ['pasted 1', 'line 2, column 3']);

  // Dismissing works; no panic; a good file still loads after the bad ones.
  await page.click('#load-errors .error .dismiss');
  assert.equal(await page.locator('#load-errors .error').count(), 2);
  assert.equal(await page.isHidden('#panic'), true);
  await page.setInputFiles('#file-input', fixturePath('hybrid.json'));
  await page.waitForSelector('#summary-table tbody tr');
  // Hybrid files get the LLM and embedding SLO columns.
  assert.equal(await page.locator('#summary-table th[data-col="embedding_slo"]').count(), 1);
  assertClean(log);
  await page.close();
});

test('a dropped file loads', async () => {
  const text = await readFile(fixturePath('hybrid.json'), 'utf8');
  const { page } = await openPage(browser.context, server.origin + '/');
  await page.evaluate((text) => {
    const dt = new DataTransfer();
    dt.items.add(new File([text], 'dropped.json', { type: 'application/json' }));
    const target = document.querySelector('.dropzone');
    target.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
    target.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, text);
  await page.waitForSelector('#summary-table tbody tr');
  assert.equal(await page.textContent('#file-list .file-name'), 'dropped.json');
  await page.close();
});

test('names with markup render as text and run nothing', async () => {
  const report = await readFixture('hostile.json');
  const { page, log } = await loadFiles(['hostile.json']);
  await waitForCharts(page);
  // Hover and click around the hostile strings.
  await page.hover('#chart-throughput canvas');
  await page.locator('#chart-throughput .legend-item').first().click();
  const names = await page.$$eval('#summary-table tbody td[data-col="policy"]', (tds) => tds.map((t) => t.textContent.trim()));
  for (const r of report.runs) {
    assert.ok(names.some((n) => n.startsWith(r.policy)), `literal policy name shown: ${r.policy}`);
  }
  const legend = await page.$$eval('#chart-throughput .legend-name', (es) => es.map((e) => e.textContent));
  assert.ok(legend.some((l) => l.includes('<script>window.__xss')), legend.join(' | '));
  const warnings = await page.textContent('#file-list');
  assert.match(warnings, /<iframe src="javascript:/);
  assert.match(warnings, /<marquee>report warning<\/marquee>/);
  const options = await page.$$eval('#cp-select option', (os) => os.map((o) => o.textContent));
  assert.ok(options.some((o) => o.includes('<i onclick=')), options.join(' | '));
  // Nothing was turned into elements, and nothing ran.
  const injected = await page.evaluate(() => document.querySelectorAll('main img, main script, main svg, main iframe, main marquee, main b, main i, main style').length);
  assert.equal(injected, 0);
  assert.equal(await page.evaluate(() => window.__xss), undefined);
  assert.deepEqual(log.dialogs, []);
  assert.ok(!log.console.some((m) => m.includes('__xss')), log.console.join('\n'));
  assertClean(log);
  await page.close();
});

// trials.json is real output of
//   SOURCE_DATE_EPOCH=1767225600 sage-cp-bench simulate -p fifo,slo_aware,fcfs -n 300 -r 43 \
//     --trials 5 --no-records --no-visualize -o DIR
// (fcfs is fifo under another name).
test('repeated trials show means with intervals, the verdict table and whiskered charts', async () => {
  const report = await readFixture('trials.json');
  const { page, log } = await loadFiles(['trials.json']);
  const stats = report.statistics.groups[0];
  // One row per policy (the first trial's run stands for the policy), values are the means.
  const rows = await tableCells(page);
  assert.equal(rows.length, 3);
  const byPolicy = Object.fromEntries(rows.map((r) => [r.cells.policy.text, r.cells]));
  for (const p of stats.policies) {
    const slo = p.metrics.slo;
    const cell = byPolicy[p.policy].slo;
    assert.equal(Number(cell.value), slo.mean, `${p.policy} SLO is the mean over trials`);
    const half = (slo.interval.high - slo.interval.low) / 2;
    assert.match(cell.text, /^\d+\.\d ± \d+\.\d%$/, cell.text);
    const [mean, hw] = cell.text.replace('%', '').split(' ± ').map(Number);
    assert.ok(Math.abs(mean - slo.mean * 100) <= 0.05 + 1e-9, cell.text);
    assert.ok(Math.abs(hw - half * 100) <= 0.05 + 1e-9, `${cell.text} vs ${half}`);
  }
  // The verdicts: slo_aware meets more SLOs than fifo, significantly; fcfs (= fifo) does not differ.
  await page.waitForSelector('#verdicts .verdict-table');
  const verdict = async (policy, metric) =>
    page.$eval(`#verdicts tr[data-policy="${policy}"][data-metric="${metric}"]`, (tr) => ({
      significant: tr.classList.contains('significant'),
      cells: [...tr.querySelectorAll('td')].map((td) => td.textContent.trim()),
    }));
  const better = await verdict('slo_aware', 'slo');
  const cmp = stats.comparisons.find((c) => c.policy === 'slo_aware' && c.metric === 'slo');
  assert.ok(better.significant && cmp.significant);
  assert.equal(better.cells.at(-1), 'better');
  assert.equal(better.cells[2], `+${(cmp.difference.mean * 100).toFixed(1)} pts`);
  const same = await verdict('fcfs', 'slo');
  assert.ok(!same.significant);
  assert.equal(same.cells.at(-1), 'not significant');
  const lines = await page.$$eval('#verdicts .best-lines li', (ls) => ls.map((l) => l.textContent));
  assert.ok(lines.some((l) => l.startsWith('Best SLO: slo_aware (') && l.includes('ahead of fifo')), lines.join(' | '));
  assert.ok(lines.some((l) => l.includes('not distinguishable over 5 trials')), lines.join(' | '));
  // The chart over trials draws bars with whiskers, and its metric can be changed.
  await waitForCharts(page);
  assert.ok((await inkedPixels(page, '#chart-trials canvas')) > 2000);
  const draws = Number(await page.getAttribute('#chart-trials canvas', 'data-draws'));
  await page.selectOption('#trials-select', 'slo');
  await page.waitForFunction(([sel, n]) => Number(document.querySelector(sel).dataset.draws) > n, ['#chart-trials canvas', draws]);
  assert.match(await page.textContent('#chart-trials'), /SLO over 5 trials/);
  assertClean(log);
  await page.close();
});

test('an older result file loads, notes stay folded apart from warnings, GPU detail on hover, a moving control-plane field first', async () => {
  const old = await readFixture('compare-v1.json');
  assert.equal(old.schema_version, 1);
  const { page, log } = await loadFiles(['compare-v1.json']);
  const rows = await tableCells(page);
  assert.equal(rows.length, old.runs.length);
  // The control-plane chart starts on a field whose value changes during a run.
  const key = await page.$eval('#cp-select', (s) => s.value);
  const leaves = (v, prefix, out) => {
    if (typeof v === 'number') out[prefix] = v;
    else if (Array.isArray(v)) {
      const ids = v.map((e) => e && typeof e === 'object' ? e.id : undefined);
      const named = ids.every((i) => typeof i === 'string') && new Set(ids).size === ids.length;
      v.forEach((e, i) => leaves(e, `${prefix}${prefix ? '.' : ''}${named ? ids[i] : i}`, out));
    } else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) leaves(x, `${prefix}${prefix ? '.' : ''}${k}`, out);
    }
    return out;
  };
  const moves = old.runs.some((r) => new Set(r.control_plane.samples.map((s) => leaves(s.value, '', {})[key])).size > 1);
  assert.ok(moves, `the first field shown (${key}) changes during a run`);
  assert.match(await page.textContent('#chart-control-plane'), new RegExp(`Control plane: ${key.replace(/[.]/g, '\\.')}`));
  await page.close();

  // Version 1 kept notes as "note: " warnings; they are notes now, folded, not in warning colour.
  const withNotes = structuredClone(old);
  withNotes.runs[0].warnings = ['note: policy "fifo" set with POST /admin/set_policy and confirmed by GET /admin/policy', 'the client fell behind its schedule'];
  const { page: p1 } = await openPage(browser.context, server.origin + '/');
  await p1.click('.paste summary');
  await p1.fill('#paste-input', JSON.stringify(withNotes));
  await p1.click('#paste-load');
  await p1.waitForSelector('#file-list details.notes');
  const warnings = await p1.$$eval('#file-list .warnings li', (ls) => ls.map((l) => l.textContent));
  assert.deepEqual(warnings, ['fifo: the client fell behind its schedule']);
  const notes = await p1.$eval('#file-list details.notes', (d) => ({ open: d.open, items: [...d.querySelectorAll('li')].map((l) => l.textContent) }));
  assert.equal(notes.open, false);
  assert.ok(notes.items.some((n) => n === 'fifo: policy "fifo" set with POST /admin/set_policy and confirmed by GET /admin/policy'), notes.items.join(' | '));
  await p1.close();

  // A GPU that could not be monitored: one short line, NVML's words on hover.
  const reason = 'NVML init failed: libnvidia-ml.so.1: cannot open shared object file: No such file or directory';
  const broken = { ...old, gpu: { status: { state: 'unavailable', reason }, devices: [], sample_interval_ms: null, read_errors: 0 } };
  broken.runs = broken.runs.map((r) => ({ ...r, gpu_samples: [], gpu_summary: [] }));
  const { page: p2 } = await openPage(browser.context, server.origin + '/');
  await p2.click('.paste summary');
  await p2.fill('#paste-input', JSON.stringify(broken));
  await p2.click('#paste-load');
  await p2.waitForSelector('#file-list .gpu-status');
  const gpu = await p2.$eval('#file-list .gpu-status', (e) => ({ text: e.textContent.trim(), title: e.title }));
  assert.deepEqual(gpu, { text: 'GPU unavailable', title: reason });
  assertClean(log);
  await p2.close();
});

function nativeHash(file, seed) {
  if (process.env.WORKLOAD_HASH_BIN) {
    return execFileSync(process.env.WORKLOAD_HASH_BIN, [file, String(seed)], { encoding: 'utf8' }).trim();
  }
  return execFileSync('cargo', ['run', '-q', '-p', 'cpbench-core', '--example', 'workload_hash', '--', file, String(seed)], {
    cwd: repoRoot,
    encoding: 'utf8',
  }).trim();
}

test('the preview\'s workload hash equals the native one for the same config and seed', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cpbench-preview-'));
  const { page, log } = await openPage(browser.context, server.origin + '/#preview');
  try {
    await page.waitForSelector('#workload-hash');
    assert.ok(log.requests.some((u) => u.endsWith('/preview/cpbench_viewer_preview_bg.wasm')), 'the preview module was loaded');
    await waitForCharts(page, '#panel-preview');
    assert.equal(await page.textContent('#workload-requests'), '100');

    // The LLM example with its own seed, then the hybrid example with a seed typed in.
    const cases = [
      { button: '#example-llm', seed: '' },
      { button: '#example-hybrid', seed: '987654321' },
    ];
    for (const c of cases) {
      await page.click(c.button);
      await page.fill('#seed-input', c.seed);
      const text = await page.inputValue('#config-editor');
      const file = join(dir, 'config.yaml');
      await writeFile(file, text);
      const expected = nativeHash(file, c.seed === '' ? 42 : c.seed);
      await page.waitForFunction((h) => document.querySelector('#workload-hash')?.textContent === h, expected, { timeout: 10_000 });
    }
    assert.equal(await page.textContent('#workload-seed'), '987654321');
    await waitForCharts(page, '#panel-preview');
    assert.ok((await inkedPixels(page, '#chart-preview-embedding canvas')) > 2000, 'hybrid: embedding sizes drawn');

    // An edited config with another arrival process.
    const edited = 'mode: llm\nnum_requests: 300\nrequest_rate: 25\narrival: {pattern: gamma, burstiness: 0.5}\npriority_distribution: {HIGH: 1, LOW: 3}\n';
    await page.fill('#config-editor', edited);
    await page.fill('#seed-input', '7');
    await writeFile(join(dir, 'edited.yaml'), edited);
    const expected = nativeHash(join(dir, 'edited.yaml'), 7);
    await page.waitForFunction((h) => document.querySelector('#workload-hash')?.textContent === h, expected);
    assert.equal(await page.textContent('#workload-requests'), '300');
    const mix = await page.$$eval('#chart-preview-priority .note', (n) => n.length);
    assert.equal(mix, 1);

    // Problems are listed by field; a parse error has a position.
    await page.fill('#config-editor', 'num_requests: 0\nrequest_rate: -5\n');
    await page.fill('#seed-input', 'abc');
    await page.waitForSelector('#config-problems');
    const fields = await page.$$eval('#config-problems tr[data-field]', (rs) => rs.map((r) => r.dataset.field));
    for (const f of ['seed', 'num_requests', 'request_rate']) assert.ok(fields.includes(f), `${f} in ${fields}`);
    assert.equal(await page.locator('#workload-hash').count(), 0, 'no hash for an invalid config');
    await page.fill('#config-editor', 'mode: llm\nnum_requests: [1,\n');
    await page.waitForSelector('#config-error');
    assert.match(await page.textContent('#config-error .error-pos'), /^line \d+, column \d+$/);
    const withDataset = 'dataset: {path: prompts.jsonl}\nprompt_length: {dist: empirical}\nnum_requests: 40\n';
    await page.fill('#config-editor', withDataset);
    await page.fill('#seed-input', '');
    await page.waitForSelector('#config-needs-file');
    assert.match(await page.textContent('#config-needs-file'), /prompts\.jsonl/);
    // Choosing the file the config names generates the same workload as the native tool.
    const prompts = ['Summarize the release notes.', 'Write a haiku about queues.', 'Explain SLOs to a new engineer.']
      .map((p, i) => JSON.stringify({ prompt: p, output_tokens: 20 + i * 7 }))
      .join('\n');
    await writeFile(join(dir, 'prompts.jsonl'), prompts + '\n');
    await writeFile(join(dir, 'with-dataset.yaml'), withDataset);
    await page.setInputFiles('#config-needs-file input[type=file]', join(dir, 'prompts.jsonl'));
    const withDatasetHash = nativeHash(join(dir, 'with-dataset.yaml'), 42);
    await page.waitForFunction((h) => document.querySelector('#workload-hash')?.textContent === h, withDatasetHash);
    assert.equal(await page.textContent('#workload-requests'), '40');

    // The download carries the editor's text.
    await page.fill('#config-editor', edited);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-config')]);
    assert.equal(download.suggestedFilename(), 'sage-cp-bench-config.yaml');
    const saved = await readFile(await download.path(), 'utf8');
    assert.equal(saved, edited);
    assertClean(log);
  } finally {
    await page.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('the page fits a phone screen', async () => {
  const phone = await browser.context.newPage();
  await phone.setViewportSize({ width: 390, height: 844 });
  await phone.goto(`${server.origin}/?url=fixtures/compare.json`);
  await phone.waitForSelector('#summary-table tbody tr');
  await waitForCharts(phone);
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `page is ${overflow}px wider than the screen`);
  const width = await phone.$eval('#chart-throughput canvas', (c) => c.getBoundingClientRect().width);
  assert.ok(width > 300 && width <= 390, `chart width ${width}`);
  await phone.click('#tab-preview');
  await waitForCharts(phone, '#panel-preview');
  const overflow2 = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow2 <= 1, `preview is ${overflow2}px wider than the screen`);
  await phone.close();
});

test('results of vLLM, GuideLLM and AIPerf load next to ours, named after their tool, with the numbers their files carry', async () => {
  const ours = await readFixture('compare.json');
  const vllm = await readFixture('import/vllm-detailed.json');
  const guidellm = await readFixture('import/guidellm-benchmarks.json');
  const aiperf = await readFixture('import/profile_export_aiperf.json');
  const { page, log } = await loadFiles([
    'compare.json',
    'import/vllm-detailed.json',
    'import/guidellm-benchmarks.json',
    'import/profile_export_aiperf.json',
    'import/profile_export.jsonl',
  ]);
  const n = ours.runs.length + 1 + guidellm.benchmarks.length + 1;
  await page.waitForFunction((n) => document.querySelectorAll('#summary-table tbody tr').length === n, n);
  // The JSONL file joined its aggregate file: four files, no error.
  assert.equal(await page.locator('#file-list .file').count(), 4);
  assert.equal(await page.locator('#load-errors .error').count(), 0);
  const rows = await tableCells(page);
  const byName = Object.fromEntries(rows.map((r) => [r.cells.policy.text, r.cells]));
  const g = (b) => b.metrics;
  const expect = {
    'vllm-detailed.json: vLLM bench serve: poisson @4 req/s': {
      throughput: vllm.request_throughput,
      output_tokens: vllm.output_throughput,
      ttft_p50: vllm.p50_ttft_ms,
      ttft_p99: vllm.p99_ttft_ms,
      tpot_p50: vllm.p50_tpot_ms,
      e2e_avg: vllm.mean_e2el_ms,
      e2e_p99: vllm.p99_e2el_ms,
      errors: 0,
    },
    ...Object.fromEntries(guidellm.benchmarks.map((b) => [
      `guidellm-benchmarks.json: GuideLLM ${guidellm.metadata.guidellm_version}: constant @${b.config.strategy.rate} req/s`,
      {
        throughput: g(b).requests_per_second.successful.mean,
        output_tokens: g(b).output_tokens_per_second.successful.mean,
        ttft_p50: g(b).time_to_first_token_ms.successful.percentiles.p50,
        ttft_p99: g(b).time_to_first_token_ms.successful.percentiles.p99,
        // GuideLLM's ITL is our TPOT.
        tpot_p50: g(b).inter_token_latency_ms.successful.percentiles.p50,
        e2e_avg: g(b).request_latency.successful.mean * 1000,
        e2e_p99: g(b).request_latency.successful.percentiles.p99 * 1000,
        errors: 0,
      },
    ])),
    'profile_export_aiperf.json: AIPerf 0.13.0: poisson @4 req/s': {
      throughput: aiperf.request_throughput.avg,
      output_tokens: aiperf.output_token_throughput.avg,
      ttft_p50: aiperf.time_to_first_token.p50,
      ttft_p99: aiperf.time_to_first_token.p99,
      tpot_p50: aiperf.inter_token_latency.p50,
      e2e_avg: aiperf.request_latency.avg,
      e2e_p99: aiperf.request_latency.p99,
      errors: 0,
    },
  };
  for (const [name, cols] of Object.entries(expect)) {
    const cells = byName[name];
    assert.ok(cells, `row ${name} in ${Object.keys(byName).join(' | ')}`);
    for (const [col, v] of Object.entries(cols)) {
      assert.ok(Math.abs(Number(cells[col].value) - v) <= 1e-9 * Math.max(1, Math.abs(v)), `${name} ${col}: ${cells[col].value} vs ${v}`);
    }
    // What no other tool carries is shown as missing, never as 0.
    for (const col of ['slo', 'high_ttft_p99']) {
      assert.equal(cells[col].text, '-', `${name} ${col}`);
      assert.equal(cells[col].value, undefined, `${name} ${col} has no value`);
    }
  }
  // Our runs keep their numbers.
  for (const r of ours.runs) {
    const cells = byName[`compare.json: ${r.policy}`];
    assert.equal(Number(cells.ttft_p99.value), r.summary.ttft.p99_ms);
    assert.equal(Number(cells.slo.value), r.summary.slo_compliance);
  }
  // Each imported file says where it came from, what it lacks and how its tool differs.
  const cards = await page.$$eval('#file-list .file', (fs) => fs.map((f) => f.textContent));
  assert.ok(cards.some((c) => c.includes('imported: GuideLLM 0.8.1') && c.includes('Not in this file:') && c.includes('ITL (gaps between chunks)')), cards.join('\n'));
  assert.ok(cards.some((c) => c.includes('imported: AIPerf 0.13.0') && c.includes('profile_export_aiperf.json with profile_export.jsonl')));
  assert.ok(cards.some((c) => c.includes('imported: vLLM bench serve') && c.includes('difference(s) of definition')));
  // The distributions of the per-request values are drawn for the imported runs too.
  await waitForCharts(page);
  const legend = await page.$$eval('#chart-cdf .legend-name', (es) => es.map((e) => e.textContent));
  assert.ok(legend.includes('vllm-detailed.json: vLLM bench serve: poisson @4 req/s'), legend.join(' | '));
  assert.ok(legend.includes('profile_export_aiperf.json: AIPerf 0.13.0: poisson @4 req/s'));
  assertClean(log);
  await page.close();
});

test('another tool\'s file of an unsupported version or malformed is refused, naming the tool and what is wrong', async () => {
  const { page, log } = await openPage(browser.context, server.origin + '/?url=fixtures/import/vllm-detailed.json');
  await page.waitForSelector('#summary-table tbody tr');
  const guidellm = await readFixture('import/guidellm-benchmarks.json');
  guidellm.metadata.version = 3;
  const aiperf = await readFixture('import/profile_export_aiperf.json');
  aiperf.request_throughput.avg = 'fast';
  await page.click('.paste summary');
  for (const doc of [guidellm, aiperf]) {
    await page.fill('#paste-input', JSON.stringify(doc));
    await page.click('#paste-load');
  }
  await page.waitForFunction(() => document.querySelectorAll('#load-errors .error').length === 2);
  const messages = await page.$$eval('#load-errors .error-message', (es) => es.map((e) => e.textContent));
  assert.match(messages[0], /^GuideLLM 0\.8\.1 file is not supported: its report has metadata\.version 3; supported: .*metadata\.version 2/);
  assert.equal(messages[1], 'AIPerf 0.13.0 file is malformed: `request_throughput/avg` is "fast", expected a number');
  assert.equal(await page.locator('#summary-table tbody tr').count(), 1, 'the good file stays');
  assertClean(log);
  await page.close();
});
