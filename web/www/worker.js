// The model runs here, off the page's thread: on WebGPU when the browser has an adapter, else
// on the CPU (burn-flex compiled to WebAssembly). The page sends {id, op, args} and gets back
// {id, ok, result} or {id, ok: false, error} with a sentence for people.
//
// The first request is `init` with the URL of wasm-bindgen's glue (dinfogan_web.js) and,
// optionally, the module's bytes: the page passes the glue's URL beside it; the notebook widget,
// which has no URL the browser can reach, passes a blob URL and bytes from the kernel. No static
// import, so that this script also runs from a blob URL.
//
// With `cpuGlue` as well (the page), the module is split: the CPU-only module (burn-flex alone,
// a fraction of the whole's size) starts first and draws the first grid; where the browser has
// a WebGPU adapter, the page then sends `upgrade`, which downloads the whole module (WebGPU and
// CPU) while the CPU one keeps answering, and moves the model onto it.

/** When each step of the first load ended, in ms since the epoch (the page subtracts its own
 *  `performance.timeOrigin`): where the time to the first grid goes (`npm run bench`). */
const marks = {};
const mark = (name) => {
  marks[name] ??= performance.timeOrigin + performance.now();
};
mark('workerStarted');

let Viewer = null;
let viewer = null;
let startError = 'the WebAssembly module did not start';
/** The split page's modules: the CPU-only one, and the whole one (a promise, made by
 *  `wholeModule`; never where WebGPU cannot run, for the reason in `noWebGpu`). */
const split = { cpu: null, glue: null, whole: null, noWebGpu: null, upgraded: false };

/** The whole module, its download started on first use: after the first grid, so that its
 *  download and compile do not compete with it. */
function wholeModule() {
  split.whole ??= startModule(split.glue, undefined, 'dinfogan_web_bg.wasm', () => {}).catch((e) => {
    split.noWebGpu = `its module could not start (${e?.message ?? e})`;
    return null;
  });
  return split.whole;
}
/** The current model's bytes, kept for the upgrade onto the whole module. */
let modelBytes = null;

const FETCH_TIMEOUT_MS = 60_000;

/** At most one progress report per this many ms: a report per chunk, each a message and a
 *  status update on the page, made the first grid later (645 -> 558 ms median on two cores,
 *  BENCHMARKS.md), and a person reads no faster. */
const PROGRESS_EVERY_MS = 100;

/** A fetched body, read with progress reports: `report({ loaded, total })`. */
function counted(response, report) {
  const total = Number(response.headers.get('content-length')) || 0;
  let loaded = 0;
  let reported = performance.now();
  const body = response.body.pipeThrough(new TransformStream({
    transform(chunk, controller) {
      loaded += chunk.byteLength;
      if (performance.now() - reported >= PROGRESS_EVERY_MS) {
        reported = performance.now();
        report({ loaded, total });
      }
      controller.enqueue(chunk);
    },
    flush() {
      report({ loaded, total, done: true });
    },
  }));
  return new Response(body, { headers: { 'content-type': response.headers.get('content-type') ?? '' } });
}

// A minimal module with one SIMD128 instruction (as the wasm-feature-detect package tests it).
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);

async function fetchModel(url, progress) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), FETCH_TIMEOUT_MS);
  let response;
  try {
    response = await fetch(url, { signal: abort.signal });
  } catch (e) {
    throw new Error(abort.signal.aborted
      ? `the model at ${url} did not arrive within ${FETCH_TIMEOUT_MS / 1000} s`
      : `could not fetch the model at ${url} (${e.message})`);
  } finally {
    clearTimeout(timer);
  }
  if (!response.ok) {
    throw new Error(`could not fetch the model at ${url} (HTTP ${response.status} ${response.statusText})`);
  }
  const body = counted(response, (p) => progress({ what: 'the model', ...p }));
  const bytes = new Uint8Array(await body.arrayBuffer());
  mark('modelFetched');
  return bytes;
}

/** The adapter as the browser describes it, for people (wgpu may get no name on the web). */
async function adapterName() {
  try {
    const info = (await navigator.gpu.requestAdapter())?.info;
    const parts = [info?.vendor, info?.architecture, info?.description].filter(Boolean);
    return parts.length ? parts.join(' ') : 'unnamed adapter';
  } catch {
    return 'unnamed adapter';
  }
}

/** Starts a wasm-bindgen module: its glue from `glue`, its wasm from `wasm` (bytes) or fetched
 *  beside the glue (`file`), reporting the download's progress. */
async function startModule(glue, wasm, file, progress) {
  // Fetched here rather than by the glue, to report progress; still compiled as it streams.
  // The download starts before the glue is imported, not after. (Only then is there a URL
  // beside the glue: the notebook passes a blob URL and the bytes.)
  const url = wasm === undefined ? new URL(file, glue) : null;
  const download = url ? fetch(url) : null;
  download?.catch(() => {}); // (a failure is reported below, once the glue is in)
  const module = await import(glue);
  mark('glueImported');
  let source = wasm;
  if (download) {
    const response = await download;
    if (!response.ok) throw new Error(`HTTP ${response.status} for ${url}`);
    source = counted(response, progress);
  }
  await module.default({ module_or_path: source });
  return module;
}

/** Why WebGPU cannot run here, or null when the browser offers an adapter. */
async function whyNoWebGpu() {
  if (!self.navigator?.gpu) return 'the browser has no WebGPU';
  try {
    return (await navigator.gpu.requestAdapter()) ? null : 'the browser offers no adapter';
  } catch (e) {
    return `the adapter could not be requested (${e?.message ?? e})`;
  }
}

/** The model in `module`'s Viewer on `backend`, replacing the current one; what the page shows. */
async function loadInto(module, data, backend) {
  const next = await module.Viewer.load(data, backend);
  mark('modelParsed');
  viewer?.free();
  viewer = next;
  Viewer = module.Viewer;
  modelBytes = data;
  let runsOn = viewer.backend;
  if (runsOn === 'WebGPU') runsOn += ` (${await adapterName()})`;
  if (module === split.cpu && backend !== 'cpu') {
    runsOn = split.noWebGpu
      ? `CPU (WebAssembly; WebGPU unavailable: ${split.noWebGpu})`
      : 'CPU (WebAssembly), while the WebGPU module loads';
  }
  return { backend: runsOn, gpu: viewer.gpu, gpuPixels: viewer.packsOnGpu(), config: JSON.parse(viewer.configJson()) };
}

const ops = {
  async init({ glue, wasm, cpuGlue }, progress) {
    if (!WebAssembly.validate(SIMD_PROBE)) {
      startError = 'this browser lacks WebAssembly SIMD, which the viewer needs (Chrome 91, ' +
        'Firefox 89, Safari 16.4 or later)';
      throw new Error(startError);
    }
    const report = (p) => progress({ what: 'the viewer', ...p });
    try {
      if (cpuGlue) {
        split.cpu = await startModule(cpuGlue, undefined, 'dinfogan_web_cpu_bg.wasm', report);
        mark('moduleCompiled');
        Viewer = split.cpu.Viewer;
        split.glue = glue;
        split.noWebGpu = await whyNoWebGpu();
      } else {
        Viewer = (await startModule(glue, wasm, 'dinfogan_web_bg.wasm', report)).Viewer;
      }
      mark('moduleStarted');
      return true;
    } catch (e) {
      startError = `the viewer's WebAssembly module could not start (${e?.message ?? e})`;
      throw new Error(startError);
    }
  },
  async load({ url, bytes, backend = 'auto', fetching }, progress) {
    const data = bytes ?? await (fetching ?? fetchModel(url, progress));
    if (!split.cpu) return { ...await loadInto({ Viewer }, data, backend), upgrading: false };
    // The first model always starts on the CPU-only module, whether or not the whole one has
    // arrived: WebGPU's start and shader compiles would delay the first grid. Later models go
    // straight to WebGPU once the page runs there.
    const whole = split.upgraded && await wholeModule();
    if (backend === 'webgpu' || (backend === 'auto' && whole)) {
      const module = split.noWebGpu ? null : whole || await wholeModule();
      if (!module) throw new Error(`WebGPU could not start: ${split.noWebGpu}`);
      return { ...await loadInto(module, data, backend), upgrading: false };
    }
    const shown = await loadInto(split.cpu, data, backend);
    return { ...shown, upgrading: backend === 'auto' && !split.noWebGpu };
  },
  /** Moves the model onto the whole module, once it has arrived (see `onmessage`). */
  async upgrade() {
    const whole = split.noWebGpu ? null : await wholeModule();
    if (!whole || !modelBytes) {
      throw new Error(`WebGPU could not start: ${split.noWebGpu ?? 'no model is loaded'}`);
    }
    const shown = await loadInto(whole, modelBytes, 'auto');
    split.upgraded = true;
    return shown;
  },
  gridLatents({ rows, cols, commonSeed, salientSeed }) {
    const latents = viewer.gridLatents(rows, cols, commonSeed, salientSeed);
    const result = { common: latents.common, salient: latents.salient };
    latents.free();
    return result;
  },
  async generate({ common, salient }) {
    const rgba = await viewer.generate(common, salient);
    mark('firstForward');
    return rgba;
  },
  /** `marks`, and the worker's downloads (the module, the model) as the browser timed them. */
  marks() {
    const fetched = performance.getEntriesByType('resource').map((e) => ({
      name: e.name,
      start: performance.timeOrigin + e.startTime,
      end: performance.timeOrigin + e.responseEnd,
    }));
    return { marks, fetched };
  },
  async swap({ background, target }) {
    return viewer.swap(background, target);
  },
  async encode({ rgba }) {
    const latents = await viewer.encode(rgba);
    const result = { common: latents.common, salient: latents.salient };
    latents.free();
    return result;
  },
  setGpuPixels({ on }) {
    viewer.setGpuPixels(on);
    return on;
  },
  builtinExamples({ count }) {
    return viewer.builtinExamples(count);
  },
};

// One request at a time, in order: the model and the device are not shared between calls.
let queue = Promise.resolve();

self.onmessage = (event) => {
  const { id, op, args } = event.data;
  // An upgrade waits for the whole module's download outside the queue, so that requests on
  // the CPU module go on meanwhile; it joins the queue once the module has arrived.
  const arrived = op === 'upgrade' && split.cpu && !split.noWebGpu ? wholeModule() : Promise.resolve();
  // A model's download starts when it is asked for, not when its turn in the queue comes: the
  // first one downloads while the module compiles (the queue's `load` awaits it). Its failure
  // is reported by that `load`.
  if (op === 'load' && args?.url && !args.bytes) {
    const progress = (p) => self.postMessage({ id, progress: p });
    args.fetching = fetchModel(args.url, progress);
    args.fetching.catch(() => {});
  }
  arrived.then(() => enqueue(id, op, args));
};

function enqueue(id, op, args) {
  queue = queue.then(async () => {
    try {
      if (!(op in ops)) throw new Error(`unknown request ${op}`);
      if (op !== 'init' && !Viewer) throw new Error(startError);
      if (!['init', 'load'].includes(op) && !viewer) throw new Error('no model is loaded yet');
      const started = performance.now();
      const progress = (p) => self.postMessage({ id, progress: p });
      const result = await ops[op](args ?? {}, progress);
      const ms = performance.now() - started;
      const transfer = result instanceof Uint8Array ? [result.buffer] : [];
      self.postMessage({ id, ok: true, result, ms }, transfer);
    } catch (e) {
      // wasm-bindgen's JsError arrives as an Error; a Rust panic as a RuntimeError.
      const message = e instanceof WebAssembly.RuntimeError
        ? `the model crashed (${e.message}); reload the page`
        : (e?.message ?? String(e));
      self.postMessage({ id, ok: false, error: message });
    }
  });
}
