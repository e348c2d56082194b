// The viewer in a real browser: headless Debian Chromium, the built page (scripts/build-web.sh)
// served on 127.0.0.1, the bundled models (models/models.json: the page opens the first, the
// dSprites-MNIST model; the built-in demo model is the other). Run with `npm test` in web/ (scripts/test.sh
// does). Screenshots go to $DINFOGAN_ARTIFACTS (default web/test-output/).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import {
  DIST, DEMO_MODEL, DEFAULT_MODEL, CATALOGUE, serve, launch, open, settled, artifacts, cli,
  comparePixels, canvasBytes,
} from './harness.mjs';

// Pixels may differ by a rounding step where WebGPU (SwiftShader) or the wasm CPU backend sums
// a convolution in another order than the native CPU backend.
const MAX_PIXEL_DIFF = 3;
const MAX_MEAN_DIFF = 0.05;
const SEEDS = { common: 3, salient: 4, rows: 4, cols: 6 };

let server;
let shots;
let fixturesDir;
const browsers = {};

before(async () => {
  assert.ok(existsSync(join(DIST, 'index.html')), 'web/dist is missing: run scripts/build-web.sh first');
  const fixtures = mkdtempSync(join(tmpdir(), 'dinfogan-fixtures-'));
  fixturesDir = fixtures;
  // The native CLI's grids for the same models and seeds: the references the browser matches.
  for (const [model, name] of [[DEFAULT_MODEL, 'grid.png'], [DEMO_MODEL, 'grid-demo.png']]) {
    execFileSync(cli(), [
      'generate', '--checkpoint', model, '--backend', 'cpu',
      '--seed', String(SEEDS.common), '--salient-seed', String(SEEDS.salient),
      '--rows', String(SEEDS.rows), '--cols', String(SEEDS.cols), '--scale', '1',
      '--out', join(fixtures, name),
    ], { stdio: 'pipe' });
  }
  // A narrow 128x128 model (the Table 5 network: attention, spectral norm), trained for two
  // steps on the built-in data, exported, and its CLI grid.
  const run = join(fixtures, 'mri-run');
  execFileSync(cli(), ['train', '--size', '128', '--channels', '1', '--width', '2', '--batch-size', '2',
    '--steps', '2', '--sample-every', '0', '--quiet', '--backend', 'cpu', '--out', run], { stdio: 'pipe' });
  execFileSync(cli(), ['export', '--checkpoint', run, '--out', join(fixtures, 'mri.bpk')], { stdio: 'pipe' });
  execFileSync(cli(), [
    'generate', '--checkpoint', join(fixtures, 'mri.bpk'), '--backend', 'cpu',
    '--seed', String(SEEDS.common), '--salient-seed', String(SEEDS.salient),
    '--rows', String(SEEDS.rows), '--cols', String(SEEDS.cols), '--scale', '1',
    '--out', join(fixtures, 'grid-mri.png'),
  ], { stdio: 'pipe' });
  // A baseline (MM-cVAE) trained for two steps, exported, and its CLI grid: the viewer opens
  // any generative model the CLI exports, and says which one it is.
  const vaeRun = join(fixtures, 'vae-run');
  execFileSync(cli(), ['train', '--model', 'mm-cvae', '--width', '4', '--batch-size', '4',
    '--steps', '2', '--sample-every', '0', '--quiet', '--backend', 'cpu', '--out', vaeRun], { stdio: 'pipe' });
  execFileSync(cli(), ['export', '--checkpoint', vaeRun, '--out', join(fixtures, 'vae.bpk')], { stdio: 'pipe' });
  execFileSync(cli(), [
    'generate', '--checkpoint', join(fixtures, 'vae.bpk'), '--backend', 'cpu',
    '--seed', String(SEEDS.common), '--salient-seed', String(SEEDS.salient),
    '--rows', String(SEEDS.rows), '--cols', String(SEEDS.cols), '--scale', '1',
    '--out', join(fixtures, 'grid-vae.png'),
  ], { stdio: 'pipe' });
  // A cPCA fit (no generator): the page refuses it with a sentence.
  const pcaRun = join(fixtures, 'cpca-run');
  writeFileSync(join(fixtures, 'cpca.toml'), '[cpca]\nmax_images = 60\n');
  execFileSync(cli(), ['train', '--model', 'cpca', '--config', join(fixtures, 'cpca.toml'),
    '--backend', 'cpu', '--out', pcaRun], { stdio: 'pipe' });
  execFileSync(cli(), ['export', '--checkpoint', pcaRun, '--out', join(fixtures, 'cpca.bpk')], { stdio: 'pipe' });
  const model = readFileSync(DEMO_MODEL);
  writeFileSync(join(fixtures, 'truncated.bpk'), model.subarray(0, Math.floor(model.length / 2)));
  writeFileSync(join(fixtures, 'foreign.bpk'), readFileSync(join(fixtures, 'grid.png')));
  server = await serve({ '/': DIST, '/fixtures/': fixtures });
  shots = await artifacts();
  browsers.webgpu = await launch({ webgpu: true });
  browsers.cpu = await launch({ webgpu: false });
});

after(async () => {
  await Promise.all(Object.values(browsers).map((b) => b?.close()));
  await server?.close();
});

async function viewer(t, browser, query) {
  const page = await open(browser, `${server.url}/?${query}`);
  t.after(async () => {
    // The page's console, kept beside the screenshots for when a test fails.
    const name = t.name.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
    writeFileSync(join(shots, `${name}.log`), page.log.join('\n'));
    await page.close();
  });
  return page;
}

const gridQuery = `seed=${SEEDS.common}&salient=${SEEDS.salient}&rows=${SEEDS.rows}&cols=${SEEDS.cols}`;

for (const path of ['webgpu', 'cpu']) {
  test(`the ${path} path draws the CLI's grid for the same seeds and weights`, async (t) => {
    const page = await viewer(t, browsers[path], gridQuery);
    assert.equal(await settled(page), 'ready', await page.textContent('#error'));
    const backend = await page.textContent('#backend');
    const gpuPixels = await page.evaluate(() => window.dinfogan.state.model.gpuPixels);
    if (path === 'webgpu') {
      assert.match(backend, /^WebGPU \(/);
      assert.equal(gpuPixels, true, 'the WGSL kernel packs the pixels on WebGPU');
    } else {
      assert.match(backend, /^CPU \(WebAssembly; WebGPU unavailable/);
      assert.equal(gpuPixels, false);
      // The page says why in a sentence, not only in the facts.
      assert.match(await page.textContent('#status'), /WebGPU is not available \(.+\), so it runs on the CPU/);
    }
    // The split page: the CPU-only module drew the first grid; the whole module (WebGPU) was
    // downloaded and took over only where WebGPU runs.
    const modules = page.requested.filter((u) => u.endsWith('.wasm')).map((u) => u.split('/').pop());
    const upgrade = await page.evaluate(() => document.body.dataset.upgrade);
    if (path === 'webgpu') {
      assert.deepEqual(modules, ['dinfogan_web_cpu_bg.wasm', 'dinfogan_web_bg.wasm']);
      assert.equal(upgrade, 'done');
      assert.match(await page.textContent('#status'), /it now runs on WebGPU/);
    } else {
      assert.deepEqual(modules, ['dinfogan_web_cpu_bg.wasm']);
      assert.equal(upgrade, undefined);
    }
    const diff = await comparePixels(page, '#grid', '/fixtures/grid.png');
    console.log(`${path}: ${backend}; grid vs CLI: ${JSON.stringify(diff)}`);
    await page.screenshot({ path: join(shots, `viewer-${path}.png`), fullPage: true });
    assert.ok(diff.maxDiff !== undefined, `sheet sizes differ: ${JSON.stringify(diff)}`);
    assert.ok(diff.maxDiff <= MAX_PIXEL_DIFF, `max pixel difference ${diff.maxDiff}`);
    assert.ok(diff.meanDiff <= MAX_MEAN_DIFF, `mean pixel difference ${diff.meanDiff}`);
    if (path === 'webgpu') {
      // The kernel's bytes equal the CPU conversion of the same f32 read back.
      const same = await page.evaluate(async () => {
        const { call, state } = window.dinfogan;
        const { result: onGpu } = await call('generate', state.latents);
        await call('setGpuPixels', { on: false });
        const { result: onCpu } = await call('generate', state.latents);
        await call('setGpuPixels', { on: true });
        return onGpu.length === onCpu.length && onGpu.every((v, i) => v === onCpu[i]);
      });
      assert.equal(same, true, 'WGSL packing and CPU conversion agree byte for byte');
    }
  });
}

test('the built-in demo model, opened by URL, draws its CLI grid', async (t) => {
  const page = await viewer(t, browsers.webgpu, `model=models/demo.bpk&${gridQuery}`);
  assert.equal(await settled(page), 'ready', await page.textContent('#error'));
  assert.equal(await page.inputValue('#model-pick'), String(CATALOGUE.findIndex((m) => m.file === 'demo.bpk')));
  const diff = await comparePixels(page, '#grid', '/fixtures/grid-demo.png');
  assert.ok(diff.maxDiff !== undefined && diff.maxDiff <= MAX_PIXEL_DIFF, JSON.stringify(diff));
});

test('a bundled model shows its pre-rendered preview first, the grid the page then computes', async (t) => {
  for (const entry of CATALOGUE) {
    assert.ok(entry.preview?.file, `${entry.file} has no preview: run node web/make-previews.mjs`);
  }
  const page = await viewer(t, browsers.cpu, 'backend=cpu');
  assert.equal(await settled(page), 'ready', await page.textContent('#error'));
  assert.equal(await page.evaluate(() => document.body.dataset.preview), 'shown');
  const { previewMs, firstGridMs } = await page.evaluate(() => window.dinfogan.state);
  assert.ok(previewMs < firstGridMs, `preview at ${previewMs} ms, computed grid at ${firstGridMs} ms`);
  // The computed grid replaced the preview and equals it.
  const diff = await comparePixels(page, '#grid', `/models/${CATALOGUE[0].preview.file}`);
  assert.ok(diff.maxDiff !== undefined && diff.maxDiff <= MAX_PIXEL_DIFF, JSON.stringify(diff));
  assert.ok(diff.meanDiff <= MAX_MEAN_DIFF, JSON.stringify(diff));
  // Other seeds than the preview's: no preview.
  const other = await viewer(t, browsers.cpu, `backend=cpu&${gridQuery}`);
  assert.equal(await settled(other), 'ready', await other.textContent('#error'));
  assert.equal(await other.evaluate(() => document.body.dataset.preview), undefined);
});

test('a bundled model that cannot be downloaded leaves a sentence, not its preview', async (t) => {
  const page = await browsers.cpu.newPage();
  t.after(() => page.close());
  // The model's download fails after its preview has arrived and been drawn.
  await page.route(`**/models/${CATALOGUE[0].file}`, async (route) => {
    await page.waitForFunction(() => document.body.dataset.preview === 'shown');
    await route.abort();
  });
  await page.goto(`${server.url}/?backend=cpu`);
  assert.equal(await settled(page), 'error');
  assert.match(await page.textContent('#error'), /could not fetch the model/i);
  assert.equal(await page.evaluate(() => document.body.dataset.preview), undefined);
  const size = await page.$eval('#grid', (grid) => [grid.width, grid.height]);
  assert.deepEqual(size, [1, 1], 'the preview was cleared');
});

for (const path of ['webgpu', 'cpu']) {
  test(`a 128x128 model (Table 5) on the ${path} path draws its CLI grid, a row at a time`, async (t) => {
    const page = await viewer(t, browsers[path], `model=/fixtures/mri.bpk&${gridQuery}`);
    assert.equal(await settled(page), 'ready', await page.textContent('#error'));
    assert.equal(await page.evaluate(() => window.dinfogan.state.model.config.image_size), 128);
    const diff = await comparePixels(page, '#grid', '/fixtures/grid-mri.png');
    console.log(`128x128 on ${path}: grid vs CLI: ${JSON.stringify(diff)}`);
    assert.ok(diff.maxDiff !== undefined && diff.maxDiff <= MAX_PIXEL_DIFF, JSON.stringify(diff));
    assert.ok(diff.meanDiff <= MAX_MEAN_DIFF, JSON.stringify(diff));
  });
}

test('a baseline (MM-cVAE) exported by the CLI draws its CLI grid and is labelled', async (t) => {
  const page = await viewer(t, browsers.cpu, `model=/fixtures/vae.bpk&${gridQuery}`);
  assert.equal(await settled(page), 'ready', await page.textContent('#error'));
  assert.equal(await page.evaluate(() => window.dinfogan.state.model.config.method), 'mm-cvae');
  assert.match(await page.textContent('#model-info'), /^MM-cVAE, 32x32, colour/);
  const diff = await comparePixels(page, '#grid', '/fixtures/grid-vae.png');
  assert.ok(diff.maxDiff !== undefined && diff.maxDiff <= MAX_PIXEL_DIFF, JSON.stringify(diff));
});

test('the picker lists the bundled models and switches between them', async (t) => {
  const page = await viewer(t, browsers.cpu, gridQuery);
  assert.equal(await settled(page), 'ready');
  const options = await page.$$eval('#model-pick option', (os) => os.map((o) => o.textContent));
  assert.deepEqual(options, CATALOGUE.map((m) => m.title));
  assert.equal(await page.textContent('#model-about'), CATALOGUE[0].about);
  // The first model's own examples fill the swap panel.
  assert.match(await page.textContent('#swap-example option:nth-child(2)'), /^Example 1$/);
  const demo = CATALOGUE.findIndex((m) => m.file === 'demo.bpk');
  await page.evaluate(() => { document.body.dataset.state = 'loading'; });
  await page.selectOption('#model-pick', String(demo));
  assert.equal(await settled(page), 'ready', await page.textContent('#error'));
  assert.equal(await page.textContent('#model-about'), CATALOGUE[demo].about);
  assert.match(await page.textContent('#model-info'), /colour/);
  assert.match(await page.textContent('#swap-example option:nth-child(2)'), /^Built-in data 1$/);
  const diff = await comparePixels(page, '#grid', '/fixtures/grid-demo.png');
  assert.ok(diff.maxDiff !== undefined && diff.maxDiff <= MAX_PIXEL_DIFF, JSON.stringify(diff));
  await page.screenshot({ path: join(shots, 'viewer-picker.png'), fullPage: true });
});

test('a swap of two bundled examples gives four images, deterministically', async (t) => {
  const page = await viewer(t, browsers.webgpu, gridQuery);
  assert.equal(await settled(page), 'ready');
  const names = ['#swap-x', '#swap-rx', '#swap-gain', '#swap-y', '#swap-ry', '#swap-remove'];
  const first = await Promise.all(names.map((n) => canvasBytes(page, n)));
  const side = (await page.evaluate(() => window.dinfogan.state.model.config.image_size));
  for (const pixels of first) assert.equal(pixels.length, side * side * 4);
  // The outputs are images of the model, not copies of each other or of the inputs.
  const distinct = new Set(first.map((p) => p.join(',')));
  assert.equal(distinct.size, names.length, 'all six images differ');
  // Another pair changes every output; going back gives the same pixels again.
  const swaps = await page.evaluate(() => Number(document.body.dataset.swap));
  await page.selectOption('#swap-example', '3');
  await page.waitForFunction((n) => Number(document.body.dataset.swap) > n, swaps);
  const other = await canvasBytes(page, '#swap-remove');
  assert.notDeepEqual(other, first[5]);
  await page.selectOption('#swap-example', '0');
  await page.waitForFunction((n) => Number(document.body.dataset.swap) > n + 1, swaps);
  assert.deepEqual(await canvasBytes(page, '#swap-remove'), first[5]);
  await page.screenshot({ path: join(shots, 'viewer-swap.png'), fullPage: true });
});

test('a model and swap images picked as files', async (t) => {
  const page = await viewer(t, browsers.cpu, `model=models/demo.bpk&${gridQuery}`);
  assert.equal(await settled(page), 'ready');
  const grid = await canvasBytes(page, '#grid');
  // The same model again, from a file: the same grid.
  await page.evaluate(() => { document.body.dataset.state = 'loading'; });
  await page.setInputFiles('#model-file', DEMO_MODEL);
  assert.equal(await settled(page), 'ready');
  assert.match(await page.textContent('#status'), /Loaded demo\.bpk/);
  assert.equal(await page.inputValue('#model-pick'), '', 'a file is none of the bundled models');
  assert.deepEqual(await canvasBytes(page, '#grid'), grid);
  // Any image works as a swap input: it is cropped to a square and resized to 32x32.
  const swaps = await page.evaluate(() => Number(document.body.dataset.swap));
  await page.setInputFiles('#swap-target', join(fixturesDir, 'grid.png'));
  await page.waitForFunction((n) => Number(document.body.dataset.swap) > n, swaps);
  assert.equal(await page.inputValue('#swap-example'), '');
  const target = await canvasBytes(page, '#swap-y');
  assert.equal(target.length, 32 * 32 * 4);
  // A file that is not an image is refused with a sentence.
  await page.setInputFiles('#swap-background', DEMO_MODEL);
  await page.waitForFunction(() => !document.querySelector('#error').hidden);
  assert.match(await page.textContent('#error'), /^The file demo\.bpk is not an image this browser can decode\.$/);
});

test('a salient slider changes the image, from the keyboard', async (t) => {
  const page = await viewer(t, browsers.webgpu, gridQuery);
  assert.equal(await settled(page), 'ready');
  await page.waitForFunction(() => Number(document.body.dataset.slider) >= 1);
  const before = await canvasBytes(page, '#slider-image');
  const count = await page.evaluate(() => Number(document.body.dataset.slider));
  await page.focus('#salient-0');
  await page.keyboard.press('End'); // the slider's maximum, 3
  await page.waitForFunction((n) => Number(document.body.dataset.slider) > n, count);
  await page.waitForFunction(() => !document.querySelector('#salient-0').disabled);
  assert.equal(await page.inputValue('#salient-0'), '3');
  assert.equal(await page.textContent('#salient-0-value'), '3.00');
  const after = await canvasBytes(page, '#slider-image');
  assert.notDeepEqual(after, before, 'moving s1 to 3 changes the image');
});

const broken = {
  truncated: /corrupt|truncated/,
  foreign: /not a Double InfoGAN model file/,
  missing: /HTTP 404/,
  cpca: /cPCA model has no generator/,
};
for (const [name, sentence] of Object.entries(broken)) {
  test(`a ${name} model file shows a sentence, not a hang`, async (t) => {
    const page = await viewer(t, browsers.cpu, `model=/fixtures/${name}.bpk`);
    assert.equal(await settled(page, 60_000), 'error');
    const text = await page.textContent('#error');
    assert.match(text, sentence);
    assert.match(text, /^[A-Z].*\.$/s, `a sentence: ${text}`);
    assert.equal(await page.isVisible('#error'), true);
    if (name === 'truncated') await page.screenshot({ path: join(shots, 'viewer-error.png') });
  });
}

test('embed mode shows the viewer without the page chrome, at phone width', async (t) => {
  const page = await viewer(t, browsers.cpu, `embed=1&${gridQuery}`);
  await page.setViewportSize({ width: 390, height: 844 });
  assert.equal(await settled(page), 'ready');
  assert.equal(await page.isVisible('h1'), false);
  assert.equal(await page.isVisible('#grid'), true);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no horizontal scrolling at phone width (${overflow} px too wide)`);
  await page.screenshot({ path: join(shots, 'viewer-embed-phone.png'), fullPage: true });
});

test('the URL follows the page: a copied link shows the same grid and slider image', async (t) => {
  const page = await viewer(t, browsers.cpu, gridQuery);
  assert.equal(await settled(page), 'ready');
  const grids = async () => Number(await page.evaluate(() => document.body.dataset.grid));
  const drawn = await grids();
  await page.click('#new-common');
  await page.waitForFunction((n) => Number(document.body.dataset.grid) > n, drawn);
  const seed = await page.inputValue('#common-seed');
  assert.notEqual(seed, String(SEEDS.common));
  // Another row for the sliders, and one slider moved by hand.
  await page.selectOption('#slider-row', { value: '2' });
  await page.waitForFunction(() => new URL(location.href).searchParams.get('row') === '2');
  const moved = await page.evaluate(() => Number(document.body.dataset.slider));
  await page.focus('#salient-1');
  await page.keyboard.press('Home'); // the slider's minimum, -3
  await page.waitForFunction((n) => Number(document.body.dataset.slider) > n, moved);
  await page.waitForFunction(() => new URL(location.href).searchParams.has('s'));
  const link = new URL(page.url());
  assert.equal(link.searchParams.get('seed'), seed);
  assert.equal(link.searchParams.get('salient'), String(SEEDS.salient));
  assert.equal(link.searchParams.get('s').split(',')[1], '-3');
  await page.waitForFunction(() => document.body.dataset.sliding === 'no');
  const grid = await canvasBytes(page, '#grid');
  const slider = await canvasBytes(page, '#slider-image');

  const again = await viewer(t, browsers.cpu, link.search.slice(1));
  assert.equal(await settled(again), 'ready', await again.textContent('#error'));
  await again.waitForFunction(() => document.querySelector('#salient-1').value === '-3');
  await again.waitForFunction(() => document.body.dataset.sliding === 'no');
  assert.equal(await again.inputValue('#slider-row'), '2');
  assert.deepEqual(await canvasBytes(again, '#grid'), grid);
  assert.deepEqual(await canvasBytes(again, '#slider-image'), slider);
});

test('each panel downloads its images as a PNG of the right size', async (t) => {
  const page = await viewer(t, browsers.cpu, gridQuery);
  assert.equal(await settled(page), 'ready');
  const side = await page.evaluate(() => window.dinfogan.state.model.config.image_size);
  const sheet = (rows, cols) => [cols * (side + 2) + 2, rows * (side + 2) + 2];
  const expected = {
    'download-grid': ['dinfogan-grid.png', sheet(SEEDS.rows, SEEDS.cols)],
    'download-slider': ['dinfogan-traversal.png', [side, side]],
    'download-swap': ['dinfogan-swap.png', sheet(2, 3)],
  };
  for (const [button, [name, [width, height]]] of Object.entries(expected)) {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click(`#${button}`)]);
    assert.equal(download.suggestedFilename(), name);
    const png = readFileSync(await download.path());
    assert.deepEqual([...png.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10], `${name} is a PNG`);
    assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [width, height], name);
  }
  // The grid's file holds the grid's pixels.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-grid')]);
  const url = `data:image/png;base64,${readFileSync(await download.path()).toString('base64')}`;
  const same = await page.evaluate(async (url) => {
    const image = new Image();
    image.src = url;
    await image.decode();
    const ctx = new OffscreenCanvas(image.width, image.height).getContext('2d');
    ctx.drawImage(image, 0, 0);
    const file = ctx.getImageData(0, 0, image.width, image.height).data;
    const canvas = document.querySelector('#grid');
    const shown = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    return file.length === shown.length && file.every((v, i) => v === shown[i]);
  }, url);
  assert.equal(same, true, 'the downloaded grid has the canvas pixels');
});
