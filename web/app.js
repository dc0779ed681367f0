// The page: asks the WebAssembly module (hpnum-web) for the adapter, the self-test and the
// crossover's measurements; draws what comes back. Every call is awaited inside a
// try/catch: a failure is shown on the page, never thrown to the console.
import init, * as hpnum from "./hpnum_web.js";

const $ = (id) => document.getElementById(id);

function showError(where, error) {
  const p = document.createElement("p");
  p.className = "error";
  p.textContent = `${where}: ${error && error.message ? error.message : error}`;
  $(where === "adapter" ? "device" : "run").appendChild(p);
}

async function main() {
  try {
    await init();
  } catch (e) {
    $("status").textContent = `This browser could not load the WebAssembly module: ${e}`;
    return;
  }
  if (new URLSearchParams(location.search).has("selftest")) {
    const json = await hpnum.selftest();
    $("selftest-section").hidden = false;
    $("selftest").textContent = json;
    console.log(`${hpnum.selftest_prefix()} ${json}`);
  }
  await showAdapter();
}

async function showAdapter() {
  const list = $("adapter");
  list.textContent = "";
  const row = (name, value) => {
    const dt = document.createElement("dt");
    dt.textContent = name;
    const dd = document.createElement("dd");
    dd.textContent = value;
    list.append(dt, dd);
  };
  try {
    const a = JSON.parse(await hpnum.adapter());
    row("GPU", `${a.name} (${a.api}${a.driver ? ", " + a.driver : ""})`);
    row("f64 in shaders", a.f64 ? "yes" : "no (WebGPU has none: f32 only)");
    row("timestamps", a.timestamps ? "yes" : "no (host time around each call)");
  } catch (e) {
    row("GPU", "none: this browser offers no WebGPU adapter (the CPU still runs)");
    showError("adapter", e);
  }
}

main().catch((e) => showError("page", e));
