// The single-file HTML report (`sage-cp-bench visualize --format html`): opened from file://
// with every network request refused, it shows the embedded result in the viewer (table,
// charts, tooltips) and loads more files to compare; with JavaScript off it shows the static
// report; a damaged embedded result is an error in the page, never a crash.
//
// Needs SAGE_CP_BENCH_BIN: a sage-cp-bench built after www/build.sh (so that it embeds the
// viewer); scripts/test-browser.sh builds it.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, writeFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { launch, readFixture, fixturePath, waitForCharts, inkedPixels, formatNumber, repoRoot } from './harness.mjs';

const bin = process.env.SAGE_CP_BENCH_BIN ?? join(repoRoot, 'target', 'debug', 'sage-cp-bench');

let dir;
let reportFile;
let browser;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cpbench-single-file-'));
  execFileSync(bin, ['visualize', '-i', fixturePath('compare.json'), '-o', dir, '-f', 'html'], { stdio: 'pipe' });
  const html = (await readdir(dir)).filter((f) => f.endsWith('.html'));
  assert.equal(html.length, 1, `one HTML file in ${dir}: ${html}`);
  reportFile = join(dir, html[0]);
  console.log(`single-file report of compare.json (3 policies): ${(await stat(reportFile)).size} bytes`);
  browser = await launch();
  // Nothing but the file itself and what it makes (data:, blob:) may load.
  await browser.context.route(
    (url) => !['file:', 'data:', 'blob:'].includes(url.protocol),
    (route) => route.abort('internetdisconnected'),
  );
});

after(async () => {
  await browser?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Opens `file` from disk, offline, recording errors and requests. */
async function open(file) {
  const page = await browser.context.newPage();
  const log = { errors: [], requests: [], console: [] };
  page.on('pageerror', (e) => log.errors.push(String(e)));
  page.on('request', (r) => log.requests.push(r.url()));
  page.on('console', (m) => log.console.push(`${m.type()}: ${m.text()}`));
  const cdp = await browser.context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: true, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  await page.goto(pathToFileURL(file).href);
  await page.waitForSelector('header.top', { timeout: 30_000 });
  return { page, log };
}

function assertOffline(log) {
  assert.deepEqual(log.errors, [], 'no uncaught page errors');
  const foreign = log.requests.filter((u) => !/^(file|data|blob):/.test(u));
  assert.deepEqual(foreign, [], 'the page requests nothing from the network');
}

test('the report opened from disk shows the embedded result in the viewer, offline', async () => {
  const report = await readFixture('compare.json');
  const { page, log } = await open(reportFile);
  await page.waitForSelector('#summary-table tbody tr');
  assert.equal(await page.isHidden('#panic'), true, await page.textContent('#panic'));
  // The file list names the embedded file; there is no workload preview tab (not embedded).
  assert.match(await page.textContent('#panel-results'), /report_.*\.json/);
  assert.equal(await page.locator('#tab-preview').count(), 0);
  // The static report is not shown when the viewer runs.
  assert.equal(await page.locator('main h1').count(), 0);

  // The table's numbers are the file's.
  const rows = await page.$$eval('#summary-table tbody tr', (trs) =>
    trs.map((tr) => ({
      run: Number(tr.dataset.run),
      cells: Object.fromEntries([...tr.querySelectorAll('td')].map((td) => [td.dataset.col, { text: td.textContent.trim(), value: td.dataset.value }])),
    })),
  );
  assert.equal(rows.length, report.runs.length);
  for (const { run, cells } of rows) {
    const r = report.runs[run];
    assert.equal(cells.policy.text, r.policy);
    assert.equal(Number(cells.throughput.value), r.summary.request_throughput_rps);
    assert.equal(Number(cells.ttft_p99.value), r.summary.ttft.p99_ms);
    assert.equal(Number(cells.e2e_p99.value), r.summary.e2e.p99_ms);
    assert.equal(Number(cells.slo.value), r.summary.slo_compliance);
  }

  // Every chart is drawn.
  await waitForCharts(page);
  const canvases = await page.$$eval('#panel-results figure.chart canvas', (cs) => cs.map((c) => c.closest('figure').id));
  assert.ok(canvases.length >= 8, `charts: ${canvases}`);
  for (const id of ['chart-throughput', 'chart-latency', 'chart-cdf']) {
    assert.ok((await inkedPixels(page, `#${id} canvas`)) > 500, `${id} has ink`);
  }

  // A tooltip over the first throughput bar shows its policy and value.
  const canvas = page.locator('#chart-throughput canvas');
  const [left, top, right, bottom, xMin, xMax, yMin, yMax] = (await canvas.getAttribute('data-geometry')).split(',').map(Number);
  await canvas.scrollIntoViewIfNeeded();
  const box = await canvas.boundingBox();
  const ratio = box.width / (await canvas.evaluate((c) => c.width));
  const n = report.runs.length;
  const x = -0.4 + (0.5 * 0.8) / n;
  const value = report.runs[0].summary.request_throughput_rps;
  const px = left + ((x - xMin) / (xMax - xMin)) * (right - left);
  const py = bottom + ((value / 2 - yMin) / (yMax - yMin)) * (top - bottom);
  await page.mouse.move(box.x + px * ratio, box.y + py * ratio);
  const tip = page.locator('#chart-throughput .tooltip');
  await tip.waitFor();
  assert.equal(await tip.locator('.tip-series').textContent(), report.runs[0].policy);
  assert.equal(await tip.locator('.tip-y').textContent(), `${formatNumber(value)} req/s`);

  // Another file loads beside it, to compare.
  const other = await readFixture('hybrid.json');
  await page.setInputFiles('#file-input', fixturePath('hybrid.json'));
  await page.waitForFunction((want) => document.querySelectorAll('#summary-table tbody tr').length === want, report.runs.length + other.runs.length);
  await waitForCharts(page);
  assertOffline(log);
  await page.close();
});

test('a damaged embedded result is listed as an error, and other files still load', async () => {
  const html = await readFile(reportFile, 'utf8');
  const damaged = html.replace(/(<script type="application\/json" id="cpbench-embedded-results"[^>]*>)[^<]*(<\/script>)/, '$1{"schema_version": 2, "runs": [oops$2');
  assert.notEqual(damaged, html);
  const file = join(dir, 'damaged.html');
  await writeFile(file, damaged);
  const { page, log } = await open(file);
  await page.waitForSelector('#load-errors .error');
  assert.match(await page.textContent('#load-errors'), /report_.*\.json/);
  assert.equal(await page.isHidden('#panic'), true);
  await page.setInputFiles('#file-input', fixturePath('compare.json'));
  await page.waitForSelector('#summary-table tbody tr');
  assertOffline(log);
  await page.close();
});

test('with JavaScript off, the static report is shown', async () => {
  const noJs = await launch({ javaScriptEnabled: false });
  try {
    const page = await noJs.context.newPage();
    await page.goto(pathToFileURL(reportFile).href);
    assert.equal(await page.isVisible('main h1'), true);
    assert.equal(await page.isHidden('#app'), true);
    assert.ok((await page.locator('main figure.chart svg').count()) >= 5);
    const cells = await page.$$eval('main table td', (tds) => tds.map((t) => t.textContent.trim()));
    for (const policy of ['fifo', 'priority', 'slo_aware']) assert.ok(cells.includes(policy), `${policy} in the static table`);
  } finally {
    await noJs.close();
  }
});
