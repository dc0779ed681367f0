// Runs the page in headless Chromium (WebGPU on its bundled SwiftShader) and checks what a
// visitor would see: the page's console lines go to stdout (the self-test's line among
// them, for `selftest --check`), a screenshot is saved, and the run fails on any console
// error, uncaught exception or failed load, on a blank screenshot, or when the line the
// page must print does not come within the time allowed.
//
//   node web/tests/headless.mjs URL SCREENSHOT.png WAIT_FOR [SECONDS]
//
// With HPNUM_WEBGPU=off the browser has no WebGPU. HPNUM_CLICK=TEXT:ID clicks the element
// ID once a console line holds TEXT (a visitor pressing Cancel mid-run).
// WAIT_FOR is the text of the console line that ends the run (`hpnum-selftest`,
// `hpnum-crossover-done`). Chromium is driven over the DevTools protocol through a pipe
// (`--remote-debugging-pipe`: JSON messages ended by a NUL byte on its file descriptors 3
// and 4), which any Node speaks: nothing to install beyond Debian's chromium.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inflateSync } from "node:zlib";

const [url, screenshot, waitFor, seconds = "120"] = process.argv.slice(2);
if (!url || !screenshot || !waitFor) {
  console.error("usage: headless.mjs URL SCREENSHOT.png WAIT_FOR [SECONDS]");
  process.exit(2);
}

const profile = mkdtempSync(join(tmpdir(), "hpnum-chromium-"));
// HPNUM_WEBGPU=off: a browser without WebGPU, which the page must handle as calmly.
const webgpu = process.env.HPNUM_WEBGPU === "off"
  ? ["--disable-features=WebGPU,Vulkan", "--disable-gpu"]
  : ["--enable-unsafe-webgpu", "--enable-features=Vulkan", "--use-webgpu-adapter=swiftshader"];
const chromium = spawn(process.env.CHROMIUM ?? "chromium", [
  "--headless=new", "--no-sandbox", ...webgpu, "--no-first-run", "--window-size=1100,1400",
  `--user-data-dir=${profile}`, "--remote-debugging-pipe", "about:blank",
], { stdio: ["ignore", "ignore", "ignore", "pipe", "pipe"], detached: true });

const [clickOn, clickId] = (process.env.HPNUM_CLICK ?? "").split(":");
const problems = [];
let finish;
const finished = new Promise((resolve) => { finish = resolve; });
const timer = setTimeout(() => {
  problems.push(`no console line with "${waitFor}" within ${seconds} s`);
  finish();
}, Number(seconds) * 1000);

function text(arg) {
  if (arg.value !== undefined) return String(arg.value);
  return arg.description ?? arg.type;
}

// What the page reports: console lines (one may click an element, one ends the run),
// uncaught exceptions, the browser's own errors (a failed load).
function onEvent(message, send) {
  const p = message.params;
  if (message.method === "Runtime.consoleAPICalled") {
    const line = p.args.map(text).join(" ");
    console.log(`console.${p.type}: ${line}`);
    if (p.type === "error" || p.type === "assert") problems.push(`console error: ${line}`);
    if (clickOn && line.includes(clickOn)) {
      send("Runtime.evaluate", { expression: `document.getElementById(${JSON.stringify(clickId)}).click()` });
    }
    if (line.includes(waitFor)) finish();
  } else if (message.method === "Runtime.exceptionThrown") {
    const d = p.exceptionDetails;
    problems.push(`uncaught: ${d.exception?.description ?? d.text}`);
    finish();
  } else if (message.method === "Log.entryAdded" && p.entry.level === "error") {
    problems.push(`browser error: ${p.entry.text} ${p.entry.url ?? ""}`);
  }
}

async function run() {
  const [toChromium, fromChromium] = [chromium.stdio[3], chromium.stdio[4]];
  let id = 0;
  let session;
  const pending = new Map();
  // A command to the browser (no session) or to the page (its session).
  const call = (method, params, sessionId) => new Promise((resolve) => {
    id += 1;
    pending.set(id, resolve);
    toChromium.write(JSON.stringify({ id, method, params, sessionId }) + "\0");
  });
  const send = (method, params = {}) => call(method, params, session);
  let buffered = "";
  fromChromium.on("data", (chunk) => {
    buffered += chunk.toString("utf8");
    for (let end = buffered.indexOf("\0"); end >= 0; end = buffered.indexOf("\0")) {
      const message = JSON.parse(buffered.slice(0, end));
      buffered = buffered.slice(end + 1);
      if (message.id && pending.has(message.id)) {
        pending.get(message.id)(message.result ?? { error: message.error });
        pending.delete(message.id);
      } else if (message.sessionId === session) {
        onEvent(message, send);
      }
    }
  });
  const { targetId } = await call("Target.createTarget", { url: "about:blank" });
  ({ sessionId: session } = await call("Target.attachToTarget", { targetId, flatten: true }));
  await send("Runtime.enable");
  await send("Log.enable");
  await send("Page.enable");
  await send("Page.navigate", { url });
  await finished;
  // Let the page draw what the last call returned before the picture is taken.
  await new Promise((r) => setTimeout(r, 500));
  const shot = await send("Page.captureScreenshot", { format: "png" });
  if (shot.data) {
    const png = Buffer.from(shot.data, "base64");
    writeFileSync(screenshot, png);
    if (blank(png)) problems.push("the screenshot is blank");
  } else {
    problems.push("no screenshot");
  }
}

// Whether a PNG is one colour: its rows, unfiltered, are all alike. (Chromium writes 8-bit
// RGB(A) without interlacing.)
function blank(png) {
  const width = png.readUInt32BE(16);
  const channels = png[25] === 6 ? 4 : 3;
  const chunks = [];
  for (let at = 8; at < png.length;) {
    const length = png.readUInt32BE(at);
    const type = png.toString("ascii", at + 4, at + 8);
    if (type === "IDAT") chunks.push(png.subarray(at + 8, at + 8 + length));
    at += 12 + length;
  }
  const data = inflateSync(Buffer.concat(chunks));
  const stride = 1 + width * channels;
  // A row of one colour filtered with "sub" or "up" is zeros after its first pixel; any
  // drawn text makes some row differ.
  const first = new Set();
  for (let row = 0; row * stride < data.length; row++) {
    const bytes = data.subarray(row * stride + 1 + channels, (row + 1) * stride);
    for (const b of bytes) first.add(b);
    if (first.size > 2) return false;
  }
  return true;
}

try {
  await run();
} catch (e) {
  problems.push(`driving Chromium failed: ${e.message}`);
}
clearTimeout(timer);
// Chromium's own group (its GPU and renderer processes too), then its profile; a profile
// still being written as it goes is left to the temporary directory's cleaning.
const exited = new Promise((resolve) => chromium.once("exit", resolve));
try {
  process.kill(-chromium.pid, "SIGTERM");
} catch {
  chromium.kill();
}
await exited;
try {
  rmSync(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
} catch (e) {
  console.error(`left ${profile}: ${e.message}`);
}
for (const p of problems) console.error(`PROBLEM: ${p}`);
process.exit(problems.length ? 1 : 0);
