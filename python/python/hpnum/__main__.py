"""``python -m hpnum``: the crossover sweep and what this machine has, from a shell.

``python -m hpnum info`` prints the backends, the GPU adapter and the device's measured
limits; ``python -m hpnum crossover [--quick] [--out DIR] [--save]`` runs the crossover
sweep and writes its CSV tables, PNG plots (with matplotlib) and a Markdown summary;
``python -m hpnum tune [--quick] [--no-save]`` measures the GPU's best settings and keeps
them for every later ``Gpu`` on this adapter.
"""

from __future__ import annotations

import argparse
import sys

import hpnum


def _rate(bytes_per_s) -> str:
    return "–" if bytes_per_s is None else f"{bytes_per_s / 1e9:.3g} GB/s"


def _flops(ops) -> str:
    return "–" if ops is None else f"{ops / 1e9:.3g} GFLOP/s"


def info(_args) -> int:
    print(f"hpnum {hpnum.__version__}")
    print("backends:")
    for b in hpnum.backends():
        print(
            f"  {b['name']:<7} {b['device']:<8} {b['device_name']} "
            f"({b['threads']} threads, {b['isa'] or 'no SIMD'}; {', '.join(b['precisions'])})"
        )
    try:
        gpu = hpnum.Gpu()
    except (hpnum.UnsupportedError, hpnum.DeviceError) as e:
        print(f"GPU: none ({e})")
        return 0
    a = gpu.adapter
    print(
        f"GPU: {a['name']} on {a['api']} ({a['device']}), driver {a['driver']}; "
        f"f64 {a['f64']}, timestamps {a['timestamps']}, subgroups {a['subgroups']}; "
        f"transfers {a['transfer_path']}, {a['staging_chunk_bytes'] >> 20} MiB chunks, "
        f"{a['staging_depth']} in flight; read-back memory {a['read_back_memory'] or 'not reported'}"
    )
    print(
        f"  diffusion: {a['diffusion_steps_per_dispatch']} step(s) per dispatch, {a['diffusion_blocking']}; "
        + (
            f"saved settings taken: {', '.join(a['tuned'])}"
            if a["tuned"]
            else "no saved settings taken (`cargo run --release --example report -- --save` measures them)"
        )
    )
    d = gpu.device_limits()
    print(
        f"  device: copy {_rate(d['copy_bytes_per_s'])}, read {_rate(d['read_bytes_per_s'])}, "
        f"f32 {_flops(d['f32_flops'])}, f64 {_flops(d['f64_flops'])} (clock: {d['clock']})"
    )
    bus = gpu.bus_rates()
    print(
        f"  bus: upload {_rate(bus['upload_bytes_per_s'])}, download "
        f"{_rate(bus['download_bytes_per_s'])}, an empty submission {bus['round_trip_s'] * 1e6:.1f} µs"
    )
    return 0


def crossover(args) -> int:
    result = hpnum.crossover(
        args.kernels,
        dtypes=args.dtype,
        quick=args.quick,
        backends=args.backends,
        sizes=args.sizes,
        repeats=args.repeats,
    )
    written = result.save(args.out, calibrate=args.save)
    print(result.summary())
    print(f"wrote {len(written['csv'])} CSV tables, {len(written['png'])} PNG plots and {written['summary']}")
    if not written["png"]:
        print('(no plots: matplotlib is not installed; pip install "hpnum[plot]")')
    if written["calibration"]:
        print(f"saved the calibration for `auto` to {written['calibration']}")
    return 0


def tune(args) -> int:
    try:
        result = hpnum.tune(
            quick=args.quick, save=not args.no_save, progress=lambda stage: print(f"measuring {stage}", flush=True)
        )
    except hpnum.UnsupportedError as e:
        print(f"no GPU to tune: {e}", file=sys.stderr)
        return 1
    print(f"GPU: {result['adapter']}")
    for field, value in result["chosen"].items():
        print(f"  {field} = {value}")
    for what, figures in result["why"].items():
        print(f"  ({what}: {figures})")
    if result["saved_to"]:
        print(f"saved to {result['saved_to']}: every Gpu on this adapter takes them (HPNUM_GPU_TUNING=off ignores them)")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hpnum", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("info", help="the backends, the GPU adapter and its limits").set_defaults(run=info)
    sweep = commands.add_parser("crossover", help="where the GPU overtakes the CPU on this machine")
    sweep.add_argument("--quick", action="store_true", help="fewer sizes and repeats")
    sweep.add_argument("--out", default="out/crossover", help="folder for CSV, PNG and summary.md")
    sweep.add_argument("--save", action="store_true", help="calibrate `auto` with the measurements")
    sweep.add_argument("--kernels", nargs="+", choices=hpnum.KERNELS, help="default: all")
    sweep.add_argument("--dtype", nargs="+", default=["float32"], choices=["float32", "float64"])
    sweep.add_argument("--backends", nargs="+", choices=hpnum.BACKENDS, help="default: all")
    sweep.add_argument("--sizes", nargs="+", type=int, help="default: each kernel's range")
    sweep.add_argument("--repeats", type=int, help="timed runs per point")
    sweep.set_defaults(run=crossover)
    tuning = commands.add_parser("tune", help="measure and keep this GPU's best settings")
    tuning.add_argument("--quick", action="store_true", help="smaller sizes: seconds on a software driver")
    tuning.add_argument("--no-save", action="store_true", help="only print what would be chosen")
    tuning.set_defaults(run=tune)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
