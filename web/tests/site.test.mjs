// The hostable site (scripts/build-site.sh, default dist/site; $DINFOGAN_SITE overrides) served
// as a course page would serve it: from a sub-path of a static server (/course/dinfogan/), in
// headless Debian Chromium with WebGPU and without. It must draw the CLI's grid from there,
// with every request inside that sub-path; and it must still run where the host serves .wasm
// with a generic type (application/octet-stream), as some hosts do.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import {
  ROOT, DEFAULT_MODEL, serve, launch, open, settled, artifacts, cli, comparePixels,
} from './harness.mjs';

const SITE = process.env.DINFOGAN_SITE ?? join(ROOT, 'dist', 'site');
const BASE = '/course/dinfogan/';
const MAX_PIXEL_DIFF = 3;
const SEEDS = { common: 3, salient: 4, rows: 4, cols: 6 };
const query = `seed=${SEEDS.common}&salient=${SEEDS.salient}&rows=${SEEDS.rows}&cols=${SEEDS.cols}`;

let servers;
let shots;
const browsers = {};

before(async () => {
  assert.ok(existsSync(join(SITE, 'index.html')), `${SITE} is missing: run scripts/build-site.sh first`);
  const fixtures = mkdtempSync(join(tmpdir(), 'dinfogan-site-'));
  execFileSync(cli(), [
    'generate', '--checkpoint', DEFAULT_MODEL, '--backend', 'cpu',
    '--seed', String(SEEDS.common), '--salient-seed', String(SEEDS.salient),
    '--rows', String(SEEDS.rows), '--cols', String(SEEDS.cols), '--scale', '1',
    '--out', join(fixtures, 'grid.png'),
  ], { stdio: 'pipe' });
  // Nothing is served at the root: a URL that escapes the sub-path fails.
  const mounts = { [BASE]: SITE, '/fixtures/': fixtures };
  servers = {
    right: await serve(mounts),
    generic: await serve(mounts, { '.wasm': 'application/octet-stream' }),
  };
  shots = await artifacts();
  browsers.webgpu = await launch({ webgpu: true });
  browsers.cpu = await launch({ webgpu: false });
});

after(async () => {
  await Promise.all(Object.values(browsers).map((b) => b?.close()));
  await Promise.all(Object.values(servers ?? {}).map((s) => s.close()));
});

for (const [path, host] of [['webgpu', 'right'], ['cpu', 'right'], ['webgpu', 'generic'], ['cpu', 'generic']]) {
  test(`the site under ${BASE} on the ${path} path${host === 'generic' ? ', .wasm served as application/octet-stream' : ''}`, async () => {
    const server = servers[host];
    const page = await open(browsers[path], `${server.url}${BASE}?${query}`);
    try {
      assert.equal(await settled(page), 'ready', await page.textContent('#error'));
      if (path === 'webgpu') assert.match(await page.textContent('#backend'), /^WebGPU \(/);
      else assert.match(await page.textContent('#backend'), /^CPU \(WebAssembly/);
      const diff = await comparePixels(page, '#grid', '/fixtures/grid.png');
      assert.ok(diff.maxDiff <= MAX_PIXEL_DIFF, `grid vs CLI: ${JSON.stringify(diff)}`);
      // Every file the page and its worker asked for lies inside the site's folder.
      const outside = page.requested.filter((u) => u.startsWith(server.url)
        && !u.startsWith(`${server.url}${BASE}`) && !u.startsWith(`${server.url}/fixtures/`));
      assert.deepEqual(outside, [], 'requests outside the sub-path');
      assert.ok(page.requested.some((u) => u.startsWith(`${server.url}${BASE}models/`)), 'the bundled model came from the site');
      await page.screenshot({ path: join(shots, `site-${path}-${host}.png`), fullPage: true });
    } finally {
      await page.close();
    }
  });
}
