// The notebook widget in a real JupyterLab: a JupyterLab server started here on 127.0.0.1 (the
// Python of $PYTHON, default python3, with `jupyterlab` and `./web/python` installed), the
// teaching notebook opened in headless Debian Chromium, all cells run from the menu. The widget
// must draw the CLI's grid for the seeds the notebook sets, follow a trait set from Python
// afterwards, and send its grid back as PNG bytes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { WEB, DEMO_MODEL, launch, artifacts, cli } from './harness.mjs';

const PYTHON = process.env.PYTHON ?? 'python3';
const TOKEN = 'dinfogan-test';
const MAX_PIXEL_DIFF = 3;
const LAYOUT = { rows: 4, cols: 6 }; // as the notebook's first viewer

let lab;
let browser;
let dir;
let shots;
const references = {};

function freePort() {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

before(async () => {
  // The notebook finds the repository by its web/www folder: a copy with just what it reads.
  dir = mkdtempSync(join(tmpdir(), 'dinfogan-lab-'));
  mkdirSync(join(dir, 'web', 'www', 'models'), { recursive: true });
  mkdirSync(join(dir, 'web', 'notebook'), { recursive: true });
  cpSync(DEMO_MODEL, join(dir, 'web', 'www', 'models', 'demo.bpk'));
  cpSync(join(WEB, 'notebook', 'viewer.ipynb'), join(dir, 'web', 'notebook', 'viewer.ipynb'));
  for (const [common, salient] of [[3, 4], [5, 4]]) {
    const out = join(dir, `grid-${common}-${salient}.png`);
    execFileSync(cli(), [
      'generate', '--checkpoint', DEMO_MODEL, '--backend', 'cpu', '--seed', String(common),
      '--salient-seed', String(salient), '--rows', String(LAYOUT.rows), '--cols', String(LAYOUT.cols),
      '--scale', '1', '--out', out,
    ], { stdio: 'pipe' });
    references[common] = `data:image/png;base64,${readFileSync(out).toString('base64')}`;
  }
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
  lab = spawn(PYTHON, [
    '-m', 'jupyterlab', '--no-browser', '--ip=127.0.0.1', `--port=${port}`,
    `--IdentityProvider.token=${TOKEN}`, `--ServerApp.root_dir=${dir}`,
    '--allow-root', '--LabApp.news_url=', `--LabApp.workspaces_dir=${join(home, 'workspaces')}`,
    `--LabApp.user_settings_dir=${join(home, 'settings')}`,
  ], {
    env: { ...process.env, JUPYTER_RUNTIME_DIR: join(home, 'runtime'), JUPYTER_CONFIG_DIR: join(home, 'config') },
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

/** The first widget's grid against a reference PNG (a data URL), in the page. */
function compareGrid(page, reference) {
  return page.evaluate(async (reference) => {
    const canvas = document.querySelector('.dinfogan-viewer #grid');
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
  }, reference);
}

/** Waits until the first widget shows the grid of `reference`; returns the last difference. */
async function gridBecomes(page, reference, timeout = 120_000) {
  const until = Date.now() + timeout;
  let diff;
  do {
    diff = await compareGrid(page, reference);
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

test('the notebook widget runs in JupyterLab, follows Python and sends its grid back', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  page.setDefaultTimeout(120_000);
  const log = [];
  page.on('console', (m) => log.push(`console.${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
  try {
    await page.goto(`${lab.url}/lab/tree/web/notebook/viewer.ipynb?token=${TOKEN}`);
    await page.locator('.jp-Notebook .jp-Cell').first().waitFor();
    // The notebook names its kernel (python3); should JupyterLab still ask, take its choice.
    const ask = page.locator('.jp-Dialog button', { hasText: /^Select$/ });
    if (await ask.waitFor({ timeout: 10_000 }).then(() => true, () => false)) await ask.click();
    // Cells run once the notebook's kernel has started (JupyterLab queues them until then).
    await page.locator('.lm-MenuBar-itemLabel', { hasText: /^Run$/ }).click();
    await page.locator('.lm-Menu-itemLabel', { hasText: /^Run All Cells$/ }).click();

    // Both widgets load their model in this browser, with no server but JupyterLab's.
    await page.waitForFunction(
      () => [...document.querySelectorAll('.dinfogan-viewer')].filter((v) => v.dataset.state === 'ready').length === 2,
      null, { timeout: Number(process.env.DINFOGAN_LAB_TIMEOUT ?? 300_000) },
    );
    const states = await page.$$eval('.dinfogan-viewer', (vs) => vs.map((v) => v.dataset.state));
    assert.deepEqual(states, ['ready', 'ready'], await page.textContent('.dinfogan-viewer #error'));
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
    const saved = readFileSync(join(dir, 'web', 'notebook', 'grid.png'));
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
