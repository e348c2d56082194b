// The viewer itself: its panels, the drawing, the grid, the salient sliders and the swap. One
// codebase for the page (app.js mounts it into index.html) and the notebook widget
// (python/dinfogan_viewer/widget.js mounts it into an output cell). The model runs in
// worker.js, started by `startWorker`.
//
// Progress marks for tests and notebooks, on the host element's dataset: state (loading |
// ready | error), grid, swap and slider (counters of images drawn), sliding (yes while slider
// images are being drawn), upgrade (pending | done | failed: the move from the CPU-only module
// to WebGPU on the split page).

const GAP = 2; // pixels between tiles, as in the CLI's sheets (`dinfogan generate --scale 1`)
const SHEET_BACKGROUND = [24, 24, 24];
const MAX_SLIDERS = 16;
export const EXAMPLES = 8;
const MAX_SEED = 2 ** 32 - 1;
/** The grid a viewer shows first unless told otherwise (the catalogue's previews show it). */
export const DEFAULT_VIEW = { rows: 4, cols: 6, seed: 0, salient: 0 };

export const clampInt = (v, lo, hi, fallback) => {
  const n = Number.parseInt(v, 10);
  return Number.isFinite(n) ? Math.min(hi, Math.max(lo, n)) : fallback;
};

/** The viewer's panels; ids are looked up inside the element they are mounted in. */
export const MARKUP = `
  <section aria-labelledby="model-title" class="panel">
    <h2 id="model-title">Model</h2>
    <div class="controls">
      <label>Bundled model <select id="model-pick"></select></label>
    </div>
    <p id="model-about" class="hint"></p>
    <p id="status" role="status" aria-live="polite">Loading the model…</p>
    <p id="error" role="alert" hidden></p>
    <dl class="facts">
      <div><dt>Runs on</dt><dd id="backend">–</dd></div>
      <div><dt>Last generation</dt><dd id="timing">–</dd></div>
      <div><dt>Model</dt><dd id="model-info">–</dd></div>
    </dl>
    <div class="chrome">
      <label for="model-file">Open a model file (<code>dinfogan export</code>):</label>
      <input type="file" id="model-file" accept=".bpk,application/octet-stream">
      <p class="hint">…or drop a model file anywhere on this page.</p>
    </div>
  </section>

  <section aria-labelledby="grid-title" class="panel">
    <h2 id="grid-title">Generation</h2>
    <p class="hint">Each row shares one common code z. The first column has s = 0 (a background
      image); every other column adds one salient code s, the same down the column.</p>
    <div class="controls">
      <label>Common seed <input type="number" id="common-seed" min="0" max="4294967295" value="0"></label>
      <label>Salient seed <input type="number" id="salient-seed" min="0" max="4294967295" value="0"></label>
      <button type="button" id="new-common">New z</button>
      <button type="button" id="new-salient">New s</button>
      <button type="button" id="download-grid">Download PNG</button>
    </div>
    <canvas id="grid" role="img" aria-label="Generated images" width="1" height="1"></canvas>
  </section>

  <section aria-labelledby="sliders-title" class="panel">
    <h2 id="sliders-title">Salient sliders</h2>
    <p class="hint">Move the salient code of one row over [-3, 3] with z fixed (a traversal, the
      paper's Fig. 9). It starts from the row's first target image.</p>
    <div class="controls">
      <label>Row <select id="slider-row"></select></label>
      <button type="button" id="slider-reset">Reset</button>
      <button type="button" id="download-slider">Download PNG</button>
    </div>
    <div class="slider-view">
      <canvas id="slider-image" role="img" aria-label="Image from the sliders" width="1" height="1"></canvas>
      <div id="sliders" class="sliders"></div>
    </div>
  </section>

  <section aria-labelledby="swap-title" class="panel">
    <h2 id="swap-title">Swap salient features</h2>
    <p class="hint">Give a background image x and a target image y (any size; they are
      cropped to a square and resized to the model's size). The model encodes both, then shows
      x given y's salient features, G(z<sub>x</sub>, s<sub>y</sub>), and y with its salient
      features removed, G(z<sub>y</sub>, 0): its "healthy counterpart".</p>
    <div class="controls">
      <label>Background image <input type="file" id="swap-background" accept="image/*"></label>
      <label>Target image <input type="file" id="swap-target" accept="image/*"></label>
      <label>Example pair <select id="swap-example"></select></label>
    </div>
    <div class="controls"><button type="button" id="download-swap">Download PNG</button></div>
    <div class="swap" id="swap">
      <figure><canvas id="swap-x" width="1" height="1" role="img" aria-label="Background image x"></canvas><figcaption>x</figcaption></figure>
      <figure><canvas id="swap-rx" width="1" height="1" role="img" aria-label="Reconstruction of x"></canvas><figcaption>G(z<sub>x</sub>, 0)</figcaption></figure>
      <figure><canvas id="swap-gain" width="1" height="1" role="img" aria-label="x given the salient features of y"></canvas><figcaption>G(z<sub>x</sub>, s<sub>y</sub>)</figcaption></figure>
      <figure><canvas id="swap-y" width="1" height="1" role="img" aria-label="Target image y"></canvas><figcaption>y</figcaption></figure>
      <figure><canvas id="swap-ry" width="1" height="1" role="img" aria-label="Reconstruction of y"></canvas><figcaption>G(z<sub>y</sub>, s<sub>y</sub>)</figcaption></figure>
      <figure><canvas id="swap-remove" width="1" height="1" role="img" aria-label="y with its salient features removed"></canvas><figcaption>G(z<sub>y</sub>, 0)</figcaption></figure>
    </div>
  </section>
`;

// ---- the worker ----------------------------------------------------------------------------

/**
 * Starts the model's worker: `workerUrl` is worker.js (a URL or a blob URL), `glue` the URL of
 * wasm-bindgen's dinfogan_web.js, `wasm` the module's bytes (or undefined: fetched beside the
 * glue). Returns `call(op, args, transfer)`, a promise of `{ result, ms }` per request;
 * `onFatal(message)` is told when the worker cannot start, `onProgress({ what, loaded, total })`
 * while the viewer or a model downloads.
 */
export function startWorker(workerUrl, { glue, cpuGlue, wasm, onFatal, onProgress }) {
  const worker = new Worker(workerUrl, { type: 'module' });
  const pending = new Map();
  let nextId = 0;
  worker.onmessage = ({ data }) => {
    if (data.progress) {
      onProgress?.(data.progress);
      return;
    }
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
    onFatal?.(error.message);
  };
  const call = (op, args, transfer = []) => new Promise((resolve, reject) => {
    const id = nextId++;
    pending.set(id, { resolve, reject });
    worker.postMessage({ id, op, args }, transfer);
  });
  // The first request: the WebAssembly module. Every later one waits for it in the worker.
  call('init', { glue, cpuGlue, wasm }).catch((e) => onFatal?.(e.message));
  call.terminate = () => worker.terminate();
  return call;
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

// ---- the viewer ----------------------------------------------------------------------------

/**
 * Mounts the viewer's panels into `container` and returns its API.
 *
 * options: `call` (from startWorker); `host` (the element whose dataset carries the progress
 * marks; default `container`); `backend` (auto | webgpu | cpu); `rows`, `cols`, `commonSeed`,
 * `salientSeed`; `onGrid(canvas, view)`, told after every grid with its rows, cols and seeds;
 * `onSalient(values, row, own)`, told when the chosen row or its salient code changes (`own`:
 * the row's code from the seeds, not moved by hand); `onStatus({ state,
 * error })`, told when a model is ready or an error is shown.
 */
export function mountViewer(container, options) {
  container.insertAdjacentHTML('beforeend', MARKUP);
  const $ = (id) => container.querySelector(`#${id}`);
  const host = options.host ?? container;
  host.dataset.state ??= 'loading';
  const { call } = options;
  const settings = {
    backend: options.backend ?? 'auto',
    rows: clampInt(options.rows, 1, 16, DEFAULT_VIEW.rows),
    cols: clampInt(options.cols, 2, 16, DEFAULT_VIEW.cols),
  };
  $('common-seed').value = clampInt(options.commonSeed, 0, MAX_SEED, DEFAULT_VIEW.seed);
  $('salient-seed').value = clampInt(options.salientSeed, 0, MAX_SEED, DEFAULT_VIEW.salient);

  const state = {
    model: null, latents: null, sliderSalient: null, examples: null, swapInput: {}, entry: null,
    // Models asked for so far, the one whose computed grid is on screen and the last that
    // failed (the preview's guards).
    loads: 0, drawnFor: 0, failed: 0,
  };

  // ---- messages ----

  function setStatus(text) {
    $('status').textContent = text;
  }

  function showError(text) {
    const box = $('error');
    box.textContent = text.charAt(0).toUpperCase() + text.slice(1) + (/[.!?]$/.test(text) ? '' : '.');
    box.hidden = false;
    host.dataset.state = 'error';
    setStatus('Something went wrong; see below.');
    options.onStatus?.({ state: 'error', error: box.textContent });
  }

  /** Download progress, while a model is loading. */
  function progress({ what, loaded, total, done }) {
    if (host.dataset.state !== 'loading') return;
    const mb = (n) => (n / 1e6).toFixed(1);
    if (done) {
      setStatus(`Downloaded ${what} (${mb(loaded)} MB); starting it…`);
      return;
    }
    // A compressed transfer's length is smaller than what arrives: then no total.
    const of = total >= loaded ? ` of ${mb(total)}` : '';
    setStatus(`Downloading ${what}: ${mb(loaded)}${of} MB…`);
  }

  function clearError() {
    $('error').hidden = true;
    $('error').textContent = '';
  }

  function showTiming(what, ms) {
    $('timing').textContent = `${ms.toFixed(0)} ms (${what})`;
  }

  function setBusy(busy) {
    for (const el of container.querySelectorAll('button, select, input')) el.disabled = busy;
  }

  const count = (mark) => {
    host.dataset[mark] = String((Number(host.dataset[mark]) || 0) + 1);
  };

  // ---- the model ----

  /** Loads a model: `source` is { url } or { bytes }; `entry` a catalogue entry (or null). */
  async function loadModel(source, label, entry = null) {
    state.entry = entry;
    const load = ++state.loads;
    $('model-about').textContent = entry?.about ?? '';
    clearError();
    setBusy(true);
    host.dataset.state = 'loading';
    setStatus(`Loading ${label}…`);
    showPreview(entry, load);
    try {
      const started = performance.now();
      const { result } = await call('load', { ...source, backend: settings.backend });
      state.model = result;
      const c = result.config;
      $('backend').textContent = result.backend;
      $('model-info').textContent =
        `${c.method_label}, ${c.image_size}x${c.image_size}, ${c.channels === 1 ? 'grey' : 'colour'}, ` +
        `${c.common_dim} common and ${c.salient_dim} salient factors`;
      setupSliders(c);
      // The grid first: the swap's example images are not needed to show it.
      await drawGrid();
      await loadExamples();
      await runSwap();
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      setStatus(`Loaded ${label} in ${seconds} s.${fallbackSentence(result)}`);
      host.dataset.state = 'ready';
      options.onStatus?.({ state: 'ready', error: '' });
      if (result.upgrading) upgrade(label);
    } catch (e) {
      // A preview stays only beside the grid it previews: not beside an error.
      state.failed = load;
      if (host.dataset.preview === 'shown' && state.drawnFor !== load) {
        const canvas = $('grid');
        canvas.width = 1;
        canvas.height = 1;
        delete host.dataset.preview;
      }
      showError(e.message);
    } finally {
      setBusy(false);
    }
  }

  /** A catalogue model's first grid pre-rendered (`preview`: the CLI's sheet of the same seeds
   *  and layout, `dinfogan generate --scale 1`), drawn as soon as it arrives while the module and
   *  the model start, when the grid asked for is that one; the computed grid replaces it. */
  async function showPreview(entry, load) {
    const preview = entry?.preview;
    if (!preview || !entry.previewUrl) return;
    const wanted = {
      rows: settings.rows,
      cols: settings.cols,
      seed: clampInt($('common-seed').value, 0, MAX_SEED, 0),
      salient: clampInt($('salient-seed').value, 0, MAX_SEED, 0),
    };
    if (Object.entries(wanted).some(([key, value]) => preview[key] !== value)) return;
    const image = new Image();
    image.src = entry.previewUrl;
    try {
      await image.decode();
    } catch {
      return; // (no preview: the computed grid comes anyway)
    }
    // Too late: another model was asked for, the computed grid is already on screen, or the
    // model could not be loaded.
    if (state.loads !== load || state.drawnFor === load || state.failed === load) return;
    const side = (image.width - GAP) / preview.cols - GAP;
    if (!Number.isInteger(side) || image.height !== preview.rows * (side + GAP) + GAP) return;
    const canvas = $('grid');
    canvas.width = image.width;
    canvas.height = image.height;
    canvas.getContext('2d').drawImage(image, 0, 0);
    canvas.style.width = `${image.width * tileScale(side)}px`;
    host.dataset.preview = 'shown';
    // Milliseconds from navigation to the preview on screen (the benchmark reads it).
    state.previewMs ??= performance.now();
  }

  /** Where WebGPU was wanted but is missing, a sentence: the CPU is slower for large grids. */
  function fallbackSentence(result) {
    if (result.gpu || settings.backend === 'cpu') return '';
    if (result.upgrading) return ' It runs on the CPU while the WebGPU module loads.';
    const reason = result.backend.match(/WebGPU unavailable: ([^)]*)/)?.[1];
    return ` WebGPU is not available${reason ? ` (${reason})` : ''}, so it runs on the CPU, slower for large grids.`;
  }

  /** The split page drew the first grid with the CPU-only module: the model moves to the whole
   *  module (WebGPU) once it has downloaded, and the panels are drawn again there. */
  async function upgrade(label) {
    host.dataset.upgrade = 'pending';
    try {
      const { result } = await call('upgrade');
      state.model = { ...state.model, ...result };
      $('backend').textContent = result.backend;
      await drawGrid();
      // Milliseconds from navigation to the grid drawn on WebGPU (the benchmark reads it).
      state.upgradedMs ??= performance.now();
      await runSwap();
      setStatus(`Loaded ${label}; it now runs on ${result.backend}.${fallbackSentence(result)}`);
      host.dataset.upgrade = 'done';
    } catch (e) {
      setStatus(`Loaded ${label}. WebGPU could not start (${e.message}), so it stays on the CPU.`);
      host.dataset.upgrade = 'failed';
    }
  }

  async function drawGrid() {
    const c = state.model.config;
    const { rows, cols } = settings;
    $('grid').setAttribute('aria-label',
      `Generated images: ${rows} rows sharing one common code each; the first column ` +
      `is a background image (s = 0), the other ${cols - 1} columns add one salient code each`);
    const commonSeed = clampInt($('common-seed').value, 0, MAX_SEED, 0);
    const salientSeed = clampInt($('salient-seed').value, 0, MAX_SEED, 0);
    const { result: latents } = await call('gridLatents', { rows, cols, commonSeed, salientSeed });
    state.latents = latents;
    // A 128x128 model on the CPU takes about half a second per image: such grids are drawn
    // a row at a time, so that the first row shows within seconds instead of the whole grid
    // after half a minute. Smaller models draw the grid in one call, except the page's very
    // first grid: its first row comes first, while the freshly compiled module still runs
    // unoptimised code (the first grid of 64 takes about five times a later one).
    const side = c.image_size;
    const first = state.firstGridMs === undefined;
    const perCall = side >= 128 ? cols : rows * cols;
    const tile = side * side * 4;
    const rgba = new Uint8ClampedArray(rows * cols * tile);
    // Tiles still to come show the sheet's background.
    for (let i = 0; i < rgba.length; i += 4) rgba.set([...SHEET_BACKGROUND, 255], i);
    const { common_dim: L, salient_dim: M } = c;
    let ms = 0;
    for (let start = 0, end = 0; start < rows * cols; start = end) {
      end = Math.min(start + (first && start === 0 ? cols : perCall), rows * cols);
      const part = await call('generate', {
        common: latents.common.slice(start * L, end * L),
        salient: latents.salient.slice(start * M, end * M),
      });
      if (state.latents !== latents) return; // a newer grid was asked for meanwhile
      rgba.set(part.result, start * tile);
      ms += part.ms;
      drawSheet($('grid'), rgba, rows, cols, side, tileScale(side));
      state.drawnFor = state.loads;
      // Milliseconds from navigation to the first row on screen (the benchmark reads it).
      state.firstRowMs ??= performance.now();
    }
    // Milliseconds from navigation to the first grid on screen (the benchmark reads it).
    state.firstGridMs ??= performance.now();
    showTiming(`grid of ${rows * cols}`, ms);
    count('grid');
    options.onGrid?.($('grid'), { rows, cols, commonSeed, salientSeed });
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

  /** New seeds or another layout (rows, cols), then a new grid. Any field may be missing. */
  function setView({ rows, cols, commonSeed, salientSeed }) {
    return regenerate(() => {
      if (commonSeed !== undefined) $('common-seed').value = clampInt(commonSeed, 0, MAX_SEED, 0);
      if (salientSeed !== undefined) $('salient-seed').value = clampInt(salientSeed, 0, MAX_SEED, 0);
      const layout = rows !== undefined || cols !== undefined;
      if (rows !== undefined) settings.rows = clampInt(rows, 1, 16, settings.rows);
      if (cols !== undefined) settings.cols = clampInt(cols, 2, 16, settings.cols);
      if (layout) setupRows();
    });
  }

  $('new-common').addEventListener('click', () => regenerate(() => { $('common-seed').value = randomSeed(); }));
  $('new-salient').addEventListener('click', () => regenerate(() => { $('salient-seed').value = randomSeed(); }));
  $('common-seed').addEventListener('change', () => regenerate());
  $('salient-seed').addEventListener('change', () => regenerate());

  // ---- salient sliders ----

  function setupRows() {
    const select = $('slider-row');
    const row = Math.min(Number(select.value || 0), settings.rows - 1);
    select.replaceChildren(...Array.from({ length: settings.rows }, (_, r) => new Option(`${r + 1}`, `${r}`)));
    select.value = String(row);
  }

  function setupSliders(config) {
    setupRows();
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
        options.onSalient?.(Array.from(state.sliderSalient), Number($('slider-row').value || 0), false);
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

  /** The chosen row's salient code: `values` (M numbers), or the row's own when omitted. */
  function setSalient(values) {
    const own = values === undefined;
    const row = Number($('slider-row').value || 0);
    const code = rowLatents(row).salient;
    if (!own && values.length !== code.length) {
      throw new Error(`the model has ${code.length} salient factors; ${values.length} values were given`);
    }
    state.sliderSalient = Float32Array.from(own ? code : values);
    const shown = Math.min(code.length, MAX_SLIDERS);
    for (let k = 0; k < shown; k++) {
      const v = state.sliderSalient[k];
      $(`salient-${k}`).value = String(Math.max(-3, Math.min(3, v)));
      $(`salient-${k}-value`).textContent = v.toFixed(2);
    }
    options.onSalient?.(Array.from(state.sliderSalient), row, own);
    requestSliderImage();
  }

  const resetSliders = () => setSalient();

  /** Moves the sliders to row `row` (from 0), starting from its own salient code. */
  function setRow(row) {
    $('slider-row').value = String(clampInt(row, 0, settings.rows - 1, 0));
    resetSliders();
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
    host.dataset.sliding = 'yes';
    try {
      do {
        sliderAgain = false;
        const row = Number($('slider-row').value || 0);
        const { common } = rowLatents(row);
        const { result, ms } = await call('generate', { common, salient: Float32Array.from(state.sliderSalient) });
        const side = state.model.config.image_size;
        drawTile($('slider-image'), result, side, tileScale(side) + 2);
        showTiming('one image', ms);
        count('slider');
      } while (sliderAgain);
    } catch (e) {
      showError(e.message);
    } finally {
      sliderBusy = false;
      host.dataset.sliding = 'no';
    }
  }

  $('slider-row').addEventListener('change', () => resetSliders());
  $('slider-reset').addEventListener('click', () => resetSliders());

  // ---- swap ----

  async function loadExamples() {
    const own = state.entry?.examplesUrl;
    const side = state.model.config.image_size;
    state.examples = own
      ? await stripExamples(own, side)
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
    // The panel as one sheet, in its on-screen order: x, G(z_x, 0), G(z_x, s_y) over y,
    // G(z_y, s_y), G(z_y, 0).
    state.swapSheet = [background, part(0), part(2), target, part(1), part(3)];
    showTiming('swap', ms);
    count('swap');
  }

  /** An image file as swap input x ('background') or y ('target'). */
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

  // ---- downloads ----

  async function download(name, canvas) {
    const png = await canvasPng(canvas);
    const link = Object.assign(document.createElement('a'), {
      href: URL.createObjectURL(new Blob([png], { type: 'image/png' })),
      download: name,
    });
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
  }

  const downloads = {
    'download-grid': () => download('dinfogan-grid.png', $('grid')),
    'download-slider': () => download('dinfogan-traversal.png', $('slider-image')),
    'download-swap': () => {
      const side = state.model.config.image_size;
      const tiles = new Uint8Array(6 * side * side * 4);
      state.swapSheet.forEach((tile, k) => tiles.set(tile, k * side * side * 4));
      const canvas = document.createElement('canvas');
      drawSheet(canvas, tiles, 2, 3, side, 1);
      return download('dinfogan-swap.png', canvas);
    },
  };
  for (const [id, run] of Object.entries(downloads)) {
    $(id).addEventListener('click', async () => {
      if (!state.model) return;
      try {
        await run();
      } catch (e) {
        showError(`the image could not be saved (${e.message})`);
      }
    });
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

  return {
    $, call, state, settings, loadModel, drawGrid, runSwap, swapFrom, setView, setSalient, setRow,
    showError, progress,
  };
}

// ---- images --------------------------------------------------------------------------------

/** A catalogue entry's example strip as 2 * EXAMPLES RGBA tiles of the model's side. */
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

/** A canvas as PNG bytes. */
export async function canvasPng(canvas) {
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/png'));
  return new Uint8Array(await blob.arrayBuffer());
}
