// The model runs here, off the page's thread: on WebGPU when the browser has an adapter, else
// on the CPU (burn-flex compiled to WebAssembly). The page sends {id, op, args} and gets back
// {id, ok, result} or {id, ok: false, error} with a sentence for people.
//
// The first request is `init` with the URL of wasm-bindgen's glue (dinfogan_web.js) and,
// optionally, the module's bytes: the page passes the glue's URL beside it; the notebook widget,
// which has no URL the browser can reach, passes a blob URL and bytes from the kernel. No static
// import, so that this script also runs from a blob URL.

let Viewer = null;
let viewer = null;
let startError = 'the WebAssembly module did not start';

const FETCH_TIMEOUT_MS = 60_000;

async function fetchModel(url) {
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
  return new Uint8Array(await response.arrayBuffer());
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

const ops = {
  async init({ glue, wasm }) {
    try {
      const module = await import(glue);
      await module.default(wasm === undefined ? undefined : { module_or_path: wasm });
      Viewer = module.Viewer;
      return true;
    } catch (e) {
      startError = `the viewer's WebAssembly module could not start (${e?.message ?? e})`;
      throw new Error(startError);
    }
  },
  async load({ url, bytes, backend }) {
    const data = bytes ?? await fetchModel(url);
    const next = await Viewer.load(data, backend ?? 'auto');
    viewer?.free();
    viewer = next;
    let runsOn = viewer.backend;
    if (runsOn === 'WebGPU') runsOn += ` (${await adapterName()})`;
    return { backend: runsOn, gpu: viewer.gpu, gpuPixels: viewer.packsOnGpu(), config: JSON.parse(viewer.configJson()) };
  },
  gridLatents({ rows, cols, commonSeed, salientSeed }) {
    const latents = viewer.gridLatents(rows, cols, commonSeed, salientSeed);
    const result = { common: latents.common, salient: latents.salient };
    latents.free();
    return result;
  },
  async generate({ common, salient }) {
    return viewer.generate(common, salient);
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
  queue = queue.then(async () => {
    try {
      if (!(op in ops)) throw new Error(`unknown request ${op}`);
      if (op !== 'init' && !Viewer) throw new Error(startError);
      if (!['init', 'load'].includes(op) && !viewer) throw new Error('no model is loaded yet');
      const started = performance.now();
      const result = await ops[op](args ?? {});
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
};
