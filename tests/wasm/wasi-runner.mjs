// Runs a wasm32-wasip1 test binary under Node's WASI: cargo's runner for that target (set
// in .ci/run), so that the CPU test suites run on WebAssembly, the code a browser runs.
// The file system is visible as it is, so that tests reading `tests/data/` find it.
import { readFile } from "node:fs/promises";
import { argv, env, exit } from "node:process";
import { WASI } from "node:wasi";

const [, , wasmPath, ...args] = argv;
const wasi = new WASI({
  version: "preview1",
  args: [wasmPath, ...args],
  env,
  preopens: { "/": "/" },
  returnOnExit: true,
});
const module = await WebAssembly.compile(await readFile(wasmPath));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
exit(wasi.start(instance));
