"""The live dashboard, as a person uses it: a real Bokeh server, a real headless Chromium.

Publishes synthetic stats/drift/outliers/alerts/health records (docs/CONTRACTS.md shapes) to a
ResultHub, opens the dashboard, waits until the plots hold data, checks the console is clean
and the injected drift alert is marked, publishes more records and sees them arrive, opens a
second session at the same time, and saves screenshots under test-artifacts/.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import threading
import time
from pathlib import Path

import pytest

from driftstream.engine.dashboard import Dashboard, SessionView, histogram_columns, notebook_app
from driftstream.engine.hub import ResultHub

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"


def _load_browser():
    spec = importlib.util.spec_from_file_location("driftstream_tests_browser", ROOT / "tests" / "browser.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


B = _load_browser()
FEATURES = ["sepal_length", "petal_width", "color"]


def publish(hub: ResultHub, results: dict[str, list[dict]]) -> None:
    # the order the engine emits in: per-request outliers first, then window results
    for kind in ("health", "outliers", "stats", "drift", "alerts"):
        hub.publish(kind, results.get(kind, []))


def lengths(browser, plot: str) -> dict:
    return browser.js(B.source_lengths_js(plot)) or {}


def src_len(browser, name: str) -> int:
    return browser.js(B.model_length_js(name)) or 0


def select_feature(browser, feature: str) -> None:
    """Choose a feature in the selector as a user would (the change goes to the server)."""
    browser.js(
        "for (const d of Bokeh.documents) { const s = d.get_model_by_name('feature_select'); if (s) s.value = arguments[0]; }",
        feature,
    )


@pytest.fixture
def hub():
    hub = ResultHub(history=20_000)
    publish(hub, B.synthetic_results(windows=12))
    return hub


@pytest.fixture
def dashboard(hub):
    dash = Dashboard(
        hub, B.MODEL, FEATURES, port=0, rollover=500, baseline_histograms=B.BASELINE,
        check_unused_sessions_milliseconds=300, unused_session_lifetime_milliseconds=300,
    ).start()
    yield dash
    dash.stop()


browser_missing = B.missing()
needs_browser = pytest.mark.skipif(browser_missing is not None, reason=browser_missing or "")


# -- without a browser ------------------------------------------------------------------------


def test_histogram_columns_numeric_and_categorical():
    rec = {"type": "numeric", "bin_edges": [0.0, 1.0, 2.0], "histogram": [1, 2, 1, 0]}
    cols = histogram_columns(rec, [0.1, 0.4, 0.5, 0.0])
    assert cols["left"] == [-1.0, 0.0, 1.0, 2.0] and cols["right"] == [0.0, 1.0, 2.0, 3.0]
    assert cols["window"] == [0.25, 0.5, 0.25, 0.0]
    assert cols["label"][0] == "underflow" and cols["label"][-1] == "overflow"
    # a baseline without the outer bins is padded
    assert histogram_columns(rec, [0.5, 0.5])["baseline"] == [0.0, 0.5, 0.5, 0.0]
    cat = histogram_columns({"type": "categorical", "frequencies": {"a": 1, "b": 3}}, {"a": 0.5, "b": 0.5})
    assert cat["label"] == ["b", "a"] and cat["window"] == [0.75, 0.25] and cat["baseline"] == [0.5, 0.5]
    assert histogram_columns(None)["left"] == []


def test_session_view_streams_batches_and_unsubscribes(hub):
    """A document outside any server: history loaded, live batches applied on the next tick."""
    from bokeh.document import Document

    doc = Document()
    view = SessionView(doc, hub, B.MODEL, FEATURES, baseline_histograms=B.BASELINE, rollover=20)
    assert len(view.stats_source.data["t"]) == 12
    assert len(hub._subscribers) == 1
    # records from another thread are queued, and handed over with a next-tick callback
    t = threading.Thread(target=publish, args=(hub, B.synthetic_results(windows=15, start=12)))
    t.start()
    t.join()
    callbacks = list(doc.session_callbacks)
    assert callbacks, "no next-tick callback scheduled"
    for cb in callbacks:
        cb.callback()
    # rollover keeps memory bounded: 27 windows published, at most 20 kept per series
    assert len(view.stats_source.data["t"]) == 20
    assert len(view.stats_rows["sepal_length"]) == 20
    assert len(view.outlier_rate_source.data["t"]) == 20
    view.close()
    assert len(hub._subscribers) == 0
    app = notebook_app(hub, B.MODEL, FEATURES)
    doc2 = Document()
    app(doc2)
    assert doc2.get_model_by_name("drift_plot") is not None


def test_dashboard_start_stop_and_port_in_use(hub):
    dash = Dashboard(hub, B.MODEL, FEATURES, port=0).start()
    try:
        assert dash.url.startswith("http://127.0.0.1:")
        port = int(dash.url.rstrip("/").rsplit(":", 1)[1])
        with pytest.raises(RuntimeError, match="another port"):
            Dashboard(hub, B.MODEL, FEATURES, port=port).start()
    finally:
        dash.stop()
    assert not dash.running


# -- in headless Chromium ---------------------------------------------------------------------


@needs_browser
def test_dashboard_in_browser(hub, dashboard, caplog):
    caplog.set_level(logging.WARNING)
    t0 = time.monotonic()
    ARTIFACTS.mkdir(exist_ok=True)
    with B.Browser(width=1600, height=1200) as browser:
        browser.open(dashboard.url)
        browser.wait_for(B.BOKEH_READY, 60, what="BokehJS document")
        drift = browser.wait_until(
            lambda: (lambda d: d if d and all(v > 0 for k, v in d.items() if k != "drift_alert_markers") else None)(
                lengths(browser, "drift_plot")
            ),
            60, what="drift plot data",
        )
        assert min(v for k, v in drift.items() if k != "drift_alert_markers") == 12
        assert src_len(browser, "stats_source") == 12
        assert src_len(browser, "histogram_source") == len(B.EDGES) + 1
        assert src_len(browser, "outlier_table_source") > 0
        assert src_len(browser, "alert_source") > 0
        assert src_len(browser, "health_source") == 12 * 15
        assert src_len(browser, "lag_source_0") == 12 * 15

        # the drifting feature: its drift plot marks the injected alert
        select_feature(browser, "petal_width")
        markers = browser.wait_until(lambda: src_len(browser, "drift_alert_source"), 30, what="drift alert markers")
        assert markers > 0
        assert "petal_width" in browser.js(
            "return Bokeh.documents[0].get_model_by_name('stats_plot').title.text"
        )

        # detectors on different scales: the plot switches to statistic / threshold
        fields = """
            const plot = Bokeh.documents[0].get_model_by_name('drift_plot');
            return plot.renderers.filter(r => r.glyph && r.glyph.y && r.glyph.y.field).map(r => r.glyph.y.field).sort();
        """
        assert set(browser.js(fields)) == {"statistic", "threshold"}
        browser.js("Bokeh.documents[0].get_model_by_name('drift_scale').active = 1;")
        browser.wait_until(lambda: set(browser.js(fields)) == {"ratio", "one"}, 10, what="relative drift scale")
        browser.wait_until(lambda: dashboard.sessions and dashboard.sessions[0].drift_scale.active == 1, 10, what="toggle synced")

        # live: more windows and health ticks arrive, from another thread, in the open page
        more = B.synthetic_results(windows=4, start=12)
        threading.Thread(target=publish, args=(hub, more)).start()
        browser.wait_until(lambda: src_len(browser, "stats_source") == 16, 30, what="live stats")
        browser.wait_until(lambda: src_len(browser, "health_source") == 16 * 15, 30, what="live health")
        assert src_len(browser, "drift_alert_source") > markers

        # a second session at the same time, with its own document and selection
        with B.Browser(width=1280, height=900) as second:
            second.open(dashboard.url)
            second.wait_for(B.BOKEH_READY, 60)
            second.wait_until(lambda: src_len(second, "stats_source") == 16, 60, what="second session history")
            assert len(dashboard.sessions) == 2
            publish(hub, B.synthetic_results(windows=1, start=16))
            browser.wait_until(lambda: src_len(browser, "stats_source") == 17, 30, what="first session live")
            second.wait_until(lambda: src_len(second, "stats_source") == 17, 30, what="second session live")
            # the second session still shows the first feature: selection is per session
            assert "sepal_length" in second.js("return Bokeh.documents[0].get_model_by_name('stats_plot').title.text")
            assert second.console_errors() == []
            second.screenshot(ARTIFACTS / "dashboard-second-session.png")

        # the categorical feature switches the histogram to category shares
        select_feature(browser, "color")
        browser.wait_until(lambda: src_len(browser, "histogram_source") == 3, 30, what="category shares")
        browser.screenshot(ARTIFACTS / "dashboard-categorical.png")
        select_feature(browser, "petal_width")
        browser.wait_until(lambda: src_len(browser, "histogram_source") == len(B.EDGES) + 1, 30)
        time.sleep(0.5)
        errors = browser.console_errors()
        assert errors == [], errors
        shot = browser.screenshot(ARTIFACTS / "dashboard.png")
        assert shot.stat().st_size > 50_000
    # closed tabs: their sessions end and unsubscribe from the hub
    deadline = time.monotonic() + 30
    while (dashboard.sessions or hub._subscribers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert dashboard.sessions == [] and hub._subscribers == []
    problems = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith(("bokeh", "driftstream", "tornado"))]
    assert problems == [], problems
    print(f"browser test took {time.monotonic() - t0:.1f} s")
