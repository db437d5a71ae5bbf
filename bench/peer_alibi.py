"""alibi-detect ``KSDrift`` on the benchmark data: per-window ``predict``, median ms.

Run by bench/detectors.py with the python of bench/.venvs/alibi (made by bench/peers.sh):
``python bench/peer_alibi.py DATA.npz --repeats N``. DATA.npz holds ``base`` (n, d) and
``window`` (m, d). Prints one JSON object: median ms per window, versions, and the
p-values of the window (so the caller can check they match scipy's ks_2samp).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from importlib.metadata import version

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--repeats", type=int, default=21)
    ap.add_argument("--warmup", type=int, default=2)
    args = ap.parse_args()
    npz = np.load(args.data)
    base, window = npz["base"], npz["window"]
    from alibi_detect.cd import KSDrift

    t = time.perf_counter()
    cd = KSDrift(base, p_val=0.05)  # reference kept as given; Bonferroni across features (default)
    fit_ms = (time.perf_counter() - t) * 1e3
    for _ in range(args.warmup):
        out = cd.predict(window)
    times = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        out = cd.predict(window)
        times.append(time.perf_counter() - t)
    print(
        json.dumps(
            {
                "peer": "alibi-detect KSDrift.predict",
                "ms": statistics.median(times) * 1e3,
                "repeats": args.repeats,
                "fit_ms": fit_ms,
                "is_drift": int(out["data"]["is_drift"]),
                "p_val": [float(p) for p in np.ravel(out["data"]["p_val"])],
                "versions": {p: version(p) for p in ("alibi-detect", "numpy", "scipy", "pandas")},
            }
        )
    )


if __name__ == "__main__":
    main()
