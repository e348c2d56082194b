// Where the worker's time goes during the page's first load, function by function: a CPU
// profile of the worker (Chromium's DevTools protocol, the worker held at its start until the
// profiler runs) from its first line to the first grid, printed as the busiest functions and a
// timeline in 20 ms steps.
//   cd web && node tests/profile-load.mjs          (after scripts/build-web.sh)
// Names of Rust functions need a module with its name section: build the CPU-only module again
// with it (DINFOGAN_WASM_NAMES=1 scripts/build-web.sh), and point BENCH_DIST at it.
// PROFILE_QUERY: the page's URL parameters (default the bench's 8x8 grid).
import { DIST, serve, launch } from './harness.mjs';

const server = await serve({ '/': DIST });
const browser = await launch({ webgpu: false });
// A browser that has started and sat idle, as in the benchmark.
const blank = await browser.newPage();
await blank.goto('about:blank');
await new Promise((resolve) => setTimeout(resolve, 3000));
await blank.close();
const page = await browser.newPage();
const cdp = await page.context().newCDPSession(page);

// The worker's protocol session, reached through the page's (non-flattened auto-attach).
let next = 1;
const waiting = new Map();
cdp.on('Target.receivedMessageFromTarget', ({ message }) => {
  const reply = JSON.parse(message);
  waiting.get(reply.id)?.(reply.result ?? reply.error);
  waiting.delete(reply.id);
});
const send = (sessionId, method, params = {}) => new Promise((resolve) => {
  const id = next++;
  waiting.set(id, resolve);
  cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method, params }) });
});
let worker = null;
cdp.on('Target.attachedToTarget', async ({ sessionId, targetInfo }) => {
  if (targetInfo.type !== 'worker' || worker) return;
  worker = sessionId;
  await send(sessionId, 'Profiler.enable');
  await send(sessionId, 'Profiler.setSamplingInterval', { interval: 200 });
  await send(sessionId, 'Profiler.start');
  await send(sessionId, 'Runtime.runIfWaitingForDebugger');
});
await cdp.send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: true, flatten: false });
await page.goto(`${server.url}/?${process.env.PROFILE_QUERY ?? 'rows=8&cols=8'}`);
await page.waitForFunction(() => window.dinfogan?.state?.firstGridMs !== undefined, null, { timeout: 120_000 });
const firstGrid = await page.evaluate(() => window.dinfogan.state.firstGridMs);
const { profile } = await send(worker, 'Profiler.stop');
await browser.close();
await server.close();

const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const name = (id) => {
  const { functionName, url } = nodes.get(id).callFrame;
  return `${functionName || '(anonymous)'}${url ? ` ${url.split('/').pop()}` : ''}`;
};
const total = new Map();
const steps = new Map();
let t = 0;
profile.samples.forEach((id, i) => {
  t += profile.timeDeltas[i] / 1000;
  const ms = profile.timeDeltas[i] / 1000;
  total.set(name(id), (total.get(name(id)) ?? 0) + ms);
  const step = Math.floor(t / 20) * 20;
  if (!steps.has(step)) steps.set(step, new Map());
  steps.get(step).set(name(id), (steps.get(step).get(name(id)) ?? 0) + ms);
});
const top = (map, n) => [...map].sort((a, b) => b[1] - a[1]).slice(0, n);
console.log(`first grid ${Math.round(firstGrid)} ms after navigation; the worker's profile, ${Math.round(t)} ms:`);
for (const [fn, ms] of top(total, 30)) console.log(`${ms.toFixed(1).padStart(8)} ms  ${fn.slice(0, 150)}`);
console.log('\ntimeline (ms since the worker started: the three busiest functions of each 20 ms)');
for (const [step, fns] of steps) {
  console.log(`${String(step).padStart(5)}  ${top(fns, 3).map(([fn, ms]) => `${fn.slice(0, 60)} ${ms.toFixed(0)}`).join(' | ')}`);
}
