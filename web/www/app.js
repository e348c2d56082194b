// The page: controls, canvases and messages. The model itself runs in worker.js.
//
// URL parameters: model (URL of a `dinfogan export` file; default the first model of the
// catalogue), embed=1 (the viewer alone, for iframes), backend (auto | webgpu | cpu), rows, cols,
// seed, salient.
//
// The catalogue, models/models.json, lists the bundled models, best first: for each its file,
// a title, a sentence on what it was trained on and how well it separates, and optionally
// `examples`, a PNG strip of EXAMPLES background then EXAMPLES target images of its own data
// (`dinfogan data preview FILE --strip --count 8`) for the swap panel; without it the swap
// panel offers built-in images.

const params = new URLSearchParams(location.search);
const CATALOGUE = 'models/models.json';
const GAP = 2; // pixels between tiles, as in the CLI's sheets (`dinfogan generate --scale 1`)
const SHEET_BACKGROUND = [24, 24, 24];
const MAX_SLIDERS = 16;
const EXAMPLES = 8;

const $ = (id) => document.getElementById(id);
const clampInt = (v, lo, hi, fallback) => {
  const n = Number.parseInt(v, 10);
  return Number.isFinite(n) ? Math.min(hi, Math.max(lo, n)) : fallback;
};

const settings = {
  model: params.get('model'),
  backend: params.get('backend') ?? 'auto',
  rows: clampInt(params.get('rows'), 1, 16, 4),
  cols: clampInt(params.get('cols'), 2, 16, 6),
};
if (params.get('embed') === '1') document.body.classList.add('embed');
$('common-seed').value = clampInt(params.get('seed'), 0, 2 ** 32 - 1, 0);
$('salient-seed').value = clampInt(params.get('salient'), 0, 2 ** 32 - 1, 0);

// ---- the worker ----------------------------------------------------------------------------

const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
const pending = new Map();
let nextId = 0;

worker.onmessage = ({ data }) => {
  const request = pending.get(data.id);
  pending.delete(data.id);
  if (data.ok) request.resolve({ result: data.result, ms: data.ms });
  else request.reject(new Error(data.error));
};
worker.onerror = (event) => {
  event.preventDefault();
  const error = new Error(`the viewer could not start (${event.message || 'its script failed to load'})`);
  for (const request of pending.values()) request.reject(error);
  pending.clear();
  showError(error.message);
};

function call(op, args, transfer = []) {
  return new Promise((resolve, reject) => {
    const id = nextId++;
    pending.set(id, { resolve, reject });
    worker.postMessage({ id, op, args }, transfer);
  });
}

// ---- state and messages --------------------------------------------------------------------

const state = {
  model: null, latents: null, sliderSalient: null, examples: null, swapInput: {},
  catalogue: [], entry: null,
};

function setStatus(text) {
  $('status').textContent = text;
}

function showError(text) {
  const box = $('error');
  box.textContent = text.charAt(0).toUpperCase() + text.slice(1) + (/[.!?]$/.test(text) ? '' : '.');
  box.hidden = false;
  document.body.dataset.state = 'error';
  setStatus('Something went wrong; see below.');
}

function clearError() {
  $('error').hidden = true;
  $('error').textContent = '';
}

function showTiming(what, ms) {
  $('timing').textContent = `${ms.toFixed(0)} ms (${what})`;
}

function setBusy(busy) {
  for (const el of document.querySelectorAll('button, select, input')) el.disabled = busy;
}

// ---- drawing -------------------------------------------------------------------------------

/** Draws RGBA tiles (side x side each) as a sheet with the CLI's layout, at 1 pixel per pixel. */
function drawSheet(canvas, rgba, rows, cols, side, scale) {
  const width = cols * (side + GAP) + GAP;
  const height = rows * (side + GAP) + GAP;
  const sheet = new ImageData(width, height);
  for (let i = 0; i < width * height; i++) {
    sheet.data.set([...SHEET_BACKGROUND, 255], i * 4);
  }
  const tile = side * side * 4;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const offset = (r * cols + c) * tile;
      for (let y = 0; y < side; y++) {
        const from = offset + y * side * 4;
        const to = ((GAP + r * (side + GAP) + y) * width + GAP + c * (side + GAP)) * 4;
        sheet.data.set(rgba.subarray(from, from + side * 4), to);
      }
    }
  }
  canvas.width = width;
  canvas.height = height;
  canvas.getContext('2d').putImageData(sheet, 0, 0);
  canvas.style.width = `${width * scale}px`;
}

function drawTile(canvas, rgba, side, scale = 4) {
  canvas.width = side;
  canvas.height = side;
  canvas.getContext('2d').putImageData(new ImageData(new Uint8ClampedArray(rgba), side, side), 0, 0);
  canvas.style.width = `${side * scale}px`;
}

const tileScale = (side) => (side <= 32 ? 3 : 2);

// ---- the model -----------------------------------------------------------------------------

async function loadModel(source, label, entry = null) {
  state.entry = entry;
  $('model-about').textContent = entry?.about ?? '';
  clearError();
  setBusy(true);
  document.body.dataset.state = 'loading';
  setStatus(`Loading ${label}…`);
  try {
    const started = performance.now();
    const { result } = await call('load', { ...source, backend: settings.backend });
    state.model = result;
    const c = result.config;
    $('backend').textContent = result.backend;
    $('model-info').textContent =
      `${c.image_size}x${c.image_size}, ${c.channels === 1 ? 'grey' : 'colour'}, ` +
      `${c.common_dim} common and ${c.salient_dim} salient factors`;
    $('grid').setAttribute('aria-label',
      `Generated images: ${settings.rows} rows sharing one common code each; the first column ` +
      `is a background image (s = 0), the other ${settings.cols - 1} columns add one salient code each`);
    setupSliders(c);
    await loadExamples();
    await drawGrid();
    await runSwap();
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    setStatus(`Loaded ${label} in ${seconds} s.`);
    document.body.dataset.state = 'ready';
  } catch (e) {
    showError(e.message);
  } finally {
    setBusy(false);
  }
}

async function drawGrid() {
  const c = state.model.config;
  const { rows, cols } = settings;
  const commonSeed = clampInt($('common-seed').value, 0, 2 ** 32 - 1, 0);
  const salientSeed = clampInt($('salient-seed').value, 0, 2 ** 32 - 1, 0);
  const { result: latents } = await call('gridLatents', { rows, cols, commonSeed, salientSeed });
  state.latents = latents;
  const { result: rgba, ms } = await call('generate', latents);
  drawSheet($('grid'), rgba, rows, cols, c.image_size, tileScale(c.image_size));
  // Milliseconds from navigation to the first grid on screen (the benchmark reads it).
  state.firstGridMs ??= performance.now();
  showTiming(`grid of ${rows * cols}`, ms);
  resetSliders();
}

function randomSeed() {
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

async function regenerate(change) {
  if (!state.model) return;
  change?.();
  clearError();
  try {
    await drawGrid();
  } catch (e) {
    showError(e.message);
  }
}

$('new-common').addEventListener('click', () => regenerate(() => { $('common-seed').value = randomSeed(); }));
$('new-salient').addEventListener('click', () => regenerate(() => { $('salient-seed').value = randomSeed(); }));
$('common-seed').addEventListener('change', () => regenerate());
$('salient-seed').addEventListener('change', () => regenerate());

// ---- salient sliders -----------------------------------------------------------------------

function setupSliders(config) {
  const select = $('slider-row');
  select.replaceChildren(...Array.from({ length: settings.rows }, (_, r) => new Option(`${r + 1}`, `${r}`)));
  const box = $('sliders');
  box.replaceChildren();
  const shown = Math.min(config.salient_dim, MAX_SLIDERS);
  for (let k = 0; k < shown; k++) {
    const label = document.createElement('label');
    label.htmlFor = `salient-${k}`;
    label.textContent = `s${k + 1}`;
    const input = Object.assign(document.createElement('input'), {
      type: 'range', id: `salient-${k}`, min: '-3', max: '3', step: '0.05', value: '0',
    });
    const output = document.createElement('output');
    output.htmlFor = input.id;
    output.id = `salient-${k}-value`;
    input.addEventListener('input', () => {
      state.sliderSalient[k] = Number(input.value);
      output.textContent = Number(input.value).toFixed(2);
      requestSliderImage();
    });
    box.append(label, input, output);
  }
  if (config.salient_dim > MAX_SLIDERS) {
    const note = document.createElement('p');
    note.className = 'hint';
    note.textContent = `The first ${MAX_SLIDERS} of ${config.salient_dim} salient dimensions.`;
    box.append(note);
  }
}

function rowLatents(row) {
  const c = state.model.config;
  const { cols } = settings;
  const L = c.common_dim;
  const M = c.salient_dim;
  // The row's first target column (column 1), or s = 0 when there is none.
  const index = row * cols + Math.min(1, cols - 1);
  return {
    common: state.latents.common.slice(index * L, (index + 1) * L),
    salient: state.latents.salient.slice(index * M, (index + 1) * M),
  };
}

function resetSliders() {
  const row = Number($('slider-row').value || 0);
  const { salient } = rowLatents(row);
  state.sliderSalient = Float32Array.from(salient);
  const shown = Math.min(salient.length, MAX_SLIDERS);
  for (let k = 0; k < shown; k++) {
    const v = Math.max(-3, Math.min(3, salient[k]));
    $(`salient-${k}`).value = String(v);
    $(`salient-${k}-value`).textContent = v.toFixed(2);
  }
  requestSliderImage();
}

// Slider moves arrive faster than images: keep one request in flight and the latest waiting.
let sliderBusy = false;
let sliderAgain = false;
async function requestSliderImage() {
  if (sliderBusy) {
    sliderAgain = true;
    return;
  }
  sliderBusy = true;
  try {
    do {
      sliderAgain = false;
      const row = Number($('slider-row').value || 0);
      const { common } = rowLatents(row);
      const { result, ms } = await call('generate', { common, salient: Float32Array.from(state.sliderSalient) });
      const side = state.model.config.image_size;
      drawTile($('slider-image'), result, side, tileScale(side) + 2);
      showTiming('one image', ms);
      document.body.dataset.slider = String((Number(document.body.dataset.slider) || 0) + 1);
    } while (sliderAgain);
  } catch (e) {
    showError(e.message);
  } finally {
    sliderBusy = false;
  }
}

$('slider-row').addEventListener('change', resetSliders);
$('slider-reset').addEventListener('click', resetSliders);

// ---- swap ----------------------------------------------------------------------------------

/** The catalogue entry's example strip as 2 * EXAMPLES RGBA tiles of the model's side. */
async function stripExamples(url, side) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`the example images ${url} could not be fetched (HTTP ${response.status})`);
  const bitmap = await createImageBitmap(await response.blob());
  if (bitmap.width !== 2 * EXAMPLES * side || bitmap.height !== side) {
    throw new Error(`the example images ${url} are ${bitmap.width}x${bitmap.height}, not a strip of ` +
      `${2 * EXAMPLES} images of ${side}x${side}`);
  }
  const canvas = new OffscreenCanvas(bitmap.width, side);
  const ctx = canvas.getContext('2d');
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  // Tile by tile, in the layout the worker's builtinExamples returns.
  const tile = side * side * 4;
  const out = new Uint8Array(2 * EXAMPLES * tile);
  for (let i = 0; i < 2 * EXAMPLES; i++) {
    out.set(ctx.getImageData(i * side, 0, side, side).data, i * tile);
  }
  return out;
}

async function loadExamples() {
  const own = state.entry?.examples;
  const side = state.model.config.image_size;
  state.examples = own
    ? await stripExamples(`models/${own}`, side)
    : (await call('builtinExamples', { count: EXAMPLES })).result;
  const name = own ? 'Example' : 'Built-in data';
  const select = $('swap-example');
  select.replaceChildren(new Option('(your images)', ''),
    ...Array.from({ length: EXAMPLES }, (_, i) => new Option(`${name} ${i + 1}`, `${i}`)));
  select.value = '0';
  useExample(0);
}

function useExample(i) {
  const side = state.model.config.image_size;
  const tile = side * side * 4;
  state.swapInput.background = state.examples.slice(i * tile, (i + 1) * tile);
  state.swapInput.target = state.examples.slice((EXAMPLES + i) * tile, (EXAMPLES + i + 1) * tile);
}

/** Any image file to side x side RGBA: the largest centred square, resized. */
async function imageToRgba(file, side) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    throw new Error(`the file ${file.name} is not an image this browser can decode`);
  }
  const size = Math.min(bitmap.width, bitmap.height);
  const canvas = new OffscreenCanvas(side, side);
  const ctx = canvas.getContext('2d');
  ctx.drawImage(bitmap, (bitmap.width - size) / 2, (bitmap.height - size) / 2, size, size, 0, 0, side, side);
  bitmap.close();
  return new Uint8Array(ctx.getImageData(0, 0, side, side).data.buffer);
}

async function runSwap() {
  const { background, target } = state.swapInput;
  if (!state.model || !background || !target) return;
  const side = state.model.config.image_size;
  const scale = tileScale(side) + 1;
  const { result, ms } = await call('swap', { background, target });
  const tile = side * side * 4;
  const part = (k) => result.subarray(k * tile, (k + 1) * tile);
  drawTile($('swap-x'), background, side, scale);
  drawTile($('swap-y'), target, side, scale);
  drawTile($('swap-rx'), part(0), side, scale);
  drawTile($('swap-ry'), part(1), side, scale);
  drawTile($('swap-gain'), part(2), side, scale);
  drawTile($('swap-remove'), part(3), side, scale);
  showTiming('swap', ms);
  document.body.dataset.swap = String((Number(document.body.dataset.swap) || 0) + 1);
}

async function swapFrom(which, file) {
  if (!state.model || !file) return;
  clearError();
  try {
    state.swapInput[which] = await imageToRgba(file, state.model.config.image_size);
    $('swap-example').value = '';
    await runSwap();
  } catch (e) {
    showError(e.message);
  }
}

$('swap-background').addEventListener('change', (e) => swapFrom('background', e.target.files[0]));
$('swap-target').addEventListener('change', (e) => swapFrom('target', e.target.files[0]));
$('swap-example').addEventListener('change', async (e) => {
  if (e.target.value === '') return;
  useExample(Number(e.target.value));
  try {
    await runSwap();
  } catch (err) {
    showError(err.message);
  }
});

// ---- files: pick or drop -------------------------------------------------------------------

async function loadModelFile(file) {
  if (!file) return;
  const bytes = new Uint8Array(await file.arrayBuffer());
  showPicked(null);
  await loadModel({ bytes }, file.name);
}

// ---- the catalogue of bundled models -------------------------------------------------------

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

async function start() {
  try {
    const response = await fetch(CATALOGUE);
    if (response.ok) state.catalogue = await response.json();
  } catch {
    // No catalogue: the picker stays empty and ?model= (or a file) is the way in.
  }
  const pick = $('model-pick');
  pick.replaceChildren(...state.catalogue.map((m, i) => new Option(m.title, String(i))));
  pick.addEventListener('change', () => {
    const entry = state.catalogue[Number(pick.value)];
    if (entry) loadModel({ url: `models/${entry.file}` }, entry.title, entry);
  });
  const index = settings.model === null
    ? 0
    : state.catalogue.findIndex((m) => `models/${m.file}` === settings.model);
  const entry = state.catalogue[index];
  if (entry) {
    showPicked(index);
    await loadModel({ url: `models/${entry.file}` }, entry.title, entry);
  } else if (settings.model !== null) {
    showPicked(null);
    await loadModel({ url: settings.model }, settings.model);
  } else {
    showError(`no model to show: the catalogue ${CATALOGUE} is missing; open ?model=URL or a file`);
  }
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
    swapFrom(figure.id === 'swap-x' ? 'background' : 'target', file);
  } else {
    loadModelFile(file);
  }
});

// For tests and notebooks: the worker API and the page state.
window.dinfogan = { call, state, settings, loadModel, drawGrid, runSwap };

start();
