// The page: the catalogue of bundled models, model files picked or dropped, and the URL's
// settings, around the viewer of viewer.js (which the notebook widget shares).
//
// URL parameters: model (URL of a `dinfogan export` file; default the first model of the
// catalogue), embed=1 (the viewer alone, for iframes), backend (auto | webgpu | cpu), rows, cols,
// seed, salient (the two seeds), row (the sliders' row, from 0) and s (that row's salient code,
// comma-separated, when moved by hand). The URL follows the page, so that a copied link shows
// the same images (a model opened from a file cannot be named in it).
//
// The catalogue, models/models.json, lists the bundled models, best first: for each its file,
// a title, a sentence on what it was trained on and how well it separates, and optionally
// `examples`, a PNG strip of EXAMPLES background then EXAMPLES target images of its own data
// (`dinfogan data preview FILE --strip --count 8`) for the swap panel, without which the swap
// panel offers built-in images; and optionally `preview`, its first grid pre-rendered by the
// CLI ({ file, rows, cols, seed, salient }: `dinfogan generate --rows R --cols C --seed S
// --salient-seed T --scale 1`, written by web/make-previews.mjs), shown while the model starts.
import { mountViewer, startWorker } from './viewer.js';

const params = new URLSearchParams(location.search);
const CATALOGUE = 'models/models.json';
const requested = params.get('model');
if (params.get('embed') === '1') document.body.classList.add('embed');

let ui = null;
const call = startWorker(new URL('./worker.js', import.meta.url), {
  glue: new URL('./pkg/dinfogan_web.js', import.meta.url).href,
  // The CPU-only module draws the first grid; the whole one (WebGPU) follows where it can run.
  cpuGlue: new URL('./pkg/dinfogan_web_cpu.js', import.meta.url).href,
  onFatal: (message) => ui?.showError(message),
  onProgress: (p) => ui?.progress(p),
});

// ---- the URL follows the page ----

const shown = { model: requested, view: null, row: null, salient: null };
// f32 values round-trip through 9 significant digits.
const number = (v) => String(Number(Math.fround(v).toPrecision(9)));

function writeUrl() {
  const next = new URLSearchParams();
  for (const key of ['embed', 'backend']) if (params.has(key)) next.set(key, params.get(key));
  if (shown.model !== null) next.set('model', shown.model);
  if (shown.view) {
    next.set('seed', shown.view.commonSeed);
    next.set('salient', shown.view.salientSeed);
    next.set('rows', shown.view.rows);
    next.set('cols', shown.view.cols);
  }
  if (shown.row) next.set('row', shown.row);
  if (shown.salient) next.set('s', shown.salient.map(number).join(','));
  history.replaceState(null, '', `?${next.toString().replaceAll('%2C', ',')}`);
}

ui = mountViewer(document.getElementById('viewer'), {
  call,
  host: document.body,
  backend: params.get('backend') ?? 'auto',
  rows: params.get('rows'),
  cols: params.get('cols'),
  commonSeed: params.get('seed'),
  salientSeed: params.get('salient'),
  onGrid(canvas, view) {
    shown.view = view;
    writeUrl();
  },
  onSalient(values, row, own) {
    shown.row = row;
    shown.salient = own ? null : values;
    writeUrl();
  },
});

/** The sliders' row and code from the URL, once the first grid is drawn. */
function applySliderParams() {
  if (params.has('row')) ui.setRow(params.get('row'));
  if (!params.has('s')) return;
  const values = params.get('s').split(',').map(Number);
  if (values.some((v) => !Number.isFinite(v))) {
    ui.showError(`the link's salient code (s=${params.get('s')}) is not a list of numbers`);
    return;
  }
  try {
    ui.setSalient(values);
  } catch (e) {
    ui.showError(`the link's salient code does not fit this model: ${e.message}`);
  }
}
const { $ } = ui;
let catalogue = [];

/** A catalogue entry as the viewer takes it: its example strip's and preview's URLs resolved. */
const withUrls = (entry) => ({
  ...entry,
  examplesUrl: entry.examples ? `models/${entry.examples}` : undefined,
  previewUrl: entry.preview?.file ? `models/${entry.preview.file}` : undefined,
});

/** Selects catalogue entry `index` in the picker, or "(another model)" for null. */
function showPicked(index) {
  const pick = $('model-pick');
  if (index === null) {
    if (![...pick.options].some((o) => o.value === '')) pick.add(new Option('(another model)', ''), 0);
    pick.value = '';
  } else {
    pick.value = String(index);
  }
}

async function loadModelFile(file) {
  if (!file) return;
  const bytes = new Uint8Array(await file.arrayBuffer());
  showPicked(null);
  shown.model = null;
  await ui.loadModel({ bytes }, file.name);
}

async function loadEntry(entry) {
  shown.model = `models/${entry.file}`;
  await ui.loadModel({ url: shown.model }, entry.title, withUrls(entry));
}

async function start() {
  try {
    const response = await fetch(CATALOGUE);
    if (response.ok) catalogue = await response.json();
  } catch {
    // No catalogue: the picker stays empty and ?model= (or a file) is the way in.
  }
  const pick = $('model-pick');
  pick.replaceChildren(...catalogue.map((m, i) => new Option(m.title, String(i))));
  pick.addEventListener('change', () => {
    const entry = catalogue[Number(pick.value)];
    if (entry) loadEntry(entry);
  });
  const index = requested === null
    ? 0
    : catalogue.findIndex((m) => `models/${m.file}` === requested);
  const entry = catalogue[index];
  if (entry) {
    showPicked(index);
    await loadEntry(entry);
  } else if (requested !== null) {
    showPicked(null);
    await ui.loadModel({ url: requested }, requested);
  } else {
    ui.showError(`no model to show: the catalogue ${CATALOGUE} is missing; open ?model=URL or a file`);
    return;
  }
  if (document.body.dataset.state === 'ready') applySliderParams();
}

$('model-file').addEventListener('change', (e) => loadModelFile(e.target.files[0]));

document.addEventListener('dragover', (e) => {
  e.preventDefault();
  document.body.classList.add('drag');
});
document.addEventListener('dragleave', () => document.body.classList.remove('drag'));
document.addEventListener('drop', (e) => {
  e.preventDefault();
  document.body.classList.remove('drag');
  const file = e.dataTransfer.files[0];
  // An image dropped on x or y goes to the swap; anything else is taken as a model file.
  const figure = e.target.closest?.('figure canvas');
  if (file && figure && (figure.id === 'swap-x' || figure.id === 'swap-y')) {
    ui.swapFrom(figure.id === 'swap-x' ? 'background' : 'target', file);
  } else {
    loadModelFile(file);
  }
});

// For tests and benchmarks: the worker API and the viewer's state.
window.dinfogan = { ...ui, catalogue: () => catalogue };

start();
