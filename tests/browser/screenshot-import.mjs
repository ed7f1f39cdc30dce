// Takes docs/viewer-import.png: the viewer comparing our three-policy fixture with a real
// `vllm bench serve` result (with its per-request lists) and a real GuideLLM report.
// Usage: node screenshot-import.mjs [OUT.png] (after www/build.sh).

import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { startServer, launch, openPage, waitForCharts, repoRoot } from './harness.mjs';

const out = resolve(process.argv[2] ?? join(repoRoot, 'docs', 'viewer-import.png'));
const server = await startServer();
const browser = await launch({ viewport: { width: 1360, height: 1700 } });
try {
  const files = ['compare.json', 'import/vllm-detailed.json', 'import/guidellm-benchmarks.json'];
  const query = files.map((f) => `url=fixtures/${f}`).join('&');
  const { page } = await openPage(browser.context, `${server.origin}/?${query}`);
  await page.waitForFunction(() => document.querySelectorAll('#summary-table tbody tr').length === 6);
  await waitForCharts(page);
  // Open the imported vLLM file's differences of definition, as a reader comparing would.
  await page.locator('#file-list .file', { hasText: 'vLLM' }).locator('details.imported-definitions summary').click();
  await mkdir(dirname(out), { recursive: true });
  await page.screenshot({ path: out, fullPage: false });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
  await server.close();
}
