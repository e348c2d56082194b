// The notebook widget in a real JupyterLab, as a teacher would use it: a JupyterLab server
// started here on 127.0.0.1 with the Python of $PYTHON (scripts/test.sh: a fresh virtual
// environment outside the repository holding only JupyterLab and the wheel of
// scripts/build-wheel.sh; default python3) and no cargo on its PATH, its notebooks in a
// temporary folder, opened in headless Debian Chromium, all cells run from the menu.
// - The teaching notebook: the widget draws the CLI's grid for the seeds the notebook sets,
//   follows a trait set from Python afterwards, and sends its grid back as PNG bytes.
// - A notebook with `Viewer()` (the best bundled model) and `Viewer(path)`: both draw the CLI's
//   grid; the viewer's WebAssembly reaches the browser once for the two; the notebook saved with
//   its widget state stays small. Sizes and the time to the first grids: notebook-wheel.json.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import {
  cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { tmpdir } from 'node:os';
import { WEB, DEMO_MODEL, DEFAULT_MODEL, launch, artifacts, cli } from './harness.mjs';

const PYTHON = process.env.PYTHON ?? 'python3';
const TOKEN = 'dinfogan-test';
const MAX_PIXEL_DIFF = 3;
const LAYOUT = { rows: 4, cols: 6 }; // as the notebook's first viewer

let lab;
let browser;
let dir;
let shots;
const references = {};

// The notebook a teacher writes after `pip install dinfogan_viewer-*.whl`.
const WHEEL_NOTEBOOK = {
  cells: [
    ['import shutil, dinfogan_viewer\n', 'from dinfogan_viewer import Viewer\n',
      'print("cargo:", shutil.which("cargo"), "| package:", dinfogan_viewer.__file__)'],
    ['best = Viewer(rows=4, cols=6, common_seed=3, salient_seed=4)\n', 'best'],
    ['mine = Viewer("my-model.bpk", rows=4, cols=6, common_seed=5, salient_seed=4)\n', 'mine'],
  ].map((source) => ({ cell_type: 'code', metadata: {}, execution_count: null, outputs: [], source })),
  metadata: { kernelspec: { display_name: 'Python 3 (ipykernel)', language: 'python', name: 'python3' } },
  nbformat: 4,
  nbformat_minor: 5,
};

function freePort() {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

before(async () => {
  // The notebooks live outside the repository, as a teacher's would; the packaged models only.
  dir = mkdtempSync(join(tmpdir(), 'dinfogan-lab-'));
  cpSync(join(WEB, 'notebook', 'viewer.ipynb'), join(dir, 'viewer.ipynb'));
  writeFileSync(join(dir, 'wheel.ipynb'), JSON.stringify(WHEEL_NOTEBOOK, null, 1));
  cpSync(DEMO_MODEL, join(dir, 'my-model.bpk'));
  const grid = (model, common, salient) => {
    const out = join(dir, `grid-${common}-${salient}.png`);
    execFileSync(cli(), [
      'generate', '--checkpoint', model, '--backend', 'cpu', '--seed', String(common),
      '--salient-seed', String(salient), '--rows', String(LAYOUT.rows), '--cols', String(LAYOUT.cols),
      '--scale', '1', '--out', out,
    ], { stdio: 'pipe' });
    return `data:image/png;base64,${readFileSync(out).toString('base64')}`;
  };
  references[3] = grid(DEMO_MODEL, 3, 4);
  references[5] = grid(DEMO_MODEL, 5, 4);
  references.best = grid(DEFAULT_MODEL, 3, 4);
  const port = await freePort();
  const home = join(dir, 'jupyter');
  // Start the notebook's kernel without asking, and no news pop-up.
  const settings = (plugin, values) => {
    const [pkg, name] = plugin.split(':');
    mkdirSync(join(home, 'settings', pkg), { recursive: true });
    writeFileSync(join(home, 'settings', pkg, `${name}.jupyterlab-settings`), JSON.stringify(values));
  };
  settings('@jupyterlab/notebook-extension:tracker', { autoStartDefaultKernel: true });
  settings('@jupyterlab/apputils-extension:notification', { fetchNews: 'false' });
  // A notebook saved with its widget state (the setting's menu item is "Save Widget State
  // Automatically"): what a teacher would hand out.
  settings('@jupyter-widgets/jupyterlab-manager:plugin', { saveState: true });
  // No Rust toolchain where the notebook runs: the wheel must not need one.
  const path = (process.env.PATH ?? '').split(delimiter)
    .filter((d) => d && !existsSync(join(d, 'cargo'))).join(delimiter);
  lab = spawn(PYTHON, [
    '-m', 'jupyterlab', '--no-browser', '--ip=127.0.0.1', `--port=${port}`,
    `--IdentityProvider.token=${TOKEN}`, `--ServerApp.root_dir=${dir}`,
    '--allow-root', '--LabApp.news_url=', `--LabApp.workspaces_dir=${join(home, 'workspaces')}`,
    `--LabApp.user_settings_dir=${join(home, 'settings')}`,
  ], {
    env: {
      ...process.env, PATH: path, JUPYTER_RUNTIME_DIR: join(home, 'runtime'), JUPYTER_CONFIG_DIR: join(home, 'config'),
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  lab.stderr.on('data', (d) => { log += d; });
  lab.url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${lab.url}/api/status?token=${TOKEN}`)).ok) break;
    } catch {
      // not listening yet
    }
    if (i > 600 || lab.exitCode !== null) throw new Error(`JupyterLab did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  lab.log = () => log;
  shots = await artifacts();
  browser = await launch({ webgpu: true });
});

after(async () => {
  await browser?.close();
  lab?.kill();
});

/** Widget `index`'s grid against a reference PNG (a data URL), in the page. */
function compareGrid(page, reference, index = 0) {
  return page.evaluate(async ({ reference, index }) => {
    const canvas = document.querySelectorAll('.dinfogan-viewer #grid')[index];
    const shown = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    const image = new Image();
    image.src = reference;
    await image.decode();
    if (image.width !== canvas.width || image.height !== canvas.height) return { maxDiff: Infinity };
    const ctx = new OffscreenCanvas(image.width, image.height).getContext('2d');
    ctx.drawImage(image, 0, 0);
    const expected = ctx.getImageData(0, 0, image.width, image.height).data;
    let maxDiff = 0;
    for (let i = 0; i < expected.length; i++) maxDiff = Math.max(maxDiff, Math.abs(expected[i] - shown[i]));
    return { maxDiff };
  }, { reference, index });
}

/** Waits until widget `index` shows the grid of `reference`; returns the last difference. */
async function gridBecomes(page, reference, index = 0, timeout = 120_000) {
  const until = Date.now() + timeout;
  let diff;
  do {
    diff = await compareGrid(page, reference, index);
    if (diff.maxDiff <= MAX_PIXEL_DIFF) return diff;
    await page.waitForTimeout(500);
  } while (Date.now() < until);
  return diff;
}

/** Replaces the source of code cell `index` (of all cells) and runs it. */
async function runCell(page, index, source) {
  const cell = page.locator('.jp-Notebook .jp-Cell').nth(index);
  if (source !== undefined) {
    await cell.locator('.cm-content').click();
    await page.keyboard.press('Control+A');
    await page.keyboard.type(source);
  } else {
    await cell.locator('.cm-content').click();
  }
  await page.keyboard.press('Shift+Enter');
  return cell;
}

/** Opens notebook `name` in a fresh JupyterLab workspace and runs all its cells. */
async function runAll(page, name) {
  await page.goto(`${lab.url}/lab/tree/${name}?reset&token=${TOKEN}`);
  await page.locator('.jp-Notebook .jp-Cell').first().waitFor();
  // The notebook names its kernel (python3); should JupyterLab still ask, take its choice.
  const ask = page.locator('.jp-Dialog button', { hasText: /^Select$/ });
  if (await ask.waitFor({ timeout: 10_000 }).then(() => true, () => false)) await ask.click();
  // Cells run once the notebook's kernel has started (JupyterLab queues them until then).
  await page.locator('.lm-MenuBar-itemLabel', { hasText: /^Run$/ }).click();
  await page.locator('.lm-Menu-itemLabel', { hasText: /^Run All Cells$/ }).click();
}

/** Both widgets of the notebook load their model in this browser, with no server but JupyterLab's. */
async function bothReady(page) {
  await page.waitForFunction(
    () => [...document.querySelectorAll('.dinfogan-viewer')].filter((v) => v.dataset.state === 'ready').length === 2,
    null, { timeout: Number(process.env.DINFOGAN_LAB_TIMEOUT ?? 300_000) },
  );
  const states = await page.$$eval('.dinfogan-viewer', (vs) => vs.map((v) => v.dataset.state));
  assert.deepEqual(states, ['ready', 'ready'], await page.textContent('.dinfogan-viewer #error'));
}

test('the notebook widget runs in JupyterLab, follows Python and sends its grid back', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  page.setDefaultTimeout(120_000);
  const log = [];
  page.on('console', (m) => log.push(`console.${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
  try {
    await runAll(page, 'viewer.ipynb');
    await bothReady(page);
    // The seeds set from Python (3 and 4) reach the first widget: the CLI's grid for them.
    const first = await gridBecomes(page, references[3]);
    assert.ok(first.maxDiff <= MAX_PIXEL_DIFF, `grid vs CLI (seeds 3, 4): ${JSON.stringify(first)}`);
    await page.screenshot({ path: join(shots, 'notebook-widget.png'), fullPage: true });

    // A trait set from Python after the widget is shown changes its image.
    await runCell(page, 7, 'viewer.common_seed = 5');
    const second = await gridBecomes(page, references[5]);
    assert.ok(second.maxDiff <= MAX_PIXEL_DIFF, `grid vs CLI (seeds 5, 4): ${JSON.stringify(second)}`);
    assert.equal(await page.inputValue('.dinfogan-viewer #common-seed'), '5');

    // The grid comes back to Python as PNG bytes of the sheet's size.
    const width = LAYOUT.cols * (32 + 2) + 2;
    const height = LAYOUT.rows * (32 + 2) + 2;
    const cell = await runCell(page, 9);
    await cell.locator('.jp-OutputArea-output', { hasText: 'grid_png: a PNG' }).waitFor();
    const text = await cell.locator('.jp-OutputArea-output').textContent();
    assert.match(text, new RegExp(`grid_png: a PNG of ${width}x${height}, \\d+ bytes; salient code of row 0: (-?\\d+\\.\\d\\d(, )?){6}`));
    const saved = readFileSync(join(dir, 'grid.png'));
    assert.equal(saved.readUInt32BE(16), width);
    assert.equal(saved.readUInt32BE(20), height);
  } catch (e) {
    await page.screenshot({ path: join(shots, 'notebook-widget-failed.png'), fullPage: true });
    throw e;
  } finally {
    writeFileSync(join(shots, 'notebook-widget.log'), `${log.join('\n')}\n--- jupyterlab ---\n${lab.log()}`);
    await page.close();
  }
});

test('the installed wheel: Viewer() and Viewer(path) draw the CLI grids, the module travels once, a saved notebook stays small', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
  page.setDefaultTimeout(120_000);
  const log = [];
  page.on('console', (m) => log.push(`console.${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
  // Everything the kernel sends this page (its websockets' frames), in bytes.
  let received = 0;
  page.on('websocket', (ws) => ws.on('framereceived', ({ payload }) => {
    received += typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  }));
  const notebook = join(dir, 'wheel.ipynb');
  try {
    const started = Date.now();
    await runAll(page, 'wheel.ipynb');
    // From the first viewer on the page (the kernel started, its cell run) to both grids drawn.
    await page.locator('.dinfogan-viewer').first().waitFor({ timeout: 300_000 });
    const shown = Date.now();
    await bothReady(page);
    const best = await gridBecomes(page, references.best, 0);
    const firstGrids = { from_run_all_s: (Date.now() - started) / 1000, from_first_viewer_s: (Date.now() - shown) / 1000 };
    assert.ok(best.maxDiff <= MAX_PIXEL_DIFF, `Viewer() vs the CLI's grid of the best bundled model: ${JSON.stringify(best)}`);
    const mine = await gridBecomes(page, references[5], 1);
    assert.ok(mine.maxDiff <= MAX_PIXEL_DIFF, `Viewer(path) vs the CLI's grid: ${JSON.stringify(mine)}`);
    await page.screenshot({ path: join(shots, 'notebook-wheel.png'), fullPage: true });

    // Installed from the wheel, outside this repository, with no cargo where it runs.
    const first = await page.locator('.jp-Notebook .jp-Cell').first().locator('.jp-OutputArea-output').textContent();
    assert.match(first, /^cargo: None \| package: /);
    assert.ok(!first.includes(WEB), `the package should not come from the repository: ${first}`);

    // The viewer's module (gzipped) and the two models cross once: not once per viewer.
    const wasm = statSync(join(WEB, 'python', 'src', 'dinfogan_viewer', 'static', 'dinfogan_web_bg.wasm.gz')).size;
    const models = statSync(DEFAULT_MODEL).size + statSync(DEMO_MODEL).size;
    assert.ok(received < wasm + models + 1_000_000,
      `the kernel sent ${received} bytes for two viewers; the module is ${wasm}, the models ${models}`);

    // Saved with its widget state, the notebook carries the grids but neither module nor model.
    const before = statSync(notebook).mtimeMs;
    await page.locator('.jp-Notebook').click();
    await page.keyboard.press('Control+s');
    await page.waitForFunction(() => !document.querySelector('.jp-mod-dirty'), null, { timeout: 60_000 }).catch(() => {});
    for (let i = 0; i < 120 && statSync(notebook).mtimeMs === before; i++) await page.waitForTimeout(250);
    const saved = JSON.parse(readFileSync(notebook, 'utf8'));
    const state = saved.metadata?.widgets?.['application/vnd.jupyter.widget-state+json']?.state ?? {};
    const viewers = Object.values(state).filter((w) => w.model_name === 'AnyModel' && 'common_seed' in (w.state ?? {}));
    assert.equal(viewers.length, 2, 'the saved notebook holds both viewers\' state');
    const size = statSync(notebook).size;
    assert.ok(size < 200_000, `the saved notebook is ${size} bytes`);
    writeFileSync(join(shots, 'notebook-wheel.json'), `${JSON.stringify({
      first_grids: firstGrids, kernel_to_browser_bytes: received, wasm_gz_bytes: wasm, model_bytes: models,
      saved_notebook_bytes: size,
    }, null, 1)}\n`);
  } catch (e) {
    await page.screenshot({ path: join(shots, 'notebook-wheel-failed.png'), fullPage: true });
    throw e;
  } finally {
    writeFileSync(join(shots, 'notebook-wheel.log'), `${log.join('\n')}\n--- jupyterlab ---\n${lab.log()}`);
    await page.close();
  }
});
