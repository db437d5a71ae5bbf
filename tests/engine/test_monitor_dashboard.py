"""End to end, as a person uses it: a real Monitor serving its dashboard, in headless Chromium.

A gradient-boosting model's inference logs (the bundled diabetes workload, drift injected
halfway: ``bmi`` shifts up, ``bp`` spreads out, the ``sex`` mix swaps) are replayed from a file
(no broker needed) through a real Monitor on a Dask LocalCluster, with the dashboard enabled on
a free port (``dashboard: {enabled: true, port: 0}``) and Parquet results. The browser opens the
dashboard while the replay runs, waits until the plots hold every window, checks the console is
clean and that the drift plot of ``bmi`` marks the injected drift; then the static report is
built from the monitor's Parquet results and checked the same way. Screenshots:
test-artifacts/monitor-dashboard.png and test-artifacts/monitor-report.png.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import re
import socket
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"

N, EVENT_RATE, REPLAY_RATE = 4000, 500, 1000  # 8 s of event time, replayed in about 4 s
WINDOW_MS = 2000
DRIFTING = "bmi"


def _load_browser():
    name = "driftstream_tests_browser"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "tests" / "browser.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


B = _load_browser()
browser_missing = B.missing()
pytestmark = pytest.mark.skipif(browser_missing is not None, reason=browser_missing or "")


def _lengths(browser, plot: str) -> dict:
    return browser.js(B.source_lengths_js(plot)) or {}


def _src_len(browser, name: str) -> int:
    return browser.js(B.model_length_js(name)) or 0


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def workload_run(tmp_path_factory):
    """The baseline, the inference log (drift from the middle on) and the spec pieces."""
    from driftstream.detectors.baseline import Baseline
    from driftstream.engine.workload import FEATURES, Workload
    from driftstream.streams.sources import now_ms

    folder = tmp_path_factory.mktemp("monitor-dashboard")
    workload = Workload(seed=0)
    baseline = Baseline.fit(workload.training_frame(), {**FEATURES, "prediction": "numeric"})
    start = (now_ms() // WINDOW_MS + 1) * WINDOW_MS  # on a window boundary: full windows only
    records, truth = workload.requests(N, start_ms=start, rate=EVENT_RATE, drift_at=0.5)
    log = folder / "inference.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in records))
    first, last = records[0]["ts"], records[-1]["ts"]
    windows = last // WINDOW_MS - first // WINDOW_MS + 1
    drift_from = records[int(N * 0.5)]["ts"]
    return {"folder": folder, "baseline": baseline, "log": log, "windows": windows, "last": last, "drift_from": drift_from}


def test_monitor_dashboard_and_report_in_browser(workload_run, caplog):
    from driftstream.engine.dashboard import baseline_histograms_of
    from driftstream.engine.monitor import Monitor
    from driftstream.engine.report import build_report
    from driftstream.engine.workload import spec_dict

    caplog.set_level(logging.WARNING)
    t0 = time.monotonic()
    run = workload_run
    results_dir = run["folder"] / "results"
    spec = spec_dict(
        source={"kind": "replay", "path": str(run["log"]), "rate": REPLAY_RATE},
        window={"size": "2s", "watermark": "1s", "idle_timeout": "2s"},
        sinks={"kafka": None, "parquet": str(results_dir)},
        dashboard={"enabled": True, "port": 0},
    )
    ARTIFACTS.mkdir(exist_ok=True)
    monitor = Monitor(spec, baseline=run["baseline"])
    monitor.start()
    try:
        # port 0: a free port was chosen, and the URL names it
        url = monitor.dashboard_url
        match = re.fullmatch(r"http://127\.0\.0\.1:(\d+)/", url or "")
        assert match, url
        port = int(match.group(1))
        assert port != 0 and _port_open(port)

        with B.Browser(width=1600, height=1200) as browser:
            # opened while the replay runs: the plots fill live
            browser.open(url)
            browser.wait_for(B.BOKEH_READY, 60, what="BokehJS document")
            browser.js(
                "for (const d of Bokeh.documents) { const s = d.get_model_by_name('feature_select'); if (s) s.value = arguments[0]; }",
                DRIFTING,
            )
            browser.wait_until(
                lambda: DRIFTING in (browser.js("return Bokeh.documents[0].get_model_by_name('stats_plot').title.text") or ""),
                30, what=f"{DRIFTING} selected",
            )
            # every window of the replay reaches the page
            browser.wait_until(lambda: _src_len(browser, "stats_source") >= run["windows"], 60, what="every window in the stats plot")
            stats = monitor.results("stats")
            bmi_windows = int((stats["feature"] == DRIFTING).sum())
            assert bmi_windows == run["windows"], (bmi_windows, run["windows"])
            assert _src_len(browser, "stats_source") == bmi_windows

            # one statistic and one threshold line per numeric detector (chi2 is categorical only:
            # its renderers stay empty for bmi), each holding every window
            numeric_detectors = {"kl", "js", "wasserstein_hist", "ks", "psi"}
            drift = monitor.results("drift")
            bmi_drift = drift[drift.feature == DRIFTING].drop_duplicates("key", keep="last")  # a re-emitted window replaces its point
            emitted = bmi_drift.groupby("detector").size().to_dict()
            assert set(emitted) == numeric_detectors, emitted
            # every drift result the engine emitted for bmi is on the page (statistic + threshold lines)
            full = lambda: [k for k, v in _lengths(browser, "drift_plot").items() if k != "drift_alert_markers" and v >= max(emitted.values())]
            try:
                browser.wait_until(lambda: len(full()) >= 2 * len(numeric_detectors), 90, what="every drift result in the drift plot")
            except (AssertionError, TimeoutError) as exc:
                raise AssertionError(f"{exc}: page {_lengths(browser, 'drift_plot')}, emitted {emitted}") from None
            # every plot is laid out within its box (a tool added to a live plot once made the drift
            # plot thousands of pixels wide: the data were there, the plot was not visible)
            layout = browser.js(B.plot_layout_js())
            assert {"stats_plot", "drift_plot", "outlier_plot"} <= set(layout or {}), layout
            assert B.badly_laid_out(layout) == {}, layout
            # the injected drift is marked on the bmi drift plot, only from the drift onwards
            markers = browser.wait_until(lambda: _src_len(browser, "drift_alert_source"), 30, what="drift alert markers")
            assert markers > 0
            marker_times = browser.js(
                "return Array.from(Bokeh.documents[0].get_model_by_name('drift_alert_source').data['t']);"
            )
            first_drift_window = run["drift_from"] // WINDOW_MS * WINDOW_MS
            assert min(marker_times) >= first_drift_window - WINDOW_MS, (marker_times, first_drift_window)
            assert _src_len(browser, "histogram_source") > 0
            assert _src_len(browser, "alert_source") > 0
            assert _src_len(browser, "outlier_table_source") > 0
            assert _src_len(browser, "health_source") > 0

            alerts = monitor.results("alerts")
            assert len(alerts) and any(DRIFTING in list(f) for f in alerts["features"]), alerts
            time.sleep(0.5)
            errors = browser.console_errors()
            assert errors == [], errors
            shot = browser.screenshot(ARTIFACTS / "monitor-dashboard.png")
            assert shot.stat().st_size > 50_000
    finally:
        monitor.stop()
    assert monitor.error is None, monitor.error
    assert not monitor.running
    assert not _port_open(port), "the dashboard still listens after stop()"

    # -- the static report from the same monitor's Parquet results ----------------------------
    report = build_report(
        results_dir, run["folder"] / "report.html",
        baseline_histograms=baseline_histograms_of(run["baseline"]), model="diabetes", progress=False,
    )
    with B.Browser(width=1600, height=1200) as browser:
        browser.open(report.resolve().as_uri())
        browser.wait_for(B.BOKEH_READY, 60, what="BokehJS document (report)")
        browser.js("Bokeh.documents[0].get_model_by_name('feature_select').value = arguments[0];", DRIFTING)
        lengths = browser.wait_until(lambda: _lengths(browser, f"drift_plot_{DRIFTING}"), 30, what="report drift plot")
        assert lengths.get("drift_alert_markers", 0) > 0, lengths
        assert min(v for k, v in lengths.items() if k != "drift_alert_markers") == run["windows"], lengths
        stats_lengths = _lengths(browser, f"stats_plot_{DRIFTING}")
        assert stats_lengths and max(stats_lengths.values()) == run["windows"], stats_lengths
        visible = browser.js(
            f"return Bokeh.documents[0].get_model_by_name('feature_panel_{DRIFTING}').visible;"
        )
        assert visible is True
        time.sleep(0.5)
        errors = browser.console_errors()
        assert errors == [], errors
        shot = browser.screenshot(ARTIFACTS / "monitor-report.png")
        assert shot.stat().st_size > 50_000

    problems = [
        r.getMessage() for r in caplog.records
        if r.levelno >= logging.WARNING and r.name.startswith(("bokeh", "driftstream", "tornado"))
    ]
    assert problems == [], problems
    print(f"monitor dashboard + report browser test took {time.monotonic() - t0:.1f} s")
