// Runs the page in headless Chromium (WebGPU on its bundled SwiftShader) and checks what a
// visitor would see: the page's console lines go to stdout (the self-test's line among
// them, for `selftest --check`), a screenshot is saved, and the run fails on any console
// error, uncaught exception or failed load, on a blank screenshot, or when the line the
// page must print does not come within the time allowed.
//
//   node --experimental-websocket web/tests/headless.mjs URL SCREENSHOT.png WAIT_FOR [SECONDS]
//
// With HPNUM_WEBGPU=off the browser has no WebGPU. HPNUM_CLICK=TEXT:ID clicks the element
// ID once a console line holds TEXT (a visitor pressing Cancel mid-run).
// WAIT_FOR is the text of the console line that ends the run (`hpnum-selftest`,
// `hpnum-crossover-done`). Chromium is driven over the DevTools protocol, which Node
// speaks with its own WebSocket and fetch: nothing to install beyond Debian's chromium.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
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
  `--user-data-dir=${profile}`, "--remote-debugging-port=0", "about:blank",
], { stdio: ["ignore", "ignore", "ignore"], detached: true });

const [clickOn, clickId] = (process.env.HPNUM_CLICK ?? "").split(":");
const problems = [];
let finish;
const finished = new Promise((resolve) => { finish = resolve; });
const timer = setTimeout(() => {
  problems.push(`no console line with "${waitFor}" within ${seconds} s`);
  finish();
}, Number(seconds) * 1000);

async function devtoolsPort() {
  const file = join(profile, "DevToolsActivePort");
  for (let i = 0; i < 300; i++) {
    if (existsSync(file)) {
      const port = readFileSync(file, "utf8").split("\n")[0];
      if (port) return port;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("Chromium did not open its DevTools port");
}

function text(arg) {
  if (arg.value !== undefined) return String(arg.value);
  return arg.description ?? arg.type;
}

async function run() {
  const port = await devtoolsPort();
  const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
  const page = targets.find((t) => t.type === "page");
  const socket = new WebSocket(page.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = reject;
  });
  let id = 0;
  const pending = new Map();
  const send = (method, params = {}) => new Promise((resolve) => {
    id += 1;
    pending.set(id, resolve);
    socket.send(JSON.stringify({ id, method, params }));
  });
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.id && pending.has(message.id)) {
      pending.get(message.id)(message.result ?? { error: message.error });
      pending.delete(message.id);
      return;
    }
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
  };
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
  socket.close();
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
