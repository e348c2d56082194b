// Shared by the browser tests and the benchmark: a static server on 127.0.0.1 for the built page
// (web/dist) and test fixtures, and headless Debian Chromium through playwright-core.
import { createServer } from 'node:http';
import { readFile, mkdir } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { join, extname, normalize, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { mkdtempSync } from 'node:fs';
import { chromium } from 'playwright-core';

export const WEB = join(dirname(fileURLToPath(import.meta.url)), '..');
// BENCH_DIST: another build of the page (the benchmark's A/B runs).
export const DIST = process.env.BENCH_DIST ?? join(WEB, 'dist');
export const ROOT = join(WEB, '..');
export const MODELS = join(WEB, 'www', 'models');
/** The bundled models, best first (the page opens the first). */
export const CATALOGUE = JSON.parse(readFileSync(join(MODELS, 'models.json'), 'utf8'));
export const DEFAULT_MODEL = join(MODELS, CATALOGUE[0].file);
export const DEMO_MODEL = join(MODELS, 'demo.bpk');

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.bpk': 'application/octet-stream',
  '.json': 'application/json',
};

/** Serves `mounts` ({ '/prefix/': folder }) on 127.0.0.1; resolves to { url, close }. `types`
 *  overrides the content type of an extension (a host that guesses wrong). */
export async function serve(mounts, types = {}) {
  const prefixes = Object.keys(mounts).sort((a, b) => b.length - a.length);
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const prefix = prefixes.find((p) => path.startsWith(p));
    let file = prefix && normalize(join(mounts[prefix], path.slice(prefix.length)));
    if (file && (path.endsWith('/') || path === '')) file = join(file, 'index.html');
    if (!file || !file.startsWith(normalize(mounts[prefix])) || !existsSync(file)) {
      res.writeHead(404).end('not found');
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': types[extname(file)] ?? TYPES[extname(file)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(r)) };
}

/**
 * Headless Chromium (Debian's /usr/bin/chromium). With `webgpu` it exposes its SwiftShader
 * WebGPU adapter; without, `requestAdapter()` returns null and the page must fall back to the
 * CPU. Playwright's default flags are left out so that these are the only ones.
 */
export async function launch({ webgpu }) {
  const args = [
    '--headless=new', '--no-sandbox', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-quic', '--remote-debugging-pipe',
    `--user-data-dir=${mkdtempSync(join(tmpdir(), 'dinfogan-chromium-'))}`,
  ];
  if (webgpu) args.push('--enable-unsafe-webgpu');
  // BENCH_CHROMIUM_ARGS: more flags, space-separated (the benchmark's experiments with V8's
  // tiers, e.g. `--js-flags=--no-wasm-lazy-compilation`).
  args.push(...(process.env.BENCH_CHROMIUM_ARGS ?? '').split(' ').filter(Boolean));
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    ignoreDefaultArgs: true,
    args,
  });
}

/** A new page that records its console and page errors (printed when a test fails). */
export async function open(browser, url) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  // Playwright's 30 s default for an action (a click, a file input) is too short on a loaded
  // 2-core machine, where the CPU path's worker can hold the page for longer (seen once).
  page.setDefaultTimeout(120_000);
  page.log = [];
  page.on('console', (m) => page.log.push(`console.${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => page.log.push(`pageerror: ${e.message}`));
  // Every URL the page and its worker asked for (which modules were downloaded).
  page.requested = [];
  page.on('request', (r) => page.requested.push(r.url()));
  await page.goto(url);
  return page;
}

/** Waits until the page has loaded a model (and, where WebGPU runs, moved it from the CPU-only
 *  module onto WebGPU) or shown an error; returns the state. */
export async function settled(page, timeout = 300_000) {
  await page.waitForFunction(() => {
    const { state, upgrade } = document.body.dataset;
    return state === 'error' || (state === 'ready' && upgrade !== 'pending');
  }, null, { timeout });
  return page.evaluate(() => document.body.dataset.state);
}

/** Folder for screenshots: $DINFOGAN_ARTIFACTS or web/test-output. */
export async function artifacts() {
  const dir = process.env.DINFOGAN_ARTIFACTS ?? join(WEB, 'test-output');
  await mkdir(dir, { recursive: true });
  return dir;
}

/** The native CLI, built by `cargo build --release -p dinfogan-cli` (or $DINFOGAN_BIN). */
export function cli() {
  const target = process.env.CARGO_TARGET_DIR ?? join(ROOT, 'target');
  const bin = process.env.DINFOGAN_BIN ?? join(target, 'release', 'dinfogan');
  if (!existsSync(bin)) throw new Error(`the native CLI is missing at ${bin}: build it first`);
  return bin;
}

/** Compares two canvases' pixels in the page: { width, height, maxDiff, meanDiff }. */
export async function comparePixels(page, selector, referenceUrl) {
  return page.evaluate(async ({ selector, referenceUrl }) => {
    const canvas = document.querySelector(selector);
    const shown = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    const image = new Image();
    image.src = referenceUrl;
    await image.decode();
    if (image.width !== canvas.width || image.height !== canvas.height) {
      return { width: image.width, height: image.height, canvas: [canvas.width, canvas.height] };
    }
    const ref = new OffscreenCanvas(image.width, image.height).getContext('2d');
    ref.drawImage(image, 0, 0);
    const expected = ref.getImageData(0, 0, image.width, image.height).data;
    let maxDiff = 0;
    let sum = 0;
    for (let i = 0; i < expected.length; i++) {
      const d = Math.abs(expected[i] - shown[i]);
      maxDiff = Math.max(maxDiff, d);
      sum += d;
    }
    return { width: image.width, height: image.height, maxDiff, meanDiff: sum / expected.length };
  }, { selector, referenceUrl });
}

/** The RGBA bytes of a canvas, as a plain array (for comparisons in node). */
export async function canvasBytes(page, selector) {
  return page.evaluate((selector) => {
    const c = document.querySelector(selector);
    return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data);
  }, selector);
}
