// The notebook widget (anywidget): mounts the viewer of viewer.js into the output cell. The
// viewer's modules, its WebAssembly and the model arrive from the kernel in messages (a
// notebook's browser may reach no URL of the kernel's machine; messages, unlike traits, are not
// saved with the notebook's widget state), become blob URLs here, and the model runs in the
// viewer's worker as on the page. The viewer's code is asked for once per page and build: every
// other viewer of the page reuses it.

const blobUrl = (text) => URL.createObjectURL(new Blob([text], { type: 'text/javascript' }));

/** A bytes trait (a DataView from ipywidgets) as a Uint8Array. */
const bytesOf = (v) => (v instanceof DataView
  ? new Uint8Array(v.buffer, v.byteOffset, v.byteLength)
  : new Uint8Array(v?.buffer ?? v ?? []));

async function gunzip(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Sends `request` to the kernel; resolves with the first reply `accept` takes: [content, buffers]. */
function ask(model, request, accept) {
  return new Promise((resolve) => {
    const reply = (content, buffers) => {
      if (!accept(content)) return;
      model.off('msg:custom', reply);
      resolve([content, buffers]);
    };
    model.on('msg:custom', reply);
    model.send({ request });
  });
}

/** The viewer's code and module for this build, asked for by the first viewer of the page. */
function assets(model) {
  const version = model.get('_assets_version');
  const cache = (globalThis.__dinfoganViewerAssets ??= new Map());
  if (!cache.has(version)) {
    cache.set(version, ask(model, 'assets', (c) => c?.assets === version).then(async ([c, buffers]) => ({
      viewer: blobUrl(c.viewer_js),
      worker: blobUrl(c.worker_js),
      glue: blobUrl(c.glue_js),
      wasm: await gunzip(bytesOf(buffers[0])),
    })));
  }
  return cache.get(version);
}

const sameNumbers = (a, b) => a.length === b.length && a.every((v, i) => Math.fround(v) === Math.fround(b[i]));

async function render({ model, el }) {
  const root = document.createElement('div');
  root.className = 'dinfogan-viewer embed';
  el.append(root);
  const code = await assets(model);
  const { mountViewer, startWorker, canvasPng } = await import(code.viewer);
  let ui = null;
  const fatal = (message) => ui?.showError(message);
  // The module's bytes are copied to the worker (not transferred): other viewers reuse them.
  const call = startWorker(code.worker, { glue: code.glue, wasm: code.wasm, onFatal: fatal });
  // Changes this view makes itself fire the model's change events too: they are not requests.
  let echoing = false;
  const set = (changes) => {
    let changed = false;
    echoing = true;
    for (const [key, value] of Object.entries(changes)) {
      const old = model.get(key);
      const same = Array.isArray(value) ? Array.isArray(old) && sameNumbers(old, value) : old === value;
      if (!same) {
        model.set(key, value);
        changed = true;
      }
    }
    echoing = false;
    if (changed) model.save_changes();
  };
  ui = mountViewer(root, {
    call,
    backend: model.get('backend'),
    rows: model.get('rows'),
    cols: model.get('cols'),
    commonSeed: model.get('common_seed'),
    salientSeed: model.get('salient_seed'),
    async onGrid(canvas, view) {
      const png = await canvasPng(canvas);
      set({
        rows: view.rows, cols: view.cols, common_seed: view.commonSeed, salient_seed: view.salientSeed,
      });
      echoing = true;
      model.set('grid_png', new DataView(png.buffer));
      echoing = false;
      model.save_changes();
    },
    onSalient(values, row) {
      set({ salient: values, row });
    },
    onStatus({ state, error }) {
      set({ status: state, error });
    },
  });
  // The notebook gives the model; the page's picker and file input have no use here.
  ui.$('model-pick').closest('.controls').hidden = true;

  const load = async () => {
    const [, buffers] = await ask(model, 'model', (c) => c && 'model' in c);
    await ui.loadModel({ bytes: bytesOf(buffers[0]).slice() }, model.get('model_name'));
  };
  const ready = () => ui.state.model !== null && root.dataset.state !== 'loading';
  const handlers = {
    'change:_model_version': load,
    'change:common_seed': () => ready() && ui.setView({ commonSeed: model.get('common_seed') }),
    'change:salient_seed': () => ready() && ui.setView({ salientSeed: model.get('salient_seed') }),
    'change:rows': () => ready() && ui.setView({ rows: model.get('rows') }),
    'change:cols': () => ready() && ui.setView({ cols: model.get('cols') }),
    'change:row': () => {
      if (ready() && Number(ui.$('slider-row').value) !== model.get('row')) ui.setRow(model.get('row'));
    },
    'change:salient': () => {
      const values = model.get('salient');
      if (!ready() || sameNumbers(values, Array.from(ui.state.sliderSalient ?? []))) return;
      try {
        ui.setSalient(values);
      } catch (e) {
        ui.showError(e.message);
      }
    },
  };
  const listeners = Object.entries(handlers).map(([event, handler]) => [event, () => echoing || handler()]);
  for (const [event, listener] of listeners) model.on(event, listener);
  await load();
  // Traits set from Python while the model loaded: apply them now.
  const view = { rows: model.get('rows'), cols: model.get('cols'), commonSeed: model.get('common_seed'), salientSeed: model.get('salient_seed') };
  const shown = ui.settings;
  if (ui.state.model && (view.rows !== shown.rows || view.cols !== shown.cols
    || String(view.commonSeed) !== ui.$('common-seed').value || String(view.salientSeed) !== ui.$('salient-seed').value)) {
    await ui.setView(view);
  }
  return () => {
    for (const [event, listener] of listeners) model.off(event, listener);
    call.terminate();
  };
}

export default { render };
