// Benchmark of the viewer in headless Chromium (SwiftShader's WebGPU here; a real GPU elsewhere)
// and of its CPU fallback: bundle size, page load to first grid, a grid of 64 images, a swap.
//   cd web && npm run bench          (after scripts/build-web.sh)
//   BENCH_MODEL=model.bpk npm run bench   (another model than the catalogue's first; the swap
//                                          then uses built-in example images at its size)
//   BENCH_ROWS=2 BENCH_COLS=4 BENCH_REPEATS=3 BENCH_PATHS=cpu (a smaller grid, fewer repeats,
//                                          the CPU path only)
//   BENCH_COLD=1 npm run bench             (navigate as soon as the browser has started)
// The page is opened in a browser that has started and sat idle on a blank page for a few
// seconds, as a person's browser has: on two cores, Chromium's own start-up work competes with
// a page opened at once (0.4-0.6 s later first grids, measured), which is not the page's.
import { readFileSync, statSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { basename, dirname, join, resolve } from 'node:path';
import { DIST, serve, launch, open, settled } from './harness.mjs';

const REPEATS = Number(process.env.BENCH_REPEATS ?? 5);
// The grid: 8x8 unless BENCH_ROWS / BENCH_COLS say otherwise (a 128x128 model on the CPU).
const ROWS = Number(process.env.BENCH_ROWS ?? 8);
const COLS = Number(process.env.BENCH_COLS ?? 8);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

for (const [name, what] of [['dinfogan_web_cpu_bg.wasm', 'CPU-only module (the first grid)'],
  ['dinfogan_web_bg.wasm', 'whole module (WebGPU and CPU)']]) {
  const wasm = join(DIST, 'pkg', name);
  const raw = statSync(wasm).size;
  const gz = gzipSync(readFileSync(wasm), { level: 9 }).length;
  console.log(`${what}: ${(raw / 1e6).toFixed(2)} MB wasm (${(gz / 1e6).toFixed(2)} MB gzip -9)`);
}

const model = process.env.BENCH_MODEL && resolve(process.env.BENCH_MODEL);
const server = await serve({ '/': DIST, ...(model ? { '/bench-model/': dirname(model) } : {}) });
const query = model ? `model=/bench-model/${basename(model)}&` : '';
if (model) console.log(`model: ${model} (${(statSync(model).size / 1e6).toFixed(1)} MB)`);
// BENCH_PATHS=cpu skips WebGPU (SwiftShader is far slower than the CPU path for big models).
const paths = process.env.BENCH_PATHS === 'cpu' ? [false] : [true, false];
for (const webgpu of paths) {
  const browser = await launch({ webgpu });
  if (!process.env.BENCH_COLD) {
    const blank = await browser.newPage();
    await blank.goto('about:blank');
    await new Promise((resolve) => setTimeout(resolve, 3000));
    await blank.close();
  }
  const page = await open(browser, `${server.url}/?${query}rows=${ROWS}&cols=${COLS}`);
  if ((await settled(page)) !== 'ready') throw new Error(await page.textContent('#error'));
  const result = await page.evaluate(async ({ repeats, rows, cols }) => {
    const { call, state } = window.dinfogan;
    const { result: grid } = await call('gridLatents', { rows, cols, commonSeed: 1, salientSeed: 2 });
    const timed = async (op, args) => {
      const times = [];
      for (let i = 0; i < repeats; i++) {
        const started = performance.now();
        await call(op, args);
        times.push(performance.now() - started);
      }
      return times;
    };
    const side = state.model.config.image_size;
    const tile = side * side * 4;
    const pair = {
      background: state.examples.slice(0, tile),
      target: state.examples.slice(8 * tile, 9 * tile),
    };
    const grid64 = await timed('generate', grid);
    const swap = await timed('swap', pair);
    // The same grid with the pixels converted on the CPU instead of the WGSL kernel.
    await call('setGpuPixels', { on: false });
    const grid64CpuPixels = state.model.gpu ? await timed('generate', grid) : null;
    await call('setGpuPixels', { on: true });
    // Where the time to the first grid went, in ms after navigation (the worker's clock is
    // moved onto the page's through the epoch).
    const { result: timing } = await call('marks');
    const since = (t) => Math.round(t - performance.timeOrigin);
    const short = (name) => new URL(name).pathname.split('/').pop();
    const steps = [
      ['page parsed', performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd],
      ...performance.getEntriesByType('resource').map((e) => [`${short(e.name)} fetched`, e.responseEnd]),
      ...timing.fetched.map((f) => [`${short(f.name)} fetched (worker)`, since(f.end)]),
      ...Object.entries(timing.marks).map(([name, t]) => [name, since(t)]),
      ['preview drawn', state.previewMs],
      ['first row drawn', state.firstRowMs],
      ['grid drawn', state.firstGridMs],
    ].filter(([, ms]) => ms !== undefined).map(([name, ms]) => [name, Math.round(ms)]).sort((a, b) => a[1] - b[1]);
    return {
      steps,
      backend: document.querySelector('#backend').textContent,
      firstGridMs: state.firstGridMs,
      upgradedMs: state.upgradedMs,
      grid64,
      swap,
      grid64CpuPixels,
    };
  }, { repeats: REPEATS, rows: ROWS, cols: COLS });
  const n = ROWS * COLS;
  const upgraded = result.upgradedMs ? ` (on WebGPU ${(result.upgradedMs / 1000).toFixed(2)} s after)` : '';
  console.log(`${result.backend}: first grid of ${n} ${(result.firstGridMs / 1000).toFixed(2)} s after ` +
    `navigation${upgraded}; grid of ${n} median ${median(result.grid64).toFixed(0)} ms ` +
    `[${result.grid64.map((x) => x.toFixed(0)).join(', ')}]; swap median ` +
    `${median(result.swap).toFixed(0)} ms [${result.swap.map((x) => x.toFixed(0)).join(', ')}]` +
    (result.grid64CpuPixels ? `; grid of ${n} with CPU pixel conversion median ` +
      `${median(result.grid64CpuPixels).toFixed(0)} ms` : ''));
  console.log(`  first load, ms after navigation: ${result.steps.map(([n, ms]) => `${n} ${ms}`).join('; ')}`);
  await browser.close();
}
await server.close();
