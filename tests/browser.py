"""Drive Debian's headless Chromium (``chromium`` + ``chromium-driver``) from tests.

Selenium with the system chromedriver: no driver download (Selenium Manager is bypassed by
passing both binaries explicitly), console messages through the ``goog:loggingPrefs``
browser log, full-page screenshots through the DevTools protocol.

Install the browser with ``scripts/install-browser.sh``; :func:`missing` says what is absent
so tests can skip with a hint.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
]


def missing() -> str | None:
    """None if the browser can run here, else why not (and how to fix it)."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists():
            return f"{path} not found: run scripts/install-browser.sh (apt-get install chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed: pip install -e '.[test]'"
    return None


class Browser:
    """One headless Chromium with a fresh profile; use as a context manager."""

    def __init__(self, width: int = 1600, height: int = 1200):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self._profile = tempfile.mkdtemp(prefix="driftstream-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in CHROMIUM_FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={self._profile}")
        options.add_argument(f"--window-size={width},{height}")
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.width, self.height = width, height
        self.console: list[dict[str, Any]] = []
        try:
            self.driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
        except Exception:
            shutil.rmtree(self._profile, ignore_errors=True)
            raise
        self.driver.set_page_load_timeout(60)
        self.driver.set_script_timeout(60)

    # -- navigation and JavaScript ------------------------------------------------------------

    def open(self, url: str) -> None:
        self.driver.get(url)

    def js(self, script: str, *args: Any) -> Any:
        """Run ``script`` (a function body: use ``return``) in the page."""
        return self.driver.execute_script(script, *args)

    def wait_for(self, script: str, timeout: float = 30.0, interval: float = 0.2, what: str | None = None) -> Any:
        """Poll ``script`` until it returns something truthy; its value, or TimeoutError."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            try:
                last = self.js(script)
            except Exception as exc:  # page still loading, Bokeh not there yet
                last = exc
            if last and not isinstance(last, Exception):
                return last
            time.sleep(interval)
        raise TimeoutError(f"waited {timeout:.0f} s for {what or script!r}; last value {last!r}; console {self.logs()!r}")

    def wait_until(self, predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.2, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(interval)
        raise TimeoutError(f"waited {timeout:.0f} s for {what}")

    # -- console ------------------------------------------------------------------------------

    def logs(self) -> list[dict[str, Any]]:
        """Every console message so far (the driver hands each one out once, so keep them)."""
        try:
            self.console.extend(self.driver.get_log("browser"))
        except Exception:
            pass
        return list(self.console)

    def console_errors(self) -> list[dict[str, Any]]:
        """Console messages of level SEVERE (errors, uncaught exceptions, failed loads)."""
        return [entry for entry in self.logs() if entry.get("level") == "SEVERE"]

    # -- screenshots --------------------------------------------------------------------------

    def screenshot(self, path: str | Path, full_page: bool = True) -> Path:
        """Save a PNG of the page (the whole scrollable page when ``full_page``).

        For a full page the window is grown to the page's height (so everything is laid out
        and painted as on screen), captured, and restored.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if full_page:
            height = int(self.js("return Math.max(document.documentElement.scrollHeight, document.body.scrollHeight);") or 0)
            if height > self.height:
                self.driver.set_window_size(self.width, height + 140)
                time.sleep(0.8)  # let Bokeh re-layout and repaint its canvases
        try:
            path.write_bytes(self.driver.get_screenshot_as_png())
        finally:
            if full_page:
                self.driver.set_window_size(self.width, self.height)
        return path

    # -- lifetime -----------------------------------------------------------------------------

    def close(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# JavaScript helpers for Bokeh pages --------------------------------------------------------

BOKEH_READY = "return (window.Bokeh && Bokeh.documents && Bokeh.documents.length > 0) ? Bokeh.documents.length : 0;"


def source_lengths_js(plot_name: str) -> str:
    """JS returning {renderer name or index: data length} for a named plot in any Bokeh document."""
    return f"""
    if (!(window.Bokeh && Bokeh.documents)) return null;
    for (const doc of Bokeh.documents) {{
      const plot = doc.get_model_by_name({plot_name!r});
      if (!plot) continue;
      const out = {{}};
      plot.renderers.forEach((r, i) => {{
        if (r.data_source) out[r.name || String(i)] = r.data_source.get_length() || 0;
      }});
      return out;
    }}
    return null;
    """


def model_length_js(source_name: str) -> str:
    """JS returning the number of rows of a named ColumnDataSource (null if absent)."""
    return f"""
    if (!(window.Bokeh && Bokeh.documents)) return null;
    for (const doc of Bokeh.documents) {{
      const src = doc.get_model_by_name({source_name!r});
      if (src) return src.get_length() || 0;
    }}
    return null;
    """


def plot_layout_js() -> str:
    """JS returning {plot name: [element width, frame width]} for every named plot shown on the page: a
    frame wider than its element (or a few pixels wide) is a plot the reader cannot see."""
    return """
    if (!(window.Bokeh && Bokeh.documents && Bokeh.index)) return null;
    const out = {};
    for (const doc of Bokeh.documents) {
      for (const model of doc.all_models) {
        if (!model.name || !("frame_width" in model) || !("renderers" in model)) continue;
        const view = Bokeh.index.get_one(model);
        if (view && view.frame && view.el.offsetParent !== null) out[model.name] = [Math.round(view.el.getBoundingClientRect().width), Math.round(view.frame.bbox.width)];
      }
    }
    return out;
    """


def badly_laid_out(layout: dict[str, list[int]] | None, min_width: int = 100) -> dict[str, list[int]]:
    """The plots of :func:`plot_layout_js`'s answer whose frame is narrower than ``min_width`` or wider than the plot."""
    return {name: w for name, w in (layout or {}).items() if not (min_width <= w[1] <= w[0])}


# Synthetic result records (the shapes of docs/CONTRACTS.md) for dashboard and report tests ----

MODEL = "iris"
NUMERIC = ("sepal_length", "petal_width")
WINDOW_MS = 15_000
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
EDGES = [float(x) for x in range(0, 11)]  # 10 bins on [0, 10]
BASELINE = {
    "sepal_length": [0.0, 0.02, 0.08, 0.15, 0.25, 0.25, 0.15, 0.07, 0.02, 0.01, 0.0, 0.0],
    "petal_width": [0.0, 0.05, 0.1, 0.2, 0.3, 0.2, 0.1, 0.05, 0.0, 0.0, 0.0, 0.0],
    "color": {"red": 0.5, "green": 0.3, "blue": 0.2},
}


def synthetic_window(i: int, drift_from: int = 6, rng=None) -> dict[str, list[dict]]:
    """Every record one closed window ``i`` yields: stats, drift, outliers, alerts."""
    import numpy as np

    rng = rng or np.random.default_rng(i)
    ws, we = T0 + i * WINDOW_MS, T0 + (i + 1) * WINDOW_MS
    emitted = we + 6_000 + int(rng.integers(50, 400))
    n = 150
    out: dict[str, list[dict]] = {"stats": [], "drift": [], "outliers": [], "alerts": []}
    base = {"model": MODEL, "window_start": ws, "window_end": we, "emitted_at": emitted}
    for f, loc in zip(NUMERIC, (5.0, 4.0)):
        shift = 1.5 * max(0, i - drift_from + 1) / 3 if f == "petal_width" else 0.0
        values = rng.normal(loc + shift, 1.2 + 0.1 * math.sin(i), n)
        hist = [int((values < EDGES[0]).sum())] + list(np.histogram(values, EDGES)[0].astype(int)) + [int((values >= EDGES[-1]).sum())]
        out["stats"].append({
            **base, "kind": "stats", "key": f"{MODEL}/{ws}/{f}/stats", "feature": f, "type": "numeric",
            "count": n, "missing": 0, "sum": float(values.sum()), "pow2sum": float((values**2).sum()),
            "min": float(values.min()), "max": float(values.max()), "mean": float(values.mean()),
            "stddev_sample": float(values.std(ddof=1)), "stddev_population": float(values.std()),
            "p25": float(np.percentile(values, 25)), "p50": float(np.percentile(values, 50)),
            "p75": float(np.percentile(values, 75)),
            "iqr": float(np.percentile(values, 75) - np.percentile(values, 25)),
            "bin_edges": EDGES, "histogram": hist, "frequencies": None,
        })
        for det, scale, thr in (("jensen_shannon", 0.04, 0.1), ("kl", 0.08, 0.25), ("wasserstein", 0.12, 0.5)):
            stat = float(abs(rng.normal(scale, scale / 4)) + shift * scale * 2.5)
            out["drift"].append({
                **base, "kind": "drift", "key": f"{MODEL}/{ws}/{f}/{det}", "feature": f, "detector": det,
                "statistic": stat, "p_value": None, "p_value_adjusted": None, "threshold": thr,
                "effect_size": stat / thr, "drift": stat > thr,
            })
        for j in np.flatnonzero(np.abs(values - loc) > 3 * 1.2)[:5]:
            rid = f"req-{i:04d}-{j:03d}"
            out["outliers"].append({
                "kind": "outliers", "key": f"{MODEL}/{rid}/{f}/mean_3std", "model": MODEL, "emitted_at": ws + int(j) * 100 + 40,
                "request_id": rid, "ts": ws + int(j) * 100, "feature": f, "detector": "mean_3std",
                "value": float(values[j]), "score": float(abs(values[j] - loc) / 1.2), "threshold": 3.0, "is_outlier": True,
            })
    counts = {"red": int(rng.integers(60, 80)), "green": int(rng.integers(35, 50))}
    counts["blue"] = n - sum(counts.values())
    out["stats"].append({
        **base, "kind": "stats", "key": f"{MODEL}/{ws}/color/stats", "feature": "color", "type": "categorical",
        "count": n, "missing": 0, "sum": None, "pow2sum": None, "min": None, "max": None, "mean": None,
        "stddev_sample": None, "stddev_population": None, "p25": None, "p50": None, "p75": None, "iqr": None,
        "bin_edges": [], "histogram": [], "frequencies": counts,
    })
    drifting = [d for d in out["drift"] if d["drift"]]
    if drifting:
        worst = max(drifting, key=lambda d: d["statistic"] / d["threshold"])
        out["alerts"].append({
            **base, "kind": "alerts", "key": f"{MODEL}/{ws}/{worst['detector']}/alert",
            "severity": "critical" if worst["statistic"] > 2 * worst["threshold"] else "warning",
            "detector": worst["detector"], "features": sorted({d["feature"] for d in drifting}),
            "evidence": {"statistic": worst["statistic"], "threshold": worst["threshold"]},
            "message": f"{worst['feature']}: {worst['detector']} {worst['statistic']:.3f} > threshold {worst['threshold']}",
        })
    return out


def synthetic_health(i: int, partitions: int = 3) -> dict:
    now = T0 + i * 1000 + 21_000
    return {
        "kind": "health", "key": f"{MODEL}/health/{now}", "model": MODEL, "emitted_at": now,
        "events_per_s": 10.0 + 2 * math.sin(i / 5), "records_in": 10 * i, "bad": i // 20, "late": i // 30,
        "windows_emitted": i // 15, "watermark": now - 6_000 - int(400 * (1 + math.sin(i / 7))),
        "lag": {str(p): int(5 + 3 * p + 4 * math.sin(i / 4 + p)) for p in range(partitions)},
        "window_latency_ms": 6_200 + 300 * math.sin(i / 3),
    }


def synthetic_results(windows: int = 12, start: int = 0, drift_from: int = 6) -> dict[str, list[dict]]:
    """Records of windows ``start .. start+windows-1`` plus one health record per second."""
    out: dict[str, list[dict]] = {"stats": [], "drift": [], "outliers": [], "alerts": [], "health": []}
    for i in range(start, start + windows):
        for kind, recs in synthetic_window(i, drift_from=drift_from).items():
            out[kind].extend(recs)
    out["health"] = [synthetic_health(i) for i in range(start * 15, (start + windows) * 15)]
    return out
