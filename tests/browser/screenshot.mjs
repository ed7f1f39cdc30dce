// Takes docs/viewer-compare.png: the viewer with the three-policy comparison fixture loaded.
// Usage: node screenshot.mjs [OUT.png] (after www/build.sh).

import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { startServer, launch, openPage, waitForCharts, repoRoot } from './harness.mjs';

const out = resolve(process.argv[2] ?? join(repoRoot, 'docs', 'viewer-compare.png'));
const server = await startServer();
const browser = await launch({ viewport: { width: 1360, height: 1700 } });
try {
  const { page } = await openPage(browser.context, `${server.origin}/?url=fixtures/compare.json`);
  await page.waitForSelector('#summary-table tbody tr');
  await waitForCharts(page);
  // Show a tooltip, as a person hovering the throughput chart would see it.
  const canvas = page.locator('#chart-latency canvas');
  const [left, top, right, bottom] = (await canvas.getAttribute('data-geometry')).split(',').map(Number);
  const box = await canvas.boundingBox();
  await page.mouse.move(box.x + left + (right - left) * 0.86, box.y + bottom - (bottom - top) * 0.25);
  await page.waitForTimeout(100);
  await mkdir(dirname(out), { recursive: true });
  await page.screenshot({ path: out, fullPage: false });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
  await server.close();
}
