"""Seeded streams through the whole pipeline (file replay -> windows -> real Dask -> detectors).

* stationary data: over 240 windows the share of windows with a drift alert, and the share of
  corrected tests that flag drift, stay at or below alpha;
* a mean shift, a variance change and a category swap starting at a window boundary are each
  detected in the first window that lies fully after the change;
* injected outliers are found (precision and recall printed, floors asserted).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from driftstream.detectors.baseline import Baseline
from driftstream.engine.monitor import Monitor

COLUMNS = {"x": "numeric", "y": "numeric", "c": "categorical", "prediction": "numeric"}
ALPHA = 0.05
PER_WINDOW = 300
WINDOW_MS = 1_000
START = 1_700_000_000_000


def draw(rng, n, shifted=False):
    frame = pd.DataFrame(
        {
            "x": rng.normal(0.0, 1.0, n) + (0.5 if shifted else 0.0),
            "y": rng.normal(5.0, 2.0 if shifted else 1.0, n),
            "c": rng.choice(["a", "b", "c", "d"], n, p=[0.1, 0.2, 0.3, 0.4] if shifted else [0.4, 0.3, 0.2, 0.1]),
        }
    )
    frame["prediction"] = 0.3 * frame["x"] + rng.normal(0, 0.1, n)
    return frame


def write_log(path: Path, frames: list[pd.DataFrame]) -> pd.DataFrame:
    rows = []
    for w, frame in enumerate(frames):
        ts = START + w * WINDOW_MS + np.linspace(0, WINDOW_MS - 1, len(frame)).astype(np.int64)
        for i, (row, t) in enumerate(zip(frame.to_dict("records"), ts)):
            rows.append({"request_id": f"w{w}-{i}", "model": "m", "ts": int(t),
                         "features": {k: row[k] for k in ("x", "y", "c")}, "prediction": row["prediction"]})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return pd.DataFrame(rows)


def run(path: Path, dask_address: str, baseline: Baseline, n_windows: int, outliers=None, batch_size: int = 3000,
        drift: tuple[str, ...] = ("ks", "cvm", "chi2", "js", "psi"), correction: str = "bh", early_close: bool = True) -> Monitor:
    spec = {
        "model": "m",
        "source": {"kind": "replay", "path": str(path), "batch_size": batch_size},
        "schema": {"features": {"x": "numeric", "y": "numeric", "c": "categorical"}, "prediction": "numeric"},
        "window": {"size": "1s", "watermark": "200ms", "idle_timeout": "1s"},
        "outliers": {"detectors": outliers or [{"name": "range"}]},
        "drift": {"detectors": [{"name": n} for n in drift], "correction": correction, "alpha": ALPHA,
                  "min_windows_between_alerts": 0},
        "sinks": {"kafka": None},
        "cluster": {"address": dask_address},
        "engine": {"early_close": early_close},
    }
    monitor = Monitor(spec, baseline=baseline).start()
    deadline = time.monotonic() + 240
    while monitor.counters.get("windows_emitted", 0) < n_windows and time.monotonic() < deadline:
        time.sleep(0.5)
    monitor.stop()
    assert monitor.error is None
    assert monitor.counters.get("windows_emitted", 0) == n_windows
    return monitor


@pytest.fixture(scope="module")
def baseline() -> Baseline:
    return Baseline.fit(draw(np.random.default_rng(0), 20_000), COLUMNS)


def test_stationary_stream_false_alarm_rate_is_at_most_alpha(tmp_path, dask_address, baseline):
    rng = np.random.default_rng(1)
    n_windows = 240
    write_log(tmp_path / "log.jsonl", [draw(rng, PER_WINDOW) for _ in range(n_windows)])
    monitor = run(tmp_path / "log.jsonl", dask_address, baseline, n_windows)
    drift = monitor.results("drift")
    alerts = monitor.results("alerts")
    tested = drift[drift.p_value.notna()]
    flag_rate = tested.drift.mean()
    alert_rate = (alerts.window_start.nunique() if len(alerts) else 0) / n_windows
    print(f"\nstationary: {len(tested)} corrected tests, flag rate {flag_rate:.4f}; alert rate {alert_rate:.4f} over {n_windows} windows")
    assert drift.window_start.nunique() == n_windows
    assert flag_rate <= ALPHA
    assert alert_rate <= ALPHA


def test_shift_variance_change_and_category_swap_are_detected_in_the_first_full_window(tmp_path, dask_address, baseline):
    rng = np.random.default_rng(2)
    change = 10
    frames = [draw(rng, PER_WINDOW, shifted=w >= change) for w in range(change + 5)]
    write_log(tmp_path / "log.jsonl", frames)
    monitor = run(tmp_path / "log.jsonl", dask_address, baseline, len(frames))
    drift = monitor.results("drift")
    first = drift[drift.window_start == START + change * WINDOW_MS]
    flagged = first[first.drift]
    assert "ks" in set(flagged[flagged.feature == "x"].detector), "mean shift missed"
    assert {"ks", "cvm"} & set(flagged[flagged.feature == "y"].detector), "variance change missed"
    assert "chi2" in set(flagged[flagged.feature == "c"].detector), "category swap missed"
    alerts = monitor.results("alerts")
    alerted = alerts[alerts.window_start == START + change * WINDOW_MS]
    assert {"x", "y", "c"} <= {f for fs in alerted.features for f in fs}


def test_injected_outliers_are_found(tmp_path, dask_address, baseline):
    rng = np.random.default_rng(3)
    frames = [draw(rng, PER_WINDOW) for _ in range(10)]
    truth = set()
    for w, frame in enumerate(frames):
        rows = rng.choice(len(frame), 3, replace=False)
        frame.loc[rows, "x"] = rng.choice([-1, 1], 3) * rng.uniform(7, 10, 3)
        truth |= {f"w{w}-{i}" for i in rows}
    write_log(tmp_path / "log.jsonl", frames)
    monitor = run(tmp_path / "log.jsonl", dask_address, baseline, len(frames), outliers=[{"name": "range", "features": ["x"]}, {"name": "mahalanobis"}])
    outliers = monitor.results("outliers")
    for detector, floor in (("range", 0.9), ("mahalanobis", 0.5)):
        found = set(outliers[outliers.detector == detector].request_id)
        precision = len(found & truth) / max(len(found), 1)
        recall = len(found & truth) / len(truth)
        print(f"\n{detector}: precision {precision:.2f} recall {recall:.2f} ({len(found)} flagged, {len(truth)} injected)")
        assert recall == 1.0 and precision >= floor


def test_windows_of_many_micro_batches_are_exact(tmp_path, dask_address, baseline):
    """Did: replayed 3 windows of 4,000 rows in micro-batches of 10 (400 per window: partials are
    merged on the cluster every 256 while the window is open, then closed). Checked: each window's
    count, mean, std, median, min, max equal numpy's and its KS statistic and p-value equal
    scipy's on the window's rows."""
    from scipy import stats

    rng = np.random.default_rng(5)
    frames = [draw(rng, 4_000, shifted=w == 2) for w in range(3)]
    rows = write_log(tmp_path / "log.jsonl", frames)
    monitor = run(tmp_path / "log.jsonl", dask_address, baseline, 3, batch_size=10, drift=("ks",), correction="none")
    stats_ = monitor.results("stats").set_index(["window_start", "feature"])
    drift = monitor.results("drift").set_index(["window_start", "feature"])
    reference = baseline.values("x")
    for w, frame in enumerate(frames):
        start = START + w * WINDOW_MS
        x = frame["x"].to_numpy()
        got = stats_.loc[(start, "x")]
        assert got["count"] == len(x) == 4_000
        assert got["mean"] == pytest.approx(x.mean(), rel=1e-12)
        assert got["stddev_sample"] == pytest.approx(x.std(ddof=1), rel=1e-9)
        assert got["p50"] == pytest.approx(np.percentile(x, 50), rel=1e-12)
        assert (got["min"], got["max"]) == (x.min(), x.max())
        ks = stats.ks_2samp(x, reference)
        assert drift.loc[(start, "x")]["statistic"] == pytest.approx(ks.statistic, abs=1e-12)
        assert drift.loc[(start, "x")]["p_value"] == pytest.approx(ks.pvalue, rel=1e-9, abs=1e-300)
    assert len(rows) == 12_000


def test_early_closed_windows_equal_closed_ones_and_late_partials_force_a_recompute(tmp_path, dask_address, baseline):
    """Did: replayed 4 windows (1 s, watermark 200 ms: results computed early once the event time is
    100 ms past a window's end) in batches of 50, with 20 stragglers of each of the first three windows
    placed after 100 records of the next window stamped 150-190 ms past the end (after the early
    computation, before the watermark); then the same rows in time order, early closing on and off.
    Checked: the straggler windows were recomputed (not taken early) and count and mean every row; in
    time order every window was taken early, and stats and drift equal those of the run without early
    closes."""
    rng = np.random.default_rng(6)
    frames = [draw(rng, 320) for _ in range(4)]

    def rows_of(w: int, frame: pd.DataFrame, ts: np.ndarray) -> list[dict]:
        return [{"request_id": f"w{w}-{i}", "model": "m", "ts": int(t), "features": {k: row[k] for k in ("x", "y", "c")},
                 "prediction": row["prediction"]} for i, (row, t) in enumerate(zip(frame.to_dict("records"), ts))]

    per_window = []
    for w, frame in enumerate(frames):
        start = START + w * WINDOW_MS
        ts = np.concatenate([start + np.linspace(150, 190, 100), start + np.linspace(200, 999, 200),
                             start + np.linspace(0, 140, 20)]).astype(np.int64)  # 20 early rows last: stragglers
        per_window.append(rows_of(w, frame, ts))
    shuffled = per_window[0][:100] + per_window[0][100:300]
    for w in range(1, 4):
        shuffled += per_window[w][:100] + per_window[w - 1][300:] + per_window[w][100:300]
    shuffled += per_window[3][300:]
    in_order = sorted((r for rows in per_window for r in rows), key=lambda r: r["ts"])
    (tmp_path / "shuffled.jsonl").write_text("".join(json.dumps(r) + "\n" for r in shuffled))
    (tmp_path / "ordered.jsonl").write_text("".join(json.dumps(r) + "\n" for r in in_order))

    late = run(tmp_path / "shuffled.jsonl", dask_address, baseline, 4, batch_size=50)
    assert late.counters.get("closes_recomputed", 0) >= 3, dict(late.counters)
    stats_ = late.results("stats").set_index(["window_start", "feature"])
    for w, frame in enumerate(frames):
        got = stats_.loc[(START + w * WINDOW_MS, "x")]
        assert got["count"] == 320
        assert got["mean"] == pytest.approx(frame["x"].mean(), rel=1e-12)

    early = run(tmp_path / "ordered.jsonl", dask_address, baseline, 4, batch_size=50)
    plain = run(tmp_path / "ordered.jsonl", dask_address, baseline, 4, batch_size=50, early_close=False)
    assert early.counters.get("closes_early", 0) >= 3, dict(early.counters)
    assert plain.counters.get("closes_early", 0) == 0 and plain.counters.get("closes_at_close", 0) >= 3
    for kind, key in (("stats", ["window_start", "feature"]), ("drift", ["window_start", "feature", "detector"])):
        a = early.results(kind).drop(columns="emitted_at").sort_values(key).reset_index(drop=True)
        b = plain.results(kind).drop(columns="emitted_at").sort_values(key).reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b)
