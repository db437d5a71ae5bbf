"""Live Bokeh dashboard of a running monitor.

The dashboard is a Bokeh server embedded in the engine process. It runs in its own thread
with its own Tornado IOLoop, independent of the engine's asyncio loop. Every browser session
gets its own document: it first loads the :class:`~driftstream.engine.hub.ResultHub` history,
then subscribes to the hub. Records published from the engine thread are queued and handed to
the document with ``doc.add_next_tick_callback`` (the thread-safe way into a Bokeh document),
in batches, and appended with ``ColumnDataSource.stream(..., rollover=N)`` so that memory stays
bounded however long the monitor runs.

Panels (every main plot has a stable ``name`` so tests and scripts can find it):

* ``stats_plot``: windowed statistics of the selected feature (mean with a +-1 stddev band,
  p25/p50/p75, min/max);
* ``histogram_plot``: the latest window's histogram against the baseline's (under- and
  overflow bins included);
* ``drift_plot``: drift statistic per detector over time, threshold lines, alert markers
  (renderer ``drift_alert_markers``, data source ``drift_alert_source``);
* ``outlier_plot``: share of requests flagged as outliers per window, and ``outlier_table``;
* ``alert_table``: the alerts feed;
* ``health_rate_plot``, ``health_lag_plot``, ``health_latency_plot``, ``health_errors_plot``
  and ``health_summary``: pipeline health from ``health`` records.

Examples
--------
>>> from driftstream.engine.hub import ResultHub
>>> dash = Dashboard(ResultHub(), model="iris", features=["sepal_length"], port=0)
>>> dash.url is None  # not started yet
True

In a notebook, ``bokeh.io.show(notebook_app(hub, "iris", ["sepal_length"]))`` shows the same
dashboard inline.
"""

from __future__ import annotations

import asyncio
import logging
import math
import socket
import threading
from collections import OrderedDict, deque
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
from bokeh.document import Document
from bokeh.layouts import column, row
from bokeh.models import (
    BasicTicker,
    ColumnDataSource,
    CustomJS,
    CustomJSTickFormatter,
    DataTable,
    DatetimeTickFormatter,
    DateFormatter,
    Div,
    FixedTicker,
    HoverTool,
    Legend,
    LegendItem,
    NoOverlap,
    NumberFormatter,
    NumeralTickFormatter,
    RadioButtonGroup,
    Range1d,
    Select,
    TableColumn,
)
from bokeh.palettes import Category10_10
from bokeh.plotting import figure

from .hub import ResultHub

logger = logging.getLogger(__name__)

Record = dict[str, Any]

#: result kinds the dashboard reads from the hub, in the order a batch is applied
KINDS = ("outliers", "stats", "drift", "alerts", "health")

TABLE_ROWS = 200  # rows kept in the outlier and alert tables
OUTLIER_MEMORY = 100_000  # flagged outliers remembered per session to compute rates

PALETTE = list(Category10_10)
MEAN_COLOR = "#1f77b4"
BAND_COLOR = "#aec7e8"
PCT_COLOR = "#2ca02c"
EXTREME_COLOR = "#7f7f7f"
WINDOW_COLOR = "#1f77b4"
BASELINE_COLOR = "#d62728"
OUTSIDE_COLOR = "#ff7f0e"
ALERT_COLOR = "#d62728"

PLOT_HEIGHT = 300
SMALL_HEIGHT = 220

PAGE_CSS = """
<style>
  body { font-family: "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; margin: 12px 18px;
         background: #f6f7f9; color: #1d2733; }
</style>
"""


# --------------------------------------------------------------------------------------------
# Record helpers (shared with driftstream.engine.report)
# --------------------------------------------------------------------------------------------


def to_ms(value: Any) -> float:
    """Epoch milliseconds as float (NaN when missing) from int/float/datetime/Timestamp."""
    if value is None:
        return math.nan
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    if isinstance(value, np.datetime64):
        return float(value.astype("datetime64[ms]").astype(np.int64))
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.timestamp() * 1000.0
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def num(value: Any) -> float:
    """A float, NaN for None or anything non-numeric."""
    if value is None:
        return math.nan
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out


def as_list(value: Any) -> list:
    """Lists stored in Parquet come back as numpy arrays; None becomes []."""
    if value is None:
        return []
    if isinstance(value, float) and math.isnan(value):
        return []
    return list(value)


def as_dict(value: Any) -> dict:
    """Dicts may come back from Parquet as dicts, lists of (key, value) pairs, or JSON."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items() if v is not None}
    if isinstance(value, str):
        import json

        try:
            loaded = json.loads(value)
        except ValueError:
            return {}
        return as_dict(loaded) if isinstance(loaded, Mapping) else {}
    try:
        return {str(k): v for k, v in value if v is not None}
    except (TypeError, ValueError):
        return {}


def stats_row(rec: Record) -> dict[str, Any]:
    """One point of the statistics plot from a ``stats`` record."""
    mean = num(rec.get("mean"))
    std = num(rec.get("stddev_sample"))
    if math.isnan(std):
        std = num(rec.get("stddev_population"))
    count = num(rec.get("count"))
    missing = num(rec.get("missing"))
    return {
        "t": to_ms(rec.get("window_end")),
        "window_start": to_ms(rec.get("window_start")),
        "mean": mean,
        "std": std,
        "lo": mean - std,
        "hi": mean + std,
        "p25": num(rec.get("p25")),
        "p50": num(rec.get("p50")),
        "p75": num(rec.get("p75")),
        "min": num(rec.get("min")),
        "max": num(rec.get("max")),
        "count": count,
        "missing": 0.0 if math.isnan(missing) else missing,
    }


STATS_COLUMNS = tuple(stats_row({}).keys())


def drift_row(rec: Record) -> dict[str, Any]:
    """One point of a detector's drift line from a ``drift`` record."""
    return {
        "t": to_ms(rec.get("window_end")),
        "statistic": num(rec.get("statistic")),
        "threshold": num(rec.get("threshold")),
        "p_value": num(rec.get("p_value")),
        "effect_size": num(rec.get("effect_size")),
        "drift": bool(rec.get("drift")),
        "detector": str(rec.get("detector", "")),
        # statistic relative to its threshold: detectors on different scales side by side
        "ratio": _ratio(num(rec.get("statistic")), num(rec.get("threshold"))),
        "one": 1.0,
    }


def _ratio(stat: float, threshold: float) -> float:
    if math.isnan(stat) or math.isnan(threshold) or threshold == 0:
        return math.nan
    return stat / threshold


DRIFT_COLUMNS = tuple(drift_row({}).keys())


def histogram_columns(rec: Record | None, baseline: Any = None) -> dict[str, list]:
    """Quads of the latest window's histogram (as proportions) and of the baseline's.

    Numeric features: ``bin_edges`` has E edges, ``histogram`` E+1 counts (underflow, the
    E-1 bins, overflow); the under- and overflow bins are drawn one median bin width beyond
    the outer edges. ``baseline`` is a list of proportions in the same layout (E+1 values, or
    E-1 values without the outer bins). Categorical features (``frequencies``) are drawn at
    integer positions; ``labels`` names them. A categorical baseline is a dict of proportions.
    """
    empty: dict[str, list] = {k: [] for k in ("left", "right", "window", "baseline", "label", "color")}
    if not rec:
        return empty
    edges = [num(e) for e in as_list(rec.get("bin_edges"))]
    hist = [num(h) for h in as_list(rec.get("histogram"))]
    freqs = as_dict(rec.get("frequencies"))
    if rec.get("type") == "categorical" or (freqs and not edges):
        items = sorted(freqs.items(), key=lambda kv: -num(kv[1]))[:25]
        total = sum(num(v) for _, v in freqs.items()) or 1.0
        base = {str(k): num(v) for k, v in baseline.items()} if isinstance(baseline, Mapping) else {}
        base_total = sum(v for v in base.values() if not math.isnan(v)) or 1.0
        base = {k: v / base_total for k, v in base.items()}  # counts or proportions
        out = dict(empty)
        out["left"] = [i - 0.4 for i in range(len(items))]
        out["right"] = [i + 0.4 for i in range(len(items))]
        out["window"] = [num(v) / total for _, v in items]
        out["baseline"] = [num(base.get(k, 0.0)) if base else math.nan for k, _ in items]
        out["label"] = [str(k) for k, _ in items]
        out["color"] = [WINDOW_COLOR] * len(items)
        return out
    if len(edges) < 2 or len(hist) != len(edges) + 1:
        return empty
    widths = np.diff(edges)
    width = float(np.median(widths)) if len(widths) else 1.0
    if not width or math.isnan(width):
        width = 1.0
    lefts = [edges[0] - width] + edges[:-1] + [edges[-1]]
    rights = [edges[0]] + edges[1:] + [edges[-1] + width]
    total = sum(h for h in hist if not math.isnan(h)) or 1.0
    window = [h / total for h in hist]
    base = [num(b) for b in as_list(baseline)] if baseline is not None and not isinstance(baseline, Mapping) else []
    if len(base) == len(hist) - 2:
        base = [0.0] + base + [0.0]
    if len(base) != len(hist):
        base = [math.nan] * len(hist)
    labels = ["underflow"] + [f"[{lo:.4g}, {hi:.4g})" for lo, hi in zip(edges[:-1], edges[1:])] + ["overflow"]
    colors = [OUTSIDE_COLOR] + [WINDOW_COLOR] * (len(hist) - 2) + [OUTSIDE_COLOR]
    return {"left": lefts, "right": rights, "window": window, "baseline": base, "label": labels, "color": colors}


def baseline_histograms_of(baseline: Any) -> dict[str, Any]:
    """``baseline_histograms`` from a fitted :class:`driftstream.detectors.baseline.Baseline`.

    Numeric features: its histograms (proportions with under/overflow); categorical
    features: the category frequencies of its profile.
    """
    if baseline is None:
        return {}
    out: dict[str, Any] = dict(getattr(baseline, "histograms", {}) or {})
    for name, prof in (getattr(baseline, "profile", {}) or {}).items():
        if isinstance(prof, Mapping) and prof.get("type") == "categorical" and prof.get("frequencies"):
            out.setdefault(name, dict(prof["frequencies"]))
    return out


def outlier_row(rec: Record) -> dict[str, Any]:
    return {
        "ts": to_ms(rec.get("ts")),
        "request_id": str(rec.get("request_id", "")),
        "feature": str(rec.get("feature", "")),
        "detector": str(rec.get("detector", "")),
        "value": num(rec.get("value")),
        "score": num(rec.get("score")),
        "threshold": num(rec.get("threshold")),
    }


OUTLIER_COLUMNS = tuple(outlier_row({}).keys())


def alert_row(rec: Record) -> dict[str, Any]:
    feats = rec.get("features")
    if isinstance(feats, str):
        feats_text = feats
    else:
        feats_text = ", ".join(str(f) for f in as_list(feats))
    return {
        "t": to_ms(rec.get("window_end")),
        "severity": str(rec.get("severity", "")),
        "detector": str(rec.get("detector", "")),
        "features": feats_text,
        "message": str(rec.get("message", "")),
    }


ALERT_COLUMNS = tuple(alert_row({}).keys())


def health_row(rec: Record) -> dict[str, Any]:
    emitted = to_ms(rec.get("emitted_at"))
    watermark = to_ms(rec.get("watermark"))
    lag = {k: num(v) for k, v in as_dict(rec.get("lag")).items()}
    return {
        "t": emitted,
        "events_per_s": num(rec.get("events_per_s")),
        "records_in": num(rec.get("records_in")),
        "bad": num(rec.get("bad")),
        "late": num(rec.get("late")),
        "windows_emitted": num(rec.get("windows_emitted")),
        "window_latency_s": num(rec.get("window_latency_ms")) / 1000.0,
        "watermark_delay_s": (emitted - watermark) / 1000.0,
        "lag_total": float(sum(v for v in lag.values() if not math.isnan(v))) if lag else math.nan,
        "_lag": lag,
    }


HEALTH_COLUMNS = tuple(k for k in health_row({}) if not k.startswith("_"))


def columns_of(rows: Iterable[Mapping[str, Any]], names: Sequence[str]) -> dict[str, list]:
    rows = list(rows)
    return {name: [r[name] for r in rows] for name in names}


def fmt_time(ms: float) -> str:
    if ms is None or math.isnan(ms):
        return "-"
    return datetime.fromtimestamp(ms / 1000.0, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def fmt_num(value: float, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if abs(value) >= 1e5 or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.{digits}g}"


# --------------------------------------------------------------------------------------------
# Figures (shared with driftstream.engine.report)
# --------------------------------------------------------------------------------------------

def _time_format() -> DatetimeTickFormatter:
    # a new model per figure: a Bokeh model belongs to a single document
    return DatetimeTickFormatter(seconds="%H:%M:%S", minsec="%H:%M:%S", minutes="%H:%M", hours="%H:%M", days="%b %d")


def _style(fig, legend: bool = True) -> None:
    fig.toolbar.autohide = True
    fig.title.text_font_size = "13pt"
    fig.title.text_color = "#1d2733"
    fig.border_fill_color = "white"
    fig.outline_line_color = "#d0d4da"
    fig.min_border_left = 60
    fig.xgrid.grid_line_alpha = 0.4
    fig.ygrid.grid_line_alpha = 0.4
    if legend and fig.legend:
        fig.legend.location = "top_left"
        fig.legend.click_policy = "hide"
        fig.legend.label_text_font_size = "9pt"
        fig.legend.background_fill_alpha = 0.7
        fig.legend.spacing = 0
        fig.legend.padding = 4


def time_figure(name: str, title: str, y_label: str, height: int = PLOT_HEIGHT, x_range=None, **kw):
    opts: dict[str, Any] = dict(
        name=name,
        title=title,
        x_axis_type="datetime",
        height=height,
        sizing_mode="stretch_width",
        tools="pan,xwheel_zoom,box_zoom,reset,save",
        toolbar_location="above",
        active_scroll=None,
        y_axis_label=y_label,
    )
    if x_range is not None:
        opts["x_range"] = x_range
    opts.update(kw)
    fig = figure(**opts)
    fig.xaxis.formatter = _time_format()
    fig.xaxis.major_label_policy = NoOverlap(min_distance=8)  # narrow plots (notebook cells) drop labels, not overlap them
    fig.xaxis.axis_label = "window end (UTC)"
    return fig


def stats_figure(source: ColumnDataSource, x_range=None, name: str = "stats_plot"):
    fig = time_figure(name, "Windowed statistics", "value", x_range=x_range)
    fig.varea(x="t", y1="lo", y2="hi", source=source, fill_color=BAND_COLOR, fill_alpha=0.5, legend_label="mean ± 1 stddev")
    fig.line("t", "min", source=source, color=EXTREME_COLOR, line_dash="dotted", legend_label="min / max")
    fig.line("t", "max", source=source, color=EXTREME_COLOR, line_dash="dotted", legend_label="min / max")
    fig.line("t", "p25", source=source, color=PCT_COLOR, line_dash="dashed", legend_label="p25 / p75")
    fig.line("t", "p75", source=source, color=PCT_COLOR, line_dash="dashed", legend_label="p25 / p75")
    fig.line("t", "p50", source=source, color=PCT_COLOR, line_width=1.5, legend_label="median")
    mean = fig.line("t", "mean", source=source, color=MEAN_COLOR, line_width=2.5, legend_label="mean")
    fig.add_tools(
        HoverTool(
            renderers=[mean],
            mode="vline",
            tooltips=[
                ("window end", "@t{%F %T}"),
                ("mean", "@mean{0.[0000]}"),
                ("stddev", "@std{0.[0000]}"),
                ("p25 / p50 / p75", "@p25{0.[000]} / @p50{0.[000]} / @p75{0.[000]}"),
                ("min / max", "@min{0.[000]} / @max{0.[000]}"),
                ("count", "@count{0,0}"),
            ],
            formatters={"@t": "datetime"},
        )
    )
    _style(fig)
    fig.add_layout(fig.legend[0], "right")
    return fig


def histogram_figure(source: ColumnDataSource, name: str = "histogram_plot"):
    fig = figure(
        name=name,
        title="Latest window vs baseline",
        height=PLOT_HEIGHT,
        sizing_mode="stretch_width",
        tools="pan,box_zoom,reset,save",
        toolbar_location="above",
        y_axis_label="share of values",
        y_range=Range1d(0, 1, bounds=(0, None)),
    )
    bars = fig.quad(
        left="left", right="right", bottom=0, top="window", source=source,
        fill_color="color", fill_alpha=0.55, line_color="white", legend_label="latest window",
    )
    fig.quad(
        left="left", right="right", bottom=0, top="baseline", source=source,
        fill_alpha=0, line_color=BASELINE_COLOR, line_width=2, legend_label="baseline",
    )
    fig.add_tools(
        HoverTool(renderers=[bars], tooltips=[("bin", "@label"), ("window", "@window{0.0%}"), ("baseline", "@baseline{0.0%}")])
    )
    fig.xaxis.axis_label = "value (orange: under/overflow)"
    # categorical features are drawn at integer positions, labelled from the source
    fig.xaxis.formatter = CustomJSTickFormatter(
        args=dict(source=source),
        code="""
        const labels = source.data.label || [];
        if (labels.length && labels[0] !== "underflow") {
            const i = Math.round(tick);
            return (Math.abs(tick - i) < 1e-9 && i >= 0 && i < labels.length) ? String(labels[i]) : "";
        }
        return String(Number(tick.toPrecision(6)));
        """,
    )
    _style(fig)
    fig.add_layout(fig.legend[0], "right")
    return fig


def fit_histogram_axes(fig, cols: Mapping[str, list]) -> None:
    """Adjust y range and (for categorical features) tick labels of a histogram figure."""
    tops = [v for v in list(cols.get("window", [])) + list(cols.get("baseline", [])) if v is not None and not math.isnan(v)]
    fig.y_range.end = max(0.05, min(1.0, 1.1 * max(tops))) if tops else 1.0
    labels = cols.get("label", [])
    categorical = bool(labels) and labels[0] != "underflow"
    axis = fig.xaxis[0]
    if categorical:
        ticks = list(range(len(labels)))
        if not isinstance(axis.ticker, FixedTicker) or list(axis.ticker.ticks) != ticks:
            axis.ticker = FixedTicker(ticks=ticks)
        axis.major_label_orientation = 0.6 if len(labels) > 6 else "horizontal"
        axis.axis_label = "category"
    else:
        if isinstance(axis.ticker, FixedTicker):
            axis.ticker = BasicTicker()
        axis.major_label_orientation = "horizontal"
        axis.axis_label = "value (orange: under/overflow)"


def drift_figure(alert_source: ColumnDataSource, x_range=None, name: str = "drift_plot"):
    fig = time_figure(name, "Drift statistic per detector", "statistic", x_range=x_range)
    markers = fig.scatter(
        "t", "statistic", source=alert_source, marker="triangle", size=13, color=ALERT_COLOR,
        line_color="black", line_width=0.5, name="drift_alert_markers",
    )
    fig.add_tools(
        HoverTool(
            renderers=[markers],
            tooltips=[("DRIFT", "@detector"), ("window end", "@t{%F %T}"), ("statistic", "@statistic{0.[0000]}"),
                      ("threshold", "@threshold{0.[0000]}"), ("p-value", "@p_value{0.[0000]}")],
            formatters={"@t": "datetime"},
        )
    )
    # one hover tool for every detector's dots, made now: detectors seen later join its renderers.
    # (A tool added to a plot already on the page, next to a side legend, makes BokehJS lay the
    # plot out thousands of pixels wide: the plot vanished from live dashboards.)
    fig.add_tools(
        HoverTool(
            renderers=[], name=f"{name}_hover",
            tooltips=[("detector", "@detector"), ("window end", "@t{%F %T}"), ("statistic", "@statistic{0.[0000]}"),
                      ("threshold", "@threshold{0.[0000]}"), ("p-value", "@p_value{0.[0000]}")],
            formatters={"@t": "datetime"},
        )
    )
    legend = Legend(items=[LegendItem(label="drift alert", renderers=[markers])], location="top_left",
                    click_policy="hide", label_text_font_size="9pt", background_fill_alpha=0.7, spacing=0, padding=4)
    fig.add_layout(legend, "right")
    fig.title.text = "Drift statistic per detector (dashed: threshold)"
    _style(fig)
    return fig


_SCALE_JS = """
const rel = cb_obj.active === 1;
const swap = {statistic: "ratio", ratio: "statistic", threshold: "one", one: "threshold"};
const want = rel ? new Set(["ratio", "one"]) : new Set(["statistic", "threshold"]);
for (const r of plot.renderers) {
  for (const attr of ["glyph", "nonselection_glyph", "selection_glyph", "hover_glyph", "muted_glyph"]) {
    const g = r[attr];
    if (g == null || typeof g !== "object" || !("y" in g)) continue;
    const y = g.y;
    const field = (y != null && typeof y === "object") ? y.field : undefined;
    if (field in swap && !want.has(field)) g.y = {field: swap[field]};
  }
}
for (const axis of plot.left) axis.axis_label = rel ? "statistic ÷ threshold (1 = threshold)" : "statistic";
"""


def drift_scale_toggle(fig, name: str = "drift_scale"):
    """Buttons switching the drift plot between raw statistics and statistic ÷ threshold."""
    toggle = RadioButtonGroup(labels=["statistic", "statistic ÷ threshold"], active=0, name=name, width=280)
    toggle.js_on_change("active", CustomJS(args=dict(plot=fig), code=_SCALE_JS))
    return toggle


def add_detector_renderers(fig, source: ColumnDataSource, detector: str, color: str, relative: bool = False):
    """A detector's statistic (line + dots) and its threshold (dashed) on the drift figure."""
    y, y_thr = ("ratio", "one") if relative else ("statistic", "threshold")
    line = fig.line("t", y, source=source, color=color, line_width=2)
    dots = fig.scatter("t", y, source=source, color=color, size=5)
    thr = fig.line("t", y_thr, source=source, color=color, line_dash="dashed", line_width=1.5, alpha=0.8)
    hover = fig.select_one({"name": f"{fig.name}_hover"})
    hover.renderers = [*hover.renderers, dots]
    fig.legend[0].items.append(LegendItem(label=detector, renderers=[line, dots, thr]))
    return [line, dots, thr]


def outlier_figure(source: ColumnDataSource, x_range=None, name: str = "outlier_plot"):
    fig = time_figure(name, "Outlier rate (share of requests flagged per window)", "flagged", x_range=x_range)
    fig.varea(x="t", y1=0, y2="rate", source=source, fill_color=OUTSIDE_COLOR, fill_alpha=0.25)
    fig.line("t", "rate", source=source, color=OUTSIDE_COLOR, line_width=2)
    dots = fig.scatter("t", "rate", source=source, color=OUTSIDE_COLOR, size=5)
    fig.yaxis.formatter = NumeralTickFormatter(format="0.0%")
    fig.add_tools(
        HoverTool(
            renderers=[dots],
            tooltips=[("window end", "@t{%F %T}"), ("flagged", "@rate{0.00%}"), ("requests flagged", "@flagged{0,0}"),
                      ("requests", "@requests{0,0}")],
            formatters={"@t": "datetime"},
        )
    )
    _style(fig, legend=False)
    return fig


def outlier_table(source: ColumnDataSource, name: str = "outlier_table", height: int = 260):
    cols = [
        TableColumn(field="ts", title="time (UTC)", formatter=DateFormatter(format="%m-%d %H:%M:%S"), width=110),
        TableColumn(field="request_id", title="request", width=130),
        TableColumn(field="feature", title="feature", width=110),
        TableColumn(field="detector", title="detector", width=110),
        TableColumn(field="value", title="value", formatter=NumberFormatter(format="0.[0000]"), width=80),
        TableColumn(field="score", title="score", formatter=NumberFormatter(format="0.[000]"), width=70),
        TableColumn(field="threshold", title="threshold", formatter=NumberFormatter(format="0.[000]"), width=70),
    ]
    return DataTable(source=source, columns=cols, name=name, height=height, sizing_mode="stretch_width",
                     index_position=None, sortable=True)


def alert_table(source: ColumnDataSource, name: str = "alert_table", height: int = 260):
    cols = [
        TableColumn(field="t", title="window end (UTC)", formatter=DateFormatter(format="%m-%d %H:%M:%S"), width=125),
        TableColumn(field="severity", title="severity", width=60),
        TableColumn(field="detector", title="detector", width=115),
        TableColumn(field="features", title="features", width=110),
        TableColumn(field="message", title="message", width=440),
    ]
    return DataTable(source=source, columns=cols, name=name, height=height, sizing_mode="stretch_width",
                     index_position=None, sortable=True)


def health_figures(source: ColumnDataSource):
    """Events/s, lag per partition (lines added per partition), latencies, bad/late."""
    rate = time_figure("health_rate_plot", "Events per second", "events/s", height=SMALL_HEIGHT)
    rate.line("t", "events_per_s", source=source, color=MEAN_COLOR, line_width=2)
    lag = time_figure("health_lag_plot", "Consumer lag per partition", "messages", height=SMALL_HEIGHT, x_range=rate.x_range)
    lag.add_layout(Legend(items=[], location="top_left", click_policy="hide", label_text_font_size="8pt",
                          background_fill_alpha=0.6, spacing=0, padding=2))
    lat = time_figure("health_latency_plot", "Window latency and watermark delay", "seconds", height=SMALL_HEIGHT, x_range=rate.x_range)
    lat.line("t", "window_latency_s", source=source, color="#9467bd", line_width=2, legend_label="window latency")
    lat.line("t", "watermark_delay_s", source=source, color="#8c564b", line_width=2, line_dash="dashed", legend_label="now − watermark")
    err = time_figure("health_errors_plot", "Bad and late records", "records", height=SMALL_HEIGHT, x_range=rate.x_range)
    err.line("t", "bad", source=source, color=ALERT_COLOR, line_width=2, legend_label="bad")
    err.line("t", "late", source=source, color=OUTSIDE_COLOR, line_width=2, legend_label="late")
    for fig in (rate, lag, lat, err):
        fig.xaxis.axis_label = None
        _style(fig)
    return rate, lag, lat, err


def add_partition_renderer(fig, source: ColumnDataSource, partition: str, color: str):
    line = fig.line("t", "lag", source=source, color=color, line_width=2)
    fig.legend[0].items.append(LegendItem(label=f"partition {partition}", renderers=[line]))
    return line


def health_summary_html(last: Mapping[str, Any] | None) -> str:
    if not last:
        return _card_row([("pipeline", "waiting for the first health record")])
    return _card_row([
        ("events/s", fmt_num(last["events_per_s"], 3)),
        ("records in", fmt_num(last["records_in"])),
        ("windows emitted", fmt_num(last["windows_emitted"])),
        ("consumer lag", fmt_num(last["lag_total"])),
        ("watermark", fmt_time(last["t"] - 1000 * last["watermark_delay_s"]) if not math.isnan(last["watermark_delay_s"]) else "-"),
        ("window latency", f"{fmt_num(last['window_latency_s'], 3)} s"),
        ("bad / late", f"{fmt_num(last['bad'])} / {fmt_num(last['late'])}"),
    ])


def _card_row(items: Sequence[tuple[str, str]]) -> str:
    cards = "".join(
        f'<div style="background:white;border:1px solid #d0d4da;border-radius:6px;padding:6px 12px;margin:0 8px 4px 0;'
        f'display:inline-block;min-width:110px"><div style="font-size:9pt;color:#5b6573">{label}</div>'
        f'<div style="font-size:13pt;font-weight:600">{value}</div></div>'
        for label, value in items
    )
    return f'<div style="display:flex;flex-wrap:wrap">{cards}</div>'


def header_html(title: str, subtitle: str) -> str:
    return (
        f'<div style="font-size:20pt;font-weight:700;color:#1d2733">{title}</div>'
        f'<div style="font-size:10pt;color:#5b6573;margin-top:2px">{subtitle}</div>'
    )


def section_html(text: str) -> str:
    return f'<div style="font-size:14pt;font-weight:600;color:#1d2733;border-bottom:2px solid #d0d4da;padding-bottom:2px;margin-top:6px">{text}</div>'


# --------------------------------------------------------------------------------------------
# One browser session
# --------------------------------------------------------------------------------------------


class _Rows:
    """Insertion-ordered rows keyed by record key, at most ``maxlen`` of them (oldest dropped)."""

    def __init__(self, maxlen: int):
        self.maxlen = maxlen
        self._rows: OrderedDict[Any, dict] = OrderedDict()

    def add(self, key: Any, row: dict) -> bool:
        """Add a row; True if it replaced an existing one (a re-emitted result)."""
        if key in self._rows:
            self._rows[key] = row
            return True
        self._rows[key] = row
        while len(self._rows) > self.maxlen:
            self._rows.popitem(last=False)
        return False

    def rows(self) -> list[dict]:
        return list(self._rows.values())

    def __len__(self) -> int:
        return len(self._rows)


class SessionView:
    """The document of one browser session (or notebook output) and its live update path."""

    def __init__(
        self,
        doc: Document,
        hub: ResultHub,
        model: str,
        features: Sequence[str],
        baseline_histograms: Mapping[str, Any] | None = None,
        rollover: int = 2000,
        on_close: Callable[["SessionView"], None] | None = None,
        detectors: Sequence[str] = (),
    ):
        self.doc = doc
        self.hub = hub
        self.model = model
        self.rollover = int(rollover)
        self.baseline = dict(baseline_histograms or {})
        self._on_close = on_close
        self._lock = threading.Lock()
        self._pending: list[tuple[str, list[Record]]] = []
        self._scheduled = False
        self._closed = False
        self._seen_ids: set[int] | None = None
        self._history: dict[str, list[Record]] | None = None  # kept alive while ids are compared

        # per-feature state (bounded)
        self.features: list[str] = list(dict.fromkeys(features))
        self.detectors: list[str] = list(dict.fromkeys(detectors))
        self.stats_rows: dict[str, _Rows] = {}
        self.latest_stats: dict[str, Record] = {}
        self.drift_rows: dict[str, dict[str, _Rows]] = {}
        self.drift_alerts: dict[str, _Rows] = {}
        self.drift_now: dict[tuple[str, str], tuple[float, bool]] = {}  # (feature, detector) -> latest
        self.outlier_ts: deque[tuple[float, str]] = deque(maxlen=OUTLIER_MEMORY)
        self.window_requests: OrderedDict[tuple[float, float], float] = OrderedDict()
        self.latest_outliers: deque[dict] = deque(maxlen=TABLE_ROWS)
        self.latest_alerts: deque[dict] = deque(maxlen=TABLE_ROWS)
        self.alert_count = 0
        self.records_seen = 0
        self.last_window_end = math.nan

        self._build()
        # subscribe first, then read the history: nothing published in between is lost, and
        # records seen in both (same dict objects) are skipped once by identity
        self._unsubscribe = hub.subscribe(self._on_records)
        history = {kind: hub.history(kind) for kind in KINDS}
        self._history = history
        self._seen_ids = {id(r) for recs in history.values() for r in recs}
        self._apply(list(history.items()), initial=True)
        doc.on_session_destroyed(self._session_destroyed)

    # -- layout -------------------------------------------------------------------------------

    def _build(self) -> None:
        self.selected = self.features[0] if self.features else ""
        self.stats_source = ColumnDataSource({k: [] for k in STATS_COLUMNS}, name="stats_source")
        self.hist_source = ColumnDataSource(histogram_columns(None), name="histogram_source")
        self.drift_alert_source = ColumnDataSource({k: [] for k in DRIFT_COLUMNS}, name="drift_alert_source")
        self.detector_sources: dict[str, ColumnDataSource] = {}
        self.outlier_rate_source = ColumnDataSource({"t": [], "rate": [], "flagged": [], "requests": []}, name="outlier_rate_source")
        self.outlier_table_source = ColumnDataSource({k: [] for k in OUTLIER_COLUMNS}, name="outlier_table_source")
        self.alert_source = ColumnDataSource({k: [] for k in ALERT_COLUMNS}, name="alert_source")
        self.health_source = ColumnDataSource({k: [] for k in HEALTH_COLUMNS}, name="health_source")
        self.partition_sources: dict[str, ColumnDataSource] = {}

        self.header = Div(text=header_html(f"driftstream · {self.model}", "live monitor"), sizing_mode="stretch_width")
        self.select = Select(title="Feature", value=self.selected, options=list(self.features), width=260, name="feature_select")
        self.select.on_change("value", self._on_select)
        self.summary = Div(text="", sizing_mode="stretch_width", name="summary")

        self.stats_plot = stats_figure(self.stats_source)
        self.hist_plot = histogram_figure(self.hist_source)
        self.drift_plot = drift_figure(self.drift_alert_source, x_range=self.stats_plot.x_range)
        self.drift_scale = drift_scale_toggle(self.drift_plot)
        for det in self.detectors:  # known detectors get their lines before the page is sent
            self._detector_source(det)
        self.outlier_plot = outlier_figure(self.outlier_rate_source, x_range=self.stats_plot.x_range)
        self.outlier_tbl = outlier_table(self.outlier_table_source)
        self.alert_tbl = alert_table(self.alert_source)
        self.health_plots = health_figures(self.health_source)
        self.health_div = Div(text=health_summary_html(None), sizing_mode="stretch_width", name="health_summary")

        layout = column(
            row(self.header, sizing_mode="stretch_width"),
            row(self.select, self.summary, sizing_mode="stretch_width"),
            Div(text=section_html("Feature"), sizing_mode="stretch_width"),
            row(self.stats_plot, self.hist_plot, sizing_mode="stretch_width"),
            Div(text=section_html("Drift and outliers"), sizing_mode="stretch_width"),
            row(
                column(self.drift_scale, self.drift_plot, sizing_mode="stretch_width"),
                column(Div(text="", height=31), self.outlier_plot, sizing_mode="stretch_width"),
                sizing_mode="stretch_width",
            ),
            row(
                column(Div(text="<b>Alerts</b>"), self.alert_tbl, sizing_mode="stretch_width"),
                column(Div(text="<b>Latest outliers</b>"), self.outlier_tbl, sizing_mode="stretch_width"),
                sizing_mode="stretch_width",
            ),
            Div(text=section_html("Pipeline health"), sizing_mode="stretch_width"),
            self.health_div,
            row(*self.health_plots[:2], sizing_mode="stretch_width"),
            row(*self.health_plots[2:], sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
            name="dashboard",
            margin=(4, 16, 16, 16),
        )
        self.doc.add_root(layout)
        self.doc.title = f"driftstream · {self.model}"
        self._refresh_summary()

    # -- live path ----------------------------------------------------------------------------

    def _on_records(self, kind: str, records: list[Record]) -> None:
        """Hub callback, runs on the publishing (engine) thread: queue and schedule a flush."""
        if kind not in KINDS:
            return
        with self._lock:
            if self._closed:
                return
            self._pending.append((kind, records))
            if self._scheduled:
                return
            self._scheduled = True
        try:
            self.doc.add_next_tick_callback(self._flush)
        except Exception:  # the session is going away
            logger.debug("dashboard session gone, dropping %d %s records", len(records), kind)
            with self._lock:
                self._scheduled = False

    def _flush(self) -> None:
        """Runs with the document lock held (next-tick callback): apply every queued batch."""
        with self._lock:
            batches, self._pending = self._pending, []
            self._scheduled = False
        if batches and not self._closed:
            try:
                self._apply(batches)
            except Exception:
                logger.exception("dashboard update failed")

    def _session_destroyed(self, session_context) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._pending = []
        self._unsubscribe()
        if self._on_close is not None:
            self._on_close(self)

    # -- applying records ---------------------------------------------------------------------

    def _mine(self, rec: Record) -> bool:
        model = rec.get("model")
        return model is None or model == self.model

    def _apply(self, batches: list[tuple[str, list[Record]]], initial: bool = False) -> None:
        # new renderers (a detector or partition seen for the first time) make Bokeh recompute
        # the document's model graph; freezing does that once per batch instead of per model
        freeze = getattr(getattr(self.doc, "models", None), "freeze", None)
        if freeze is None:
            self._apply_batches(batches, initial)
            return
        with freeze():
            self._apply_batches(batches, initial)

    def _apply_batches(self, batches: list[tuple[str, list[Record]]], initial: bool) -> None:
        by_kind: dict[str, list[Record]] = {k: [] for k in KINDS}
        seen = self._seen_ids
        for kind, records in batches:
            for rec in records:
                if not initial and seen is not None and id(rec) in seen:
                    continue
                if self._mine(rec):
                    by_kind[kind].append(rec)
        if not initial:
            self._seen_ids = self._history = None  # only the first live batch can overlap the history
        self.records_seen += sum(len(v) for v in by_kind.values())
        self._apply_outliers(by_kind["outliers"])
        self._apply_stats(by_kind["stats"])
        self._apply_drift(by_kind["drift"])
        self._apply_alerts(by_kind["alerts"])
        self._apply_health(by_kind["health"])
        self._refresh_summary()

    def _ensure_feature(self, feature: str) -> None:
        if feature and feature not in self.features:
            self.features.append(feature)
            self.select.options = list(self.features)
            if not self.selected:
                self.selected = feature
                self.select.value = feature

    def _apply_stats(self, records: list[Record]) -> None:
        if not records:
            return
        new_rows: list[dict] = []
        reset = False
        window_counts: dict[tuple[float, float], float] = {}
        for rec in records:
            feature = str(rec.get("feature", ""))
            self._ensure_feature(feature)
            r = stats_row(rec)
            rows = self.stats_rows.setdefault(feature, _Rows(self.rollover))
            replaced = rows.add(rec.get("key") or (r["window_start"], r["t"]), r)
            latest = self.latest_stats.get(feature)
            if latest is None or to_ms(latest.get("window_end")) <= r["t"]:
                self.latest_stats[feature] = rec
            if feature == self.selected:
                if replaced:
                    reset = True
                else:
                    new_rows.append(r)
            if not math.isnan(r["t"]):
                self.last_window_end = r["t"] if math.isnan(self.last_window_end) else max(self.last_window_end, r["t"])
            requests = (0.0 if math.isnan(r["count"]) else r["count"]) + r["missing"]
            wk = (r["window_start"], r["t"])
            window_counts[wk] = max(window_counts.get(wk, 0.0), requests)
        if reset:
            self.stats_source.data = columns_of(self.stats_rows[self.selected].rows(), STATS_COLUMNS)
        elif new_rows:
            self.stats_source.stream(columns_of(new_rows, STATS_COLUMNS), rollover=self.rollover)
        self._update_histogram()
        self._stats_title()
        self._add_outlier_rates(window_counts)

    def _stats_title(self) -> None:
        latest = self.latest_stats.get(self.selected)
        if latest is not None and latest.get("type") == "categorical":
            self.stats_plot.title.text = f"Windowed statistics of {self.selected} (categorical: see the category shares)"
        else:
            self.stats_plot.title.text = f"Windowed statistics of {self.selected}"

    def _update_histogram(self) -> None:
        cols = histogram_columns(self.latest_stats.get(self.selected), self.baseline.get(self.selected))
        self.hist_source.data = cols
        fit_histogram_axes(self.hist_plot, cols)
        latest = self.latest_stats.get(self.selected)
        when = fmt_time(to_ms(latest.get("window_end"))) if latest else "no window yet"
        self.hist_plot.title.text = f"Latest window vs baseline ({when})"

    def _detector_source(self, detector: str) -> ColumnDataSource:
        src = self.detector_sources.get(detector)
        if src is None:
            src = ColumnDataSource({k: [] for k in DRIFT_COLUMNS}, name=f"drift_source_{detector}")
            color = PALETTE[len(self.detector_sources) % len(PALETTE)]
            add_detector_renderers(self.drift_plot, src, detector, color, relative=self.drift_scale.active == 1)
            self.detector_sources[detector] = src
        return src

    def _apply_drift(self, records: list[Record]) -> None:
        if not records:
            return
        new: dict[str, list[dict]] = {}
        new_alerts: list[dict] = []
        reset = False
        for rec in records:
            feature = str(rec.get("feature", ""))
            self._ensure_feature(feature)
            r = drift_row(rec)
            det = r["detector"]
            if det not in self.detector_sources:
                # a stable colour per detector, in order of appearance; a source born in this update
                # gets its rows as data, not as a stream on a model the browser has not seen yet
                self._detector_source(det)
                reset = True
            rows = self.drift_rows.setdefault(feature, {}).setdefault(det, _Rows(self.rollover))
            key = rec.get("key") or (r["t"], det)
            replaced = rows.add(key, r)
            if r["drift"]:
                self.drift_alerts.setdefault(feature, _Rows(self.rollover)).add(key, r)
            prev = self.drift_now.get((feature, det))
            if prev is None or not prev[0] > r["t"]:
                self.drift_now[(feature, det)] = (r["t"], r["drift"])
            if feature == self.selected:
                if replaced:
                    reset = True
                else:
                    new.setdefault(det, []).append(r)
                    if r["drift"]:
                        new_alerts.append(r)
        if reset:
            self._reset_drift()
            return
        for det, rows in new.items():
            self._detector_source(det).stream(columns_of(rows, DRIFT_COLUMNS), rollover=self.rollover)
        if new_alerts:
            self.drift_alert_source.stream(columns_of(new_alerts, DRIFT_COLUMNS), rollover=self.rollover)

    def _reset_drift(self) -> None:
        per_det = self.drift_rows.get(self.selected, {})
        for det, src in self.detector_sources.items():
            rows = per_det.get(det)
            src.data = columns_of(rows.rows() if rows else [], DRIFT_COLUMNS)
        alerts = self.drift_alerts.get(self.selected)
        self.drift_alert_source.data = columns_of(alerts.rows() if alerts else [], DRIFT_COLUMNS)

    def _apply_outliers(self, records: list[Record]) -> None:
        flagged = [r for r in records if r.get("is_outlier", True)]
        if not flagged:
            return
        for rec in flagged:
            row_ = outlier_row(rec)
            self.outlier_ts.append((row_["ts"], row_["request_id"]))
            self.latest_outliers.append(row_)
        rows = sorted(self.latest_outliers, key=lambda r: -r["ts"] if not math.isnan(r["ts"]) else math.inf)
        self.outlier_table_source.data = columns_of(rows, OUTLIER_COLUMNS)

    def _add_outlier_rates(self, window_counts: Mapping[tuple[float, float], float]) -> None:
        fresh = [(wk, n) for wk, n in window_counts.items() if wk not in self.window_requests and n > 0]
        if not fresh:
            return
        for wk, n in fresh:
            self.window_requests[wk] = n
        while len(self.window_requests) > self.rollover:
            self.window_requests.popitem(last=False)
        if self.outlier_ts:
            ts = np.fromiter((t for t, _ in self.outlier_ts), dtype=float, count=len(self.outlier_ts))
            ids = np.array([i for _, i in self.outlier_ts], dtype=object)
            order = np.argsort(ts, kind="stable")
            ts, ids = ts[order], ids[order]
        else:
            ts, ids = np.empty(0), np.empty(0, dtype=object)
        out = {"t": [], "rate": [], "flagged": [], "requests": []}
        for (ws, we), n in sorted(fresh, key=lambda x: x[0][1]):
            lo, hi = np.searchsorted(ts, ws, "left"), np.searchsorted(ts, we, "left")
            k = float(len(set(ids[lo:hi]))) if hi > lo else 0.0
            out["t"].append(we)
            out["rate"].append(k / n)
            out["flagged"].append(k)
            out["requests"].append(n)
        self.outlier_rate_source.stream(out, rollover=self.rollover)

    def _apply_alerts(self, records: list[Record]) -> None:
        if not records:
            return
        for rec in records:
            self.latest_alerts.append(alert_row(rec))
            self.alert_count += 1
        rows = sorted(self.latest_alerts, key=lambda r: -r["t"] if not math.isnan(r["t"]) else math.inf)
        self.alert_source.data = columns_of(rows, ALERT_COLUMNS)

    def _apply_health(self, records: list[Record]) -> None:
        if not records:
            return
        rows = [health_row(r) for r in records]
        self.health_source.stream(columns_of(rows, HEALTH_COLUMNS), rollover=self.rollover)
        lag_plot = self.health_plots[1]
        per_part: dict[str, dict[str, list]] = {}
        for r in rows:
            for part, lag in r["_lag"].items():
                d = per_part.setdefault(part, {"t": [], "lag": []})
                d["t"].append(r["t"])
                d["lag"].append(lag)
        for part in sorted(per_part, key=lambda p: (len(p), p)):
            src = self.partition_sources.get(part)
            if src is None:
                src = ColumnDataSource({"t": [], "lag": []}, name=f"lag_source_{part}")
                add_partition_renderer(lag_plot, src, part, PALETTE[len(self.partition_sources) % len(PALETTE)])
                self.partition_sources[part] = src
            src.stream(per_part[part], rollover=self.rollover)
        lag_plot.title.text = "Consumer lag per partition" + ("" if self.partition_sources else " (no partitions reported)")
        self.health_div.text = health_summary_html(rows[-1])

    # -- feature selector ---------------------------------------------------------------------

    def _on_select(self, attr: str, old: str, new: str) -> None:
        self.selected = new
        rows = self.stats_rows.get(new)
        self.stats_source.data = columns_of(rows.rows() if rows else [], STATS_COLUMNS)
        self._stats_title()
        self._update_histogram()
        self._reset_drift()
        self._refresh_summary()

    def _refresh_summary(self) -> None:
        drifting = sorted({f for (f, _), (_, flag) in self.drift_now.items() if flag})
        self.summary.text = _card_row([
            ("features", str(len(self.features))),
            ("last window end", fmt_time(self.last_window_end)),
            ("alerts", str(self.alert_count)),
            ("drifting now", ", ".join(drifting[:6]) + ("…" if len(drifting) > 6 else "") if drifting else "none"),
        ])


# --------------------------------------------------------------------------------------------
# Server
# --------------------------------------------------------------------------------------------


def notebook_app(
    hub: ResultHub,
    model: str,
    features: Sequence[str],
    baseline_histograms: Mapping[str, Any] | None = None,
    rollover: int = 2000,
    detectors: Sequence[str] = (),
) -> Callable[[Document], None]:
    """A Bokeh app function for ``bokeh.io.show(app)`` in Jupyter (classic or Lab).

    Every call of the returned function builds one live document (one per output cell
    shown) that follows ``hub`` until its session ends.
    """

    def app(doc: Document) -> None:
        SessionView(doc, hub, model, features, baseline_histograms=baseline_histograms, rollover=rollover, detectors=detectors)

    return app


def running_notebook_url(default: str = "localhost:8888") -> str:
    """``scheme://host:port`` of the Jupyter server running on this machine, when there is
    exactly one (read from Jupyter's runtime folder), else ``default``.

    >>> running_notebook_url(default="localhost:8888") in ("localhost:8888",) or "://" in running_notebook_url()
    True
    """
    from urllib.parse import urlparse

    try:
        from jupyter_server.serverapp import list_running_servers

        servers = list(list_running_servers())
    except Exception:  # noqa: BLE001 - no jupyter_server, unreadable runtime folder: use the default
        return default
    if len(servers) != 1:
        return default
    url = urlparse(servers[0].get("url", ""))
    return f"{url.scheme}://{url.netloc}" if url.scheme and url.netloc else default


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Dashboard:
    """The live dashboard: a Bokeh server in its own thread and Tornado IOLoop.

    Parameters
    ----------
    hub: the monitor's :class:`ResultHub`.
    model: the model name (records of other models are ignored).
    features: features offered by the selector (more are added as they appear).
    host, port: where to listen; ``port=0`` picks a free port (see :attr:`url`).
    allow_websocket_origin: browser origins allowed to connect (``host:port``); by default
        the server's own address, ``localhost`` and ``127.0.0.1`` on its port.
    rollover: points kept per plotted series (per browser session).
    baseline_histograms: per feature, the baseline's bin proportions (same layout as the
        stats records' ``histogram``: underflow, bins..., overflow), drawn behind the latest
        window's histogram. Categorical features: a dict category -> proportion.
    detectors: drift detectors expected (their lines are on the page from the start; others are
        added as they appear).
    server_kwargs: passed to :class:`bokeh.server.server.Server` (for example
        ``unused_session_lifetime_milliseconds``).
    """

    def __init__(
        self,
        hub: ResultHub,
        model: str,
        features: Sequence[str],
        host: str = "127.0.0.1",
        port: int = 5006,
        allow_websocket_origin: list[str] | None = None,
        rollover: int = 2000,
        baseline_histograms: Mapping[str, Any] | None = None,
        detectors: Sequence[str] = (),
        **server_kwargs: Any,
    ):
        self.hub = hub
        self.model = model
        self.features = list(features)
        self.host = host
        self.port = int(port)
        self.allow_websocket_origin = list(allow_websocket_origin) if allow_websocket_origin else None
        self.rollover = int(rollover)
        self.baseline_histograms = dict(baseline_histograms or {})
        self.detectors = list(detectors)
        self.server_kwargs = server_kwargs
        self.sessions: list[SessionView] = []
        self._sessions_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._io_loop = None
        self._server = None
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._bound_port: int | None = None

    # -- public API ---------------------------------------------------------------------------

    @property
    def url(self) -> str | None:
        """``http://host:port/`` once started, else None."""
        if self._bound_port is None:
            return None
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._bound_port}/"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def app(self, doc: Document) -> None:
        """The Bokeh application function: one :class:`SessionView` per session."""
        view = SessionView(
            doc, self.hub, self.model, self.features, baseline_histograms=self.baseline_histograms,
            rollover=self.rollover, on_close=self._forget, detectors=self.detectors,
        )
        with self._sessions_lock:
            self.sessions.append(view)

    def start(self, timeout: float = 30.0) -> "Dashboard":
        """Start serving in a background thread; returns once the port is bound."""
        if self.running:
            return self
        self._started.clear()
        self._error = None
        port = self.port or _free_port(self.host)
        self._thread = threading.Thread(target=self._run, args=(port,), name="driftstream-dashboard", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout):
            raise RuntimeError(f"dashboard did not start within {timeout:.0f} s")
        if self._error is not None:
            err, self._error = self._error, None
            self._thread.join(5)
            self._thread = None
            raise RuntimeError(
                f"could not start the dashboard on {self.host}:{port}: {err}. "
                "Choose another port (dashboard.port in the spec, or port=0 for any free port) or turn the dashboard off."
            ) from err
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server, end every session and join the thread."""
        thread, loop = self._thread, self._io_loop
        if thread is None:
            return
        if loop is not None and thread.is_alive():
            loop.add_callback(self._shutdown)
        thread.join(timeout)
        with self._sessions_lock:
            views = list(self.sessions)
        for view in views:
            view.close()
        self._thread = None
        self._bound_port = None

    def __enter__(self) -> "Dashboard":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- internals ----------------------------------------------------------------------------

    def _forget(self, view: SessionView) -> None:
        with self._sessions_lock:
            if view in self.sessions:
                self.sessions.remove(view)

    def _origins(self, port: int) -> list[str]:
        if self.allow_websocket_origin:
            return self.allow_websocket_origin
        hosts = dict.fromkeys([self.host, "localhost", "127.0.0.1"])
        if self.host in ("0.0.0.0", "::", ""):
            hosts.update(dict.fromkeys([socket.gethostname()]))
        return [f"{h}:{port}" for h in hosts if h and h not in ("0.0.0.0", "::")]

    def _run(self, port: int) -> None:
        from bokeh.application import Application
        from bokeh.application.handlers.function import FunctionHandler
        from bokeh.server.server import Server
        from tornado.ioloop import IOLoop

        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        io_loop = IOLoop.current()
        try:
            server = Server(
                {"/": Application(FunctionHandler(self.app))},
                io_loop=io_loop,
                address=self.host,
                port=port,
                allow_websocket_origin=self._origins(port),
                **self.server_kwargs,
            )
            server.start()
        except BaseException as exc:  # port in use, bad origin, ...
            self._error = exc
            self._started.set()
            loop.close()
            return
        self._server, self._io_loop, self._bound_port = server, io_loop, server.port
        self._started.set()
        try:
            io_loop.start()
        finally:
            self._io_loop = None
            self._server = None
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            except Exception:
                pass
            loop.close()

    def _shutdown(self) -> None:
        server, loop = self._server, self._io_loop
        try:
            if server is not None:
                server.stop(wait=False)
        except Exception:
            logger.exception("stopping the dashboard server")
        if loop is not None:
            loop.stop()
