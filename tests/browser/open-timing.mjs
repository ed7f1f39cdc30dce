// Times the viewer opening result files: from navigation to every chart drawn, three times
// each, printing min / median / max in ms. A benchmark, not a test (the machine is shared).
// Usage: node open-timing.mjs REPORT.json... (after www/build.sh)

import { copyFile, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { startServer, launch, openPage, waitForCharts, fixturesDir } from './harness.mjs';

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node open-timing.mjs REPORT.json...');
  process.exit(2);
}
const server = await startServer();
const browser = await launch();
try {
  for (const [i, file] of files.entries()) {
    const served = `timing-${process.pid}-${i}.json`;
    await copyFile(file, join(fixturesDir, served));
    try {
      const times = [];
      for (let k = 0; k < 3; k++) {
        const start = performance.now();
        const { page, log } = await openPage(browser.context, `${server.origin}/?url=fixtures/${served}`);
        await page.waitForSelector('#summary-table tbody tr', { timeout: 60_000 });
        await waitForCharts(page);
        times.push(performance.now() - start);
        if (log.errors.length) console.error(log.errors.join('\n'));
        await page.close();
      }
      times.sort((a, b) => a - b);
      const { size } = await stat(file);
      console.log(
        `${basename(file)} (${size} bytes): time to charts ${times.map((t) => t.toFixed(0)).join(' / ')} ms (min / median / max)`,
      );
    } finally {
      await rm(join(fixturesDir, served), { force: true });
    }
  }
} finally {
  await browser.close();
  await server.close();
}
