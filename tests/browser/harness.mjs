// Shared setup of the browser tests: a static server for the built viewer (www/dist) and the
// fixtures, and a headless Chromium that reaches nothing but that server.

import { createServer } from 'node:http';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, extname, resolve, dirname, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '..', '..');
export const distDir = process.env.VIEWER_DIST ? resolve(process.env.VIEWER_DIST) : join(repoRoot, 'www', 'dist');
export const fixturesDir = join(here, 'fixtures');

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.yaml': 'application/yaml',
  '.png': 'image/png',
};

/** Serves `/` from www/dist and `/fixtures/` from the fixtures, on 127.0.0.1 and a free port. */
export async function startServer() {
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://localhost');
    let path = decodeURIComponent(url.pathname);
    let base = distDir;
    if (path.startsWith('/fixtures/')) {
      base = fixturesDir;
      path = path.slice('/fixtures'.length);
    }
    if (path.endsWith('/')) path += 'index.html';
    const file = resolve(base, '.' + path);
    if (file !== base && !file.startsWith(base + sep)) {
      res.writeHead(403).end();
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
      res.end(body);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    }
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address();
  return { origin: `http://127.0.0.1:${port}`, close: () => new Promise((ok) => server.close(ok)) };
}

/** Flags that keep Chromium quiet on a machine without network. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/**
 * A fresh headless Chromium profile (its own user-data-dir). `close()` removes it. `options`
 * go to playwright's `launchPersistentContext` (`javaScriptEnabled: false`, for one).
 */
export async function launch({ viewport = { width: 1280, height: 900 }, ...options } = {}) {
  const userDataDir = await mkdtemp(join(tmpdir(), 'cpbench-viewer-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
    deviceScaleFactor: 1,
    ...options,
  });
  return {
    context,
    close: async () => {
      await context.close();
      await rm(userDataDir, { recursive: true, force: true });
    },
  };
}

/** A new page that records console errors, dialogs, page errors and every request URL. */
export async function openPage(context, url) {
  const page = await context.newPage();
  const log = { console: [], dialogs: [], errors: [], requests: [] };
  page.on('console', (m) => log.console.push(`${m.type()}: ${m.text()}`));
  page.on('dialog', async (d) => {
    log.dialogs.push(d.message());
    await d.dismiss();
  });
  page.on('pageerror', (e) => log.errors.push(String(e)));
  page.on('request', (r) => log.requests.push(r.url()));
  await page.goto(url);
  await page.waitForSelector('header.top', { timeout: 20_000 });
  return { page, log };
}

export async function readFixture(name) {
  return JSON.parse(await readFile(join(fixturesDir, name), 'utf8'));
}

export function fixturePath(name) {
  return join(fixturesDir, name);
}

/** Waits until every chart canvas under `root` has been drawn at least `min` times. */
export async function waitForCharts(page, root = '#panel-results', min = 1) {
  await page.waitForFunction(
    ([root, min]) => {
      const canvases = [...document.querySelectorAll(`${root} canvas`)];
      return canvases.length > 0 && canvases.every((c) => Number(c.dataset.draws ?? 0) >= min);
    },
    [root, min],
    { timeout: 20_000 },
  );
}

/** How many pixels of a canvas are not (nearly) white. */
export async function inkedPixels(page, selector) {
  return page.$eval(selector, (canvas) => {
    const ctx = canvas.getContext('2d');
    const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
    let n = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (data[i] < 235 || data[i + 1] < 235 || data[i + 2] < 235) n++;
    }
    return n;
  });
}

/** The canvas's pixels as a data URL (for comparing two drawings). */
export async function canvasImage(page, selector) {
  return page.$eval(selector, (c) => c.toDataURL('image/png'));
}

/** Rust's `format_number` of the chart tooltips: rounded to 4 decimals, shortest form. */
export function formatNumber(v) {
  const r = Math.round(v * 1e4) / 1e4;
  return String(Object.is(r, -0) ? 0 : r);
}
