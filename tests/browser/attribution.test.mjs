// The views that say why a policy wins, in headless Chromium: the numbers of their tables as the
// fixtures hold them and the per-instance charts. Needs the built bundle like viewer.test.mjs.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, openPage, readFixture, fixturePath, waitForCharts, inkedPixels } from './harness.mjs';

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

async function loadFiles(names) {
  const { page, log } = await openPage(browser.context, server.origin + '/');
  await page.setInputFiles('#file-input', names.map(fixturePath));
  await page.waitForSelector('#summary-table tbody tr');
  return { page, log };
}

function assertClean(log) {
  assert.deepEqual(log.errors, [], 'no uncaught page errors');
  assert.deepEqual(log.dialogs, [], 'no dialogs');
  const foreign = log.requests.filter((u) => !u.startsWith(server.origin) && !u.startsWith('data:') && !u.startsWith('blob:'));
  assert.deepEqual(foreign, [], 'the page requests nothing but its own origin');
}

// cache.json: shared prefixes through the reference cluster in virtual time (fifo against
// cache_aware), made by viewer/tests/fixtures.rs.
test('why a policy wins: hit rates, imbalance, the TTFT split and each instance over time', async () => {
  const report = await readFixture('cache.json');
  const { page, log } = await loadFiles(['cache.json']);
  await page.waitForSelector('#attribution table');
  const table = (id) =>
    page.$$eval(`#view-${id} tbody tr`, (rows) => rows.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent.trim())));

  // Prefix-cache hit rate: the control plane's counters after the run (the simulated cluster
  // starts empty), one row per policy.
  const hits = await table('prefix-cache');
  assert.equal(hits.length, report.runs.length);
  report.runs.forEach((run, i) => {
    const pc = run.control_plane.after.prefix_cache;
    assert.deepEqual(hits[i], [
      run.policy,
      'control plane',
      String(pc.queried_tokens),
      String(pc.hit_tokens),
      `${((pc.hit_tokens / pc.queried_tokens) * 100).toFixed(1)}%`,
    ]);
  });
  const rate = Object.fromEntries(hits.map((r) => [r[0], parseFloat(r[4])]));
  assert.ok(rate.cache_aware > rate.fifo + 20, `cache_aware hits more: ${JSON.stringify(rate)}`);

  // Load imbalance as the file has it, with what it is made of.
  const imbalance = await table('load-imbalance');
  report.runs.forEach((run, i) => {
    const counts = Object.values(run.by_instance).map((s) => s.requests);
    assert.equal(imbalance[i][0], run.policy);
    assert.equal(imbalance[i][1], String(counts.length));
    assert.equal(imbalance[i][2], String(counts.reduce((a, b) => a + b, 0)));
    assert.equal(imbalance[i][5], run.load_imbalance.toFixed(2));
  });
  assert.match(await page.textContent('#view-load-imbalance .note'), /most requests any backend instance got \/ the mean/);

  // TTFT split and starvation: a row per policy, a row per policy and class.
  const split = await table('ttft-split');
  assert.deepEqual(split.map((r) => r[0]), report.runs.map((r) => r.policy));
  const starvation = await table('starvation');
  assert.deepEqual(starvation.map((r) => `${r[0]} ${r[1]}`), report.runs.flatMap((r) => ['HIGH', 'NORMAL', 'LOW'].map((c) => `${r.policy} ${c}`)));
  assert.equal(starvation[0][5], report.runs[0].by_priority.HIGH.ttft.max_ms.toFixed(0));

  // The charts: per instance over time (every quantity the file has) and the split.
  await waitForCharts(page);
  const options = await page.$$eval('#instance-select option', (os) => os.map((o) => o.value));
  assert.deepEqual(options, ['requests', 'tokens', 'running', 'waiting', 'kv-cache']);
  for (const id of ['chart-instance-timeline', 'chart-ttft-split']) {
    const inked = await inkedPixels(page, `#${id} canvas`);
    assert.ok(inked > 2000, `${id} has ${inked} drawn pixels`);
  }
  const legend = await page.$$eval('#chart-instance-timeline .legend-name', (es) => es.map((e) => e.textContent));
  assert.ok(legend.includes('cache_aware · llm-3'), legend.join(' | '));
  const draws = Number(await page.getAttribute('#chart-instance-timeline canvas', 'data-draws'));
  await page.selectOption('#instance-select', 'kv-cache');
  await page.waitForFunction(([sel, n]) => Number(document.querySelector(sel).dataset.draws) > n, ['#chart-instance-timeline canvas', draws]);
  assert.match(await page.textContent('#chart-instance-timeline'), /KV-cache use by backend instance/);
  assertClean(log);
  await page.close();
});

test('a control plane without prefix-cache counters says so', async () => {
  const { page, log } = await loadFiles(['compare.json']);
  await page.waitForSelector('#view-prefix-cache');
  const sources = await page.$$eval('#view-prefix-cache tbody tr td:nth-child(2)', (tds) => tds.map((t) => t.textContent.trim()));
  assert.ok(sources.length > 0 && sources.every((s) => s === 'not reported by this control plane'), sources.join(' | '));
  assertClean(log);
  await page.close();
});
