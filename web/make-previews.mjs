// Writes each catalogue model's preview, its first grid pre-rendered by the native CLI, and
// names it in models/models.json, so that the page shows it while the model starts:
//   cargo build --release -p dinfogan-cli && node web/make-previews.mjs
// Run it again whenever a bundled model changes (web/tests/viewer.test.mjs checks that the
// default model's preview is the grid the page computes).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { MODELS, cli } from './tests/harness.mjs';
import { DEFAULT_VIEW } from './www/viewer.js';

const catalogue = join(MODELS, 'models.json');
const entries = JSON.parse(readFileSync(catalogue, 'utf8'));
for (const entry of entries) {
  const file = entry.file.replace(/\.bpk$/, '') + '-preview.png';
  execFileSync(cli(), [
    'generate', '--checkpoint', join(MODELS, entry.file), '--backend', 'cpu',
    '--rows', String(DEFAULT_VIEW.rows), '--cols', String(DEFAULT_VIEW.cols),
    '--seed', String(DEFAULT_VIEW.seed), '--salient-seed', String(DEFAULT_VIEW.salient),
    '--scale', '1', '--out', join(MODELS, file),
  ], { stdio: 'inherit' });
  entry.preview = { file, ...DEFAULT_VIEW };
  console.log(`${entry.file}: ${file}`);
}
writeFileSync(`${catalogue}.tmp`, `${JSON.stringify(entries, null, 2)}\n`);
renameSync(`${catalogue}.tmp`, catalogue);
