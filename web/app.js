// The page: asks the WebAssembly module (hpnum-web) for the adapter, the self-test, the
// crossover's measurements and their verdict, and draws what comes back. Nothing here
// computes a kernel or decides a crossing: the module does, with hpnum's own code. Every
// call is awaited inside a try/catch: a failure is shown on the page, never thrown to the
// console.
//
// URL parameters: `?selftest` prints the self-test's console line; `?crossover` starts the
// measurement at once (`&sizes=N`: the first N sizes of each call); `?report=URL` draws a
// native report.json. Each ends with a console line CI waits for.
import init, * as hpnum from "./hpnum_web.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const REPORT_SCHEMA = 2;
const COLOURS = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02"];

let plan = null;
let gpuReady = false;
let cancelled = false;

function say(text, isError = false) {
  const status = $("status");
  status.textContent = text;
  status.className = isError ? "error" : "";
}

function message(e) {
  return e && e.message ? e.message : String(e);
}

async function main() {
  try {
    await init();
  } catch (e) {
    say(`This browser could not load the WebAssembly module: ${message(e)}`, true);
    return;
  }
  console.log(`hpnum-module-ready ${(performance.now() / 1000).toFixed(3)} s after the page opened`);
  gpuReady = await showAdapter();
  console.log(`hpnum-device-ready ${(performance.now() / 1000).toFixed(3)} s after the page opened`);
  if (gpuReady) await showLimits();
  try {
    plan = JSON.parse(hpnum.plan());
  } catch (e) {
    say(`The page could not plan its measurements: ${message(e)}`, true);
    return;
  }
  $("start").disabled = false;
  $("start").onclick = () => runCrossover();
  $("cancel").onclick = () => {
    cancelled = true;
    say("Cancelling after the point being measured…");
  };
  $("report").onchange = (event) => openReport(event.target.files[0]);
  if (params.has("selftest")) {
    const json = await hpnum.selftest(await browserAdapter());
    $("selftest-section").hidden = false;
    $("selftest").textContent = json;
    console.log(`${hpnum.selftest_prefix()} ${json}`);
  }
  if (params.has("report")) {
    try {
      const response = await fetch(params.get("report"));
      await showReport(await response.text(), params.get("report"));
    } catch (e) {
      say(`Could not read ${params.get("report")}: ${message(e)}`, true);
    }
    console.log(`hpnum-report-drawn ${$("status").textContent}`);
  }
  if (params.has("crossover")) await runCrossover();
}

// The adapter as the browser describes it (WebGPU's `GPUAdapterInfo`): wgpu's view of a
// browser's device has no name.
async function browserAdapter() {
  try {
    const info = (await navigator.gpu?.requestAdapter())?.info;
    if (!info) return "";
    const words = [info.vendor, info.architecture, info.device, info.description];
    return [...new Set(words.filter(Boolean))].join(" ") + " (WebGPU)";
  } catch {
    return "";
  }
}

// One line of the device's description.
function row(name, value) {
  const dt = document.createElement("dt");
  dt.textContent = name;
  const dd = document.createElement("dd");
  dd.textContent = value;
  $("adapter").append(dt, dd);
}

// Shows the device; returns whether a WebGPU device opened.
async function showAdapter() {
  $("adapter").textContent = "";
  try {
    const a = JSON.parse(await hpnum.adapter());
    row("GPU", (await browserAdapter()) || `${a.name} (${a.api})`);
    row("f64 in shaders", a.f64 ? "yes" : "no (WebGPU has none: the page measures f32)");
    row("timestamps", a.timestamps ? "yes" : "no (host time around each call)");
    row("largest buffer binding", `${(a.max_binding_bytes / 2 ** 20).toFixed(0)} MiB`);
    return true;
  } catch (e) {
    row("GPU", "none: this browser offers no WebGPU (the CPU's figures still come)");
    row("why", message(e));
    return false;
  }
}

// The device's and the bus's limits, by the native probes: the yardsticks of the plots.
async function showLimits() {
  say("Measuring the device's and the bus's limits…");
  try {
    const l = JSON.parse(await hpnum.limits());
    console.log(`hpnum-limits ${JSON.stringify(l)}`);
    row("device memory", `copy ${l.copy_gbs.toFixed(1)} GB/s, read ${l.read_gbs.toFixed(1)} GB/s (${l.clock === "Timestamps" ? "GPU timestamps" : "host time"})`);
    row("arithmetic", `${l.f32_gflops.toFixed(1)} GFLOP/s in f32`);
    row("bus", `upload ${l.upload_gbs.toFixed(2)} GB/s, download ${l.download_gbs.toFixed(2)} GB/s, one call at least ${l.round_trip_us.toFixed(0)} µs`);
    say("");
  } catch (e) {
    row("limits", `not measured: ${message(e)}`);
    say("");
  }
  console.log(`hpnum-limits-ready ${(performance.now() / 1000).toFixed(3)} s after the page opened`);
}

// Measures every call at every size on every backend, one point at a time, drawing as it
// goes; a cancel stops after the point in flight.
async function runCrossover() {
  const backends = [...plan.cpu_backends, ...(gpuReady ? plan.gpu_flavours : [])];
  const limit = Number(params.get("sizes")) || Infinity;
  const jobs = [];
  for (const call of plan.calls) {
    for (const size of call.sizes.slice(0, limit)) {
      for (const backend of backends) jobs.push({ call, size, backend });
    }
  }
  const points = [];
  const failures = [];
  cancelled = false;
  $("start").disabled = true;
  $("cancel").disabled = false;
  $("report").disabled = true;
  const bar = $("progress");
  bar.hidden = false;
  bar.max = jobs.length;
  const started = performance.now();
  for (const [i, { call, size, backend }] of jobs.entries()) {
    if (cancelled) break;
    say(`${call.label} at ${size} on ${backend} (${i + 1} of ${jobs.length})`);
    bar.value = i;
    // Let the page repaint before a call that holds the thread.
    await new Promise((resolve) => setTimeout(resolve, 0));
    try {
      const seconds = await hpnum.measure(call.label, size, backend);
      points.push({ kernel: call.kernel, label: call.label, size, backend, seconds });
      if (points.length === 1) {
        // performance.now() counts from the page's navigation: the visitor's wait.
        console.log(`hpnum-first-result ${(performance.now() / 1000).toFixed(3)} s after the page opened`);
      }
    } catch (e) {
      failures.push(`${call.label} at ${size} on ${backend}: ${message(e)}`);
    }
    draw(points, plan.cpu_backends, plan.calls);
  }
  bar.value = jobs.length;
  $("start").disabled = false;
  $("cancel").disabled = true;
  $("report").disabled = false;
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  say(cancelled
    ? `Cancelled after ${points.length} of ${jobs.length} points (${seconds} s): the verdict covers what was measured.`
    : `Measured ${points.length} points in ${seconds} s${failures.length ? `; ${failures.length} did not run here` : ""}.`);
  for (const failure of failures) note(failure);
  offerDownloads(points);
  console.log(`hpnum-points ${JSON.stringify(points)}`);
  console.log(`hpnum-crossover-done ${points.length} points: ${$("status").textContent}`);
}

function note(text) {
  const p = document.createElement("p");
  p.className = "note";
  p.textContent = text;
  $("verdicts").appendChild(p);
}

// Draws one plot per call and the verdicts, from points of one shape whatever their
// source (this page's run or a native report).
function draw(points, cpuBackends, calls) {
  let verdicts = [];
  try {
    verdicts = JSON.parse(hpnum.verdicts(JSON.stringify(points), JSON.stringify(cpuBackends)));
  } catch (e) {
    say(`The verdict could not be drawn: ${message(e)}`, true);
  }
  const box = $("verdicts");
  box.textContent = "";
  for (const v of verdicts) {
    const p = document.createElement("p");
    p.className = "verdict";
    p.textContent = v.sentence;
    box.appendChild(p);
  }
  const plots = $("plots");
  plots.textContent = "";
  const labels = [...new Set(points.map((p) => p.label))];
  for (const label of labels) {
    if (!points.some((p) => p.label === label && p.seconds > 0)) continue;
    const call = calls.find((c) => c.label === label);
    const verdict = verdicts.find((v) => v.label === label);
    plots.appendChild(plot(label, call ? call.size_label : "size",
      points.filter((p) => p.label === label), verdict));
  }
}

// Time per call against size, log-log, one line per backend, each crossing marked and
// stated in the title; ticks at the measured sizes.
function plot(label, sizeLabel, points, verdict) {
  const W = 720, H = 380, left = 70, right = 150, top = 40, bottom = 50;
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("role", "img");
  const el = (name, attrs, text) => {
    const node = document.createElementNS(ns, name);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    svg.appendChild(node);
    return node;
  };
  // Log axes: only positive times can be drawn (a measurement is never zero; a report
  // edited by hand might hold one).
  points = points.filter((p) => p.seconds > 0 && Number.isFinite(p.seconds));
  const sizes = [...new Set(points.map((p) => p.size))].sort((a, b) => a - b);
  const times = points.map((p) => p.seconds).filter((t) => t > 0);
  const [x0, x1] = [Math.log10(sizes[0]), Math.log10(sizes[sizes.length - 1])];
  const [y0, y1] = [Math.log10(Math.min(...times)), Math.log10(Math.max(...times))];
  const x = (s) => left + (x1 > x0 ? (Math.log10(s) - x0) / (x1 - x0) : 0.5) * (W - left - right);
  const y = (t) => H - bottom - (y1 > y0 ? (Math.log10(t) - y0) / (y1 - y0) : 0.5) * (H - top - bottom);
  const crossings = [];
  if (verdict && verdict.resident) crossings.push(`resident from ${verdict.resident}`);
  if (verdict && verdict.one_shot) crossings.push(`with transfers from ${verdict.one_shot}`);
  el("text", { x: W / 2, y: 22, "text-anchor": "middle", "font-weight": "bold" },
    `${label}: ${crossings.length ? "the GPU wins " + crossings.join(", ") : "no GPU crossover measured"}`);
  el("line", { x1: left, y1: H - bottom, x2: W - right, y2: H - bottom, stroke: "#333" });
  el("line", { x1: left, y1: top, x2: left, y2: H - bottom, stroke: "#333" });
  for (const s of sizes) {
    el("line", { x1: x(s), y1: H - bottom, x2: x(s), y2: H - bottom + 5, stroke: "#333" });
    el("text", { x: x(s), y: H - bottom + 18, "text-anchor": "middle", "font-size": 11 }, String(s));
  }
  el("text", { x: (left + W - right) / 2, y: H - 10, "text-anchor": "middle" }, sizeLabel);
  // Ticks at 1, 2 and 5 × 10ᵉ within the range (only the decades where it spans several).
  const steps = y1 - y0 > 2 ? [1] : [1, 2, 5];
  for (let e = Math.floor(y0); e <= Math.ceil(y1); e++) {
    for (const m of steps) {
      const t = m * 10 ** e;
      if (Math.log10(t) < y0 - 1e-9 || Math.log10(t) > y1 + 1e-9) continue;
      el("line", { x1: left - 5, y1: y(t), x2: left, y2: y(t), stroke: "#333" });
      el("text", { x: left - 8, y: y(t) + 4, "text-anchor": "end", "font-size": 11 }, `${m}e${e} s`);
    }
  }
  el("text", { x: 14, y: (top + H - bottom) / 2, transform: `rotate(-90 14 ${(top + H - bottom) / 2})`,
    "text-anchor": "middle" }, "seconds per call");
  const backends = [...new Set(points.map((p) => p.backend))];
  backends.forEach((backend, i) => {
    const colour = COLOURS[i % COLOURS.length];
    const line = points.filter((p) => p.backend === backend).sort((a, b) => a.size - b.size);
    el("polyline", {
      points: line.map((p) => `${x(p.size)},${y(p.seconds)}`).join(" "),
      fill: "none", stroke: colour, "stroke-width": 2,
    });
    for (const p of line) el("circle", { cx: x(p.size), cy: y(p.seconds), r: 3, fill: colour });
    el("text", { x: W - right + 10, y: top + 16 * i, fill: colour, "font-size": 12 }, backend);
  });
  for (const [size, name] of [[verdict?.resident, "resident"], [verdict?.one_shot, "with transfers"]]) {
    if (!size) continue;
    el("line", { x1: x(size), y1: top, x2: x(size), y2: H - bottom, stroke: "#999",
      "stroke-dasharray": "4 3" });
    el("text", { x: x(size) + 4, y: top + 12 + (name === "resident" ? 0 : 14), "font-size": 11,
      fill: "#555" }, `GPU wins ${name}`);
  }
  return svg;
}

function offerDownloads(points) {
  const json = JSON.stringify({ hpnum: plan.version, points }, null, 1);
  const columns = ["kernel", "label", "size", "backend", "seconds"];
  const csv = [columns.join(","), ...points.map((p) => columns.map((c) => p[c]).join(","))].join("\n");
  $("json").href = URL.createObjectURL(new Blob([json], { type: "application/json" }));
  $("csv").href = URL.createObjectURL(new Blob([csv + "\n"], { type: "text/csv" }));
  $("downloads").hidden = false;
}

async function openReport(file) {
  if (!file) return;
  try {
    await showReport(await file.text(), file.name);
  } catch (e) {
    say(`${file.name}: ${message(e)}`, true);
  }
}

// Draws a native report.json's crossover (f32, as the page measures) as the page draws its
// own run; a report of another schema is refused with a message.
async function showReport(text, name) {
  let report;
  try {
    report = JSON.parse(text);
  } catch {
    say(`${name} is not JSON: open the report.json the native report example wrote.`, true);
    return;
  }
  if (report.schema !== REPORT_SCHEMA) {
    say(`${name} is a report of schema ${report.schema ?? "unknown"} (hpnum ${report.hpnum ?? "?"}); ` +
      `this page reads schema ${REPORT_SCHEMA} (hpnum ${plan.version}): rerun the report example.`, true);
    return;
  }
  const sweep = report.crossover && report.crossover.f32;
  if (!sweep || !Array.isArray(sweep.measurements)) {
    say(`${name} has no f32 crossover measurements.`, true);
    return;
  }
  draw(sweep.measurements, sweep.cpu_backends ?? [], plan.calls);
  const adapter = report.adapter ? report.adapter.name : "no GPU";
  say(`${name}: hpnum ${report.hpnum}, ${adapter}, ${report.date}; ${sweep.measurements.length} points.`);
}

main().catch((e) => say(`The page failed: ${message(e)}`, true));
