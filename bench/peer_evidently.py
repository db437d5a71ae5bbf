"""Evidently ``DataDriftPreset`` on the benchmark data: per-window report ``run``, median ms.

Run by bench/detectors.py with the python of bench/.venvs/evidently (made by
bench/peers.sh): ``python bench/peer_evidently.py DATA.npz --repeats N``. DATA.npz holds
``base`` (n, d) and ``window`` (m, d); both become DataFrames once, outside the timing (as
a monitor holding its baseline would). Prints one JSON object: median ms per window and
versions.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from importlib.metadata import version

import numpy as np
import pandas as pd


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    args = ap.parse_args()
    npz = np.load(args.data)
    cols = [f"f{j}" for j in range(npz["base"].shape[1])]
    ref = pd.DataFrame(npz["base"], columns=cols)
    cur = pd.DataFrame(npz["window"], columns=cols)
    from evidently import Report
    from evidently.presets import DataDriftPreset

    report = Report([DataDriftPreset()])

    def one() -> object:
        return report.run(current_data=cur, reference_data=ref)

    for _ in range(args.warmup):
        snap = one()
    times = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        snap = one()
        times.append(time.perf_counter() - t)
    drifted, methods = None, set()
    try:
        for m in snap.dict()["metrics"]:
            name = str(m.get("metric_name", ""))
            if name.startswith("DriftedColumnsCount"):
                drifted = m["value"]["count"]
            elif name.startswith("ValueDrift"):
                methods.add(m["config"].get("method"))
    except Exception:  # noqa: BLE001 - the summary is informative only
        pass
    print(
        json.dumps(
            {
                "peer": "Evidently Report([DataDriftPreset()]).run",
                "ms": statistics.median(times) * 1e3,
                "repeats": args.repeats,
                "drifted_columns": drifted,
                "methods": sorted(str(x) for x in methods),
                "versions": {p: version(p) for p in ("evidently", "numpy", "scipy", "pandas")},
            }
        )
    )


if __name__ == "__main__":
    main()
