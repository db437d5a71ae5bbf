"""The static report: Parquet results in, one self-contained HTML file out, checked in Chromium."""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from driftstream.engine.report import build_report, read_results, register_cli

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"


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
needs_browser = pytest.mark.skipif(browser_missing is not None, reason=browser_missing or "")


def write_results(root: Path, kinds=("stats", "drift", "outliers", "alerts", "health"), windows: int = 16) -> Path:
    """Parquet datasets ``root/<kind>/part-N.parquet``, two files per kind (as a sink would)."""
    results = B.synthetic_results(windows=windows)
    for kind in kinds:
        records = results[kind]
        folder = root / kind
        folder.mkdir(parents=True, exist_ok=True)
        half = len(records) // 2
        for i, chunk in enumerate((records[:half], records[half:])):
            if chunk:
                pd.DataFrame(chunk).to_parquet(folder / f"part-{i}.parquet", index=False)
    return root


def test_report_html_is_self_contained(tmp_path):
    results = write_results(tmp_path / "results")
    assert set(read_results(results)) == {"stats", "drift", "outliers", "alerts", "health"}
    out = build_report(results, tmp_path / "out" / "report.html", title="Iris drift report", progress=False)
    text = out.read_text()
    assert "Iris drift report" in text
    assert "cdn.bokeh.org" not in text and "<script src=" not in text.replace("<script src=\"data:", "")
    for name in ("stats_plot_petal_width", "drift_plot_sepal_length", "outlier_plot", "alert_table", "health_lag_plot"):
        assert name in text


def test_report_with_missing_kinds_and_errors(tmp_path):
    results = write_results(tmp_path / "results", kinds=("stats",), windows=3)
    out = build_report(results, tmp_path / "report.html", progress=False)
    assert "No alerts were raised" in out.read_text()
    with pytest.raises(FileNotFoundError, match="no results"):
        build_report(tmp_path / "nothing-here", tmp_path / "x.html", progress=False)
    (tmp_path / "empty" / "stats").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="expected Parquet datasets"):
        build_report(tmp_path / "empty", tmp_path / "x.html", progress=False)


def test_report_cli(tmp_path, capsys):
    results = write_results(tmp_path / "results", kinds=("stats", "drift"), windows=4)
    parser = argparse.ArgumentParser(prog="driftstream")
    register_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["report", str(results), "-o", str(tmp_path / "r.html")])
    assert args.func(args) == 0
    assert (tmp_path / "r.html").exists()
    assert "report written to" in capsys.readouterr().out
    args = parser.parse_args(["report", str(tmp_path / "missing")])
    assert args.func(args) == 2
    assert "no results folder" in capsys.readouterr().err


@needs_browser
def test_report_in_browser(tmp_path):
    t0 = time.monotonic()
    results = write_results(tmp_path / "results")
    out = build_report(results, tmp_path / "report.html", baseline_histograms=B.BASELINE, progress=False)
    with B.Browser(width=1600, height=1200) as browser:
        browser.open(out.resolve().as_uri())
        browser.wait_for(B.BOKEH_READY, 60, what="BokehJS document")
        lengths = browser.wait_for(B.source_lengths_js("drift_plot_petal_width"), 60, what="drift plot")
        assert lengths["drift_alert_markers"] > 0, lengths
        assert min(v for k, v in lengths.items() if k != "drift_alert_markers") == 16
        stats = browser.js(B.source_lengths_js("stats_plot_sepal_length"))
        assert min(stats.values()) == 16
        # the feature selector shows one feature's panel at a time
        visible = "return ['sepal_length','petal_width','color'].map(f => Bokeh.documents[0].get_model_by_name('feature_panel_' + f).visible);"
        assert browser.js(visible) == [True, False, False]
        browser.js("Bokeh.documents[0].get_model_by_name('feature_select').value = 'petal_width';")
        browser.wait_until(lambda: browser.js(visible) == [False, True, False], 10, what="feature switch")
        time.sleep(0.5)
        errors = browser.console_errors()
        assert errors == [], errors
        shot = browser.screenshot(ARTIFACTS / "report.png")
        assert shot.stat().st_size > 50_000
    print(f"report browser test took {time.monotonic() - t0:.1f} s")


def test_report_cli_with_baseline(tmp_path):
    import numpy as np

    from driftstream.detectors.baseline import Baseline

    rng = np.random.default_rng(1)
    data = pd.DataFrame({"sepal_length": rng.normal(5, 1.2, 2000), "petal_width": rng.normal(4, 1.2, 2000),
                         "color": rng.choice(["red", "green", "blue"], 2000, p=[0.5, 0.3, 0.2])})
    base = Baseline.fit(data, {"sepal_length": "numeric", "petal_width": "numeric", "color": "categorical"}, n_bins=10)
    base.save(tmp_path / "baseline")
    results = write_results(tmp_path / "results", kinds=("stats",), windows=2)
    parser = argparse.ArgumentParser(prog="driftstream")
    register_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["report", str(results), "-o", str(tmp_path / "r.html"), "--baseline", str(tmp_path / "baseline")])
    assert args.func(args) == 0


def test_read_results_combines_files_with_different_schemas(tmp_path):
    """A micro-batch where a column is all null next to one where it is typed (as sinks write)."""
    folder = tmp_path / "results" / "drift" / "date=2026-01-01"
    folder.mkdir(parents=True)
    recs = B.synthetic_results(windows=2)["drift"]
    first = [dict(r, p_value=None) for r in recs[:3]]
    second = [dict(r, p_value=0.01) for r in recs[3:]]
    pd.DataFrame(first).to_parquet(folder / "part-0.parquet", index=False)
    pd.DataFrame(second).to_parquet(folder / "part-1.parquet", index=False)
    df = read_results(tmp_path / "results")["drift"]
    assert len(df) == len(recs) and set(df["date"]) == {"2026-01-01"}
    assert build_report(tmp_path / "results", tmp_path / "r.html", progress=False).exists()
