"""Training from disk: data several times larger than a memory limit, against the
in-memory path.

    python benchmarks/streaming.py --data-dir ../shared/data/mnist

Each measurement runs in a child process under a memory limit it sets for itself
(RLIMIT_AS, the address space: what the process may map or allocate, --limit-gb):
- ``memory``: MNIST's 60,000 training images (188 MB as float32 .npy) loaded in memory;
- ``stream``: the same file read from disk a buffer at a time (``stream=True``);
- ``stream-big``: a .npy file of MNIST's images repeated to --times the limit, streamed
  for one epoch (it cannot be loaded: ``memory-big`` shows the in-memory path refused).
The model is the deep MNIST autoencoder (784-1000-500-250-30, ELU, cross-entropy), batch
256, 2 threads. ``memory`` and ``stream`` alternate for --rounds rounds (this machine's
speed drifts); reported: training samples/s (the one pass that checks and hashes the file
is timed apart, as "scan"), peak resident memory (ru_maxrss) and peak address space.
With --cold (root only) the page cache is dropped before each streamed run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def child(args: argparse.Namespace) -> None:
    limit = int(args.limit_gb * (1 << 30))
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    import torch

    import aekit
    from aekit.data.streaming import open_disk_array

    torch.set_num_threads(2)
    # The deep kind's preset for 784 inputs and a 30-unit code: 784-1000-500-250-30, ELU,
    # sigmoid output with cross-entropy (Hinton & Salakhutdinov's shape).
    model = aekit.AutoEncoder.build("deep", input_dim=784, code_dim=30, seed=0)
    start = time.perf_counter()
    out: dict = {"path": args.child}
    try:
        if args.child.startswith("memory"):
            data = np.load(args.file)
        else:
            data = open_disk_array(args.file)
            data.buffer_bytes = args.buffer_mb << 20
        fit = aekit.fit(
            model,
            data,
            epochs=args.epochs,
            batch_size=256,
            val_fraction=0.0,
            schedule="constant",
            lr=1e-3,
            progress=False,
        )
        wall = time.perf_counter() - start
        samples = fit.steps * 256
        out.update(
            samples=samples,
            seconds=fit.seconds,
            samples_per_s=samples / fit.seconds,
            load_and_scan_s=wall - fit.seconds,
            loss=fit.final["train_loss"],
        )
    except MemoryError:
        out["error"] = "MemoryError"
    except Exception as exc:  # reported: e.g. the allocator refusing
        out["error"] = f"{type(exc).__name__}: {str(exc)[:160]}"
    status = Path("/proc/self/status").read_text()
    out["vm_peak_mb"] = int(status.split("VmPeak:")[1].split()[0]) / 1024
    out["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def run_child(args: argparse.Namespace, path: str, file: Path, epochs: int) -> dict:
    if args.cold and path.startswith("stream"):
        try:
            os.sync()
            Path("/proc/sys/vm/drop_caches").write_text("3\n")
        except OSError as exc:
            print(f"(--cold: cannot drop the page cache: {exc})", file=sys.stderr)
    cmd = [
        sys.executable,
        __file__,
        "--child",
        path,
        "--file",
        str(file),
        "--limit-gb",
        str(args.limit_gb),
        "--epochs",
        str(epochs),
        "--buffer-mb",
        str(args.buffer_mb),
    ]
    # One malloc arena per thread would reserve address space that is never used.
    env = {**os.environ, "OMP_NUM_THREADS": "2", "MALLOC_ARENA_MAX": "2"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return {"path": path, "error": (done.stderr.strip().splitlines() or ["no output"])[-1]}
    return json.loads(lines[-1])


def make_files(args: argparse.Namespace, work: Path) -> tuple[Path, Path]:
    sys.path.insert(0, str(ROOT / "src"))
    import aekit

    work.mkdir(parents=True, exist_ok=True)
    small = work / "mnist_train.npy"
    images = aekit.load_mnist(args.data_dir).train.numpy()
    if not small.exists():
        np.save(small, images)
    rows = int(args.times * args.limit_gb * (1 << 30) / (784 * 4)) + 1
    big = work / f"mnist_x{args.times:g}_of_{args.limit_gb:g}gb.npy"
    if not big.exists() or np.load(big, mmap_mode="r").shape != (rows, 784):
        tmp = big.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            header = {"descr": "<f4", "fortran_order": False, "shape": (rows, 784)}
            np.lib.format.write_array_header_2_0(f, header)
            written = 0
            while written < rows:
                part = images[: min(len(images), rows - written)]
                f.write(part.tobytes())
                written += len(part)
        tmp.rename(big)
    return small, big


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data" / "mnist"))
    p.add_argument("--work", default="/tmp/aekit-streaming")
    p.add_argument("--limit-gb", type=float, default=2.0)
    p.add_argument("--times", type=float, default=3.0, help="the big file, in limits")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=2, help="epochs of the 60,000-image runs")
    p.add_argument("--buffer-mb", type=int, default=64)
    p.add_argument("--cold", action="store_true")
    p.add_argument("--json")
    p.add_argument("--child")
    p.add_argument("--file")
    args = p.parse_args()
    if args.child:
        child(args)
        return
    small, big = make_files(args, Path(args.work))
    print(
        f"limit {args.limit_gb:g} GiB of address space; MNIST file {small.stat().st_size / 2**20:.0f} MiB; "
        f"big file {big.stat().st_size / 2**30:.2f} GiB ({big.stat().st_size / (args.limit_gb * 2**30):.1f}x the limit)"
    )
    rows = []
    for r in range(args.rounds):
        for path in ("memory", "stream"):
            row = run_child(args, path, small, args.epochs)
            row["round"] = r + 1
            rows.append(row)
            print(json.dumps(row))
    for path in ("memory-big", "stream-big"):
        row = run_child(args, path, big, 1)
        rows.append(row)
        print(json.dumps(row))
    mem = [x["samples_per_s"] for x in rows if x["path"] == "memory" and "samples_per_s" in x]
    stream = [x["samples_per_s"] for x in rows if x["path"] == "stream" and "samples_per_s" in x]
    ratios = [
        s["samples_per_s"] / m["samples_per_s"]
        for m, s in zip(rows[0 : 2 * args.rounds : 2], rows[1 : 2 * args.rounds : 2], strict=True)
        if "samples_per_s" in m and "samples_per_s" in s
    ]
    print("\npath        samples/s (median)   peak RSS MiB   peak VM MiB   load+scan s")
    for path in ("memory", "stream", "memory-big", "stream-big"):
        got = [x for x in rows if x["path"] == path]
        if not got or "samples_per_s" not in got[0]:
            print(f"{path:<11} {got[0].get('error') if got else 'not run'}")
            continue
        sps = statistics.median(x["samples_per_s"] for x in got)
        rss = max(x["max_rss_mb"] for x in got)
        vm = max(x["vm_peak_mb"] for x in got)
        scan = statistics.median(x["load_and_scan_s"] for x in got)
        print(f"{path:<11} {sps:>12,.0f}   {rss:>12,.0f}   {vm:>11,.0f}   {scan:>8.1f}")
    if ratios:
        print(
            f"\nstream / memory, same 60,000 images, per round: "
            f"{', '.join(f'{x:.3f}' for x in ratios)}; median {statistics.median(ratios):.3f} "
            f"(memory median {statistics.median(mem):,.0f}, stream {statistics.median(stream):,.0f})"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
