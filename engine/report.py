"""A self-contained static HTML report built from the Parquet results of a monitor.

``driftstream report RESULTS_DIR -o report.html`` reads the datasets ``<RESULTS_DIR>/<kind>/``
(``stats``, ``drift``, ``outliers``, ``alerts``, and ``health`` when present; any may be
missing) and draws the plots of the live dashboard (:mod:`driftstream.engine.dashboard`) into
one HTML file with BokehJS inlined: it opens without a server and without network access.

Examples
--------
>>> import argparse
>>> parser = argparse.ArgumentParser(prog="driftstream")
>>> _ = register_cli(parser.add_subparsers(dest="command"))
>>> args = parser.parse_args(["report", "results", "-o", "out.html"])
>>> (args.results_dir, args.output, args.func is _cli)
('results', 'out.html', True)
"""

from __future__ import annotations

import argparse
import html
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd
from bokeh.embed import file_html
from bokeh.layouts import column, row
from bokeh.models import ColumnDataSource, CustomJS, Div, Range1d, Select
from bokeh.resources import INLINE
from tqdm.auto import tqdm

from . import dashboard as D

KINDS = ("stats", "drift", "outliers", "alerts", "health")
TABLE_ROWS = 500


def read_results(results_dir: str | Path, kinds=KINDS) -> dict[str, pd.DataFrame]:
    """``{kind: DataFrame}`` for every dataset present under ``results_dir`` (empty ones skipped).

    Files are read one by one and concatenated, so files whose schemas differ (a column that
    is all-null in one micro-batch and typed in the next) still combine; hive-style
    ``key=value`` folders become columns.
    """
    root = Path(results_dir)
    frames: dict[str, pd.DataFrame] = {}
    for kind in kinds:
        path = root / kind
        files = [path] if path.is_file() else sorted(path.rglob("*.parquet")) if path.is_dir() else []
        parts = []
        for file in files:
            df = pd.read_parquet(file)
            for folder in file.relative_to(path).parts[:-1] if file != path else ():
                if "=" in folder:
                    key, value = folder.split("=", 1)
                    if key not in df:
                        df[key] = value
            if len(df):
                parts.append(df)
        if parts:
            frames[kind] = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    return frames


def _records(df: pd.DataFrame | None) -> list[dict[str, Any]]:
    if df is None or not len(df):
        return []
    out = df.to_dict("records")
    for rec in out:  # pandas hands missing values out as NaN / NaT / pd.NA
        for k, v in rec.items():
            if v is pd.NaT or v is pd.NA:
                rec[k] = None
    return out


def _sort_time(df: pd.DataFrame | None, column: str) -> pd.DataFrame | None:
    if df is None or column not in df:
        return df
    key = df[column].map(D.to_ms)
    return df.assign(_t=key).sort_values("_t", kind="stable").drop(columns="_t")


def _summary_cards(frames: Mapping[str, pd.DataFrame], features: list[str]) -> str:
    stats = frames.get("stats")
    drift = frames.get("drift")
    items = [("features", str(len(features)))]
    if stats is not None:
        ends = stats["window_end"].map(D.to_ms)
        starts = stats["window_start"].map(D.to_ms)
        items.append(("windows", f"{stats['window_start'].nunique():,}"))
        items.append(("from", D.fmt_time(float(starts.min()))))
        items.append(("to", D.fmt_time(float(ends.max()))))
    if drift is not None and "drift" in drift:
        flagged = drift[drift["drift"].astype(bool)]
        items.append(("drift results", f"{int(len(flagged)):,} of {len(drift):,}"))
        if len(flagged):
            items.append(("drifting features", ", ".join(sorted(map(str, flagged["feature"].unique()))[:6])))
    outliers = frames.get("outliers")
    if outliers is not None:
        n = int(outliers["is_outlier"].astype(bool).sum()) if "is_outlier" in outliers else len(outliers)
        items.append(("outliers flagged", f"{n:,}"))
    alerts = frames.get("alerts")
    items.append(("alerts", f"{0 if alerts is None else len(alerts):,}"))
    return D._card_row(items)


def _feature_panel(feature: str, stats: list[dict], drift: list[dict], baseline: Any, x_range, width_note: str = ""):
    """Statistics, latest histogram and drift of one feature."""
    rows = [D.stats_row(r) for r in stats]
    stats_src = ColumnDataSource(D.columns_of(rows, D.STATS_COLUMNS))
    stats_fig = D.stats_figure(stats_src, x_range=x_range, name=f"stats_plot_{feature}")
    latest = max(stats, key=lambda r: D.to_ms(r.get("window_end"))) if stats else None
    categorical = latest is not None and latest.get("type") == "categorical"
    stats_fig.title.text = f"Windowed statistics of {feature}" + (" (categorical: see the category shares)" if categorical else "")

    hist_cols = D.histogram_columns(latest, baseline)
    hist_src = ColumnDataSource(hist_cols)
    hist_fig = D.histogram_figure(hist_src, name=f"histogram_plot_{feature}")
    D.fit_histogram_axes(hist_fig, hist_cols)
    hist_fig.y_range = Range1d(0, hist_fig.y_range.end, bounds=(0, None))
    when = D.fmt_time(D.to_ms(latest.get("window_end"))) if latest else "no window"
    hist_fig.title.text = f"Last window vs baseline ({when})"

    alert_src = ColumnDataSource({k: [] for k in D.DRIFT_COLUMNS})
    drift_fig = D.drift_figure(alert_src, x_range=x_range, name=f"drift_plot_{feature}")
    per_det: dict[str, list[dict]] = {}
    for rec in drift:
        r = D.drift_row(rec)
        per_det.setdefault(r["detector"], []).append(r)
    alerts = []
    for i, det in enumerate(sorted(per_det)):
        src = ColumnDataSource(D.columns_of(per_det[det], D.DRIFT_COLUMNS))
        D.add_detector_renderers(drift_fig, src, det, D.PALETTE[i % len(D.PALETTE)])
        alerts.extend(r for r in per_det[det] if r["drift"])
    alert_src.data = D.columns_of(alerts, D.DRIFT_COLUMNS)
    if not per_det:
        drift_fig.title.text = "Drift statistic per detector: no drift results for this feature"

    return column(
        row(stats_fig, hist_fig, sizing_mode="stretch_width"),
        D.drift_scale_toggle(drift_fig, name=f"drift_scale_{feature}"),
        row(drift_fig, sizing_mode="stretch_width"),
        sizing_mode="stretch_width",
        name=f"feature_panel_{feature}",
    )


def _outlier_rates(stats: pd.DataFrame | None, outliers: pd.DataFrame | None) -> dict[str, list]:
    """Per window: share of the window's requests flagged by any outlier detector."""
    out: dict[str, list] = {"t": [], "rate": [], "flagged": [], "requests": []}
    if stats is None or not len(stats):
        return out
    s = pd.DataFrame({
        "ws": stats["window_start"].map(D.to_ms),
        "we": stats["window_end"].map(D.to_ms),
        "n": pd.to_numeric(stats.get("count"), errors="coerce").fillna(0)
        + pd.to_numeric(stats.get("missing", 0), errors="coerce").fillna(0),
    })
    windows = s.groupby(["ws", "we"], sort=True)["n"].max().reset_index()
    if outliers is not None and len(outliers):
        o = outliers
        if "is_outlier" in o:
            o = o[o["is_outlier"].astype(bool)]
        ts = o["ts"].map(D.to_ms).to_numpy(dtype=float)
        ids = o["request_id"].astype(str).to_numpy(dtype=object)
        order = np.argsort(ts, kind="stable")
        ts, ids = ts[order], ids[order]
    else:
        ts, ids = np.empty(0), np.empty(0, dtype=object)
    for ws, we, n in windows.itertuples(index=False):
        if n <= 0:
            continue
        lo, hi = np.searchsorted(ts, ws, "left"), np.searchsorted(ts, we, "left")
        k = float(len(set(ids[lo:hi]))) if hi > lo else 0.0
        out["t"].append(we)
        out["rate"].append(k / n)
        out["flagged"].append(k)
        out["requests"].append(float(n))
    return out


def _health_panel(health: pd.DataFrame):
    rows = [D.health_row(r) for r in _records(_sort_time(health, "emitted_at"))]
    src = ColumnDataSource(D.columns_of(rows, D.HEALTH_COLUMNS))
    figs = D.health_figures(src)
    parts: dict[str, dict[str, list]] = {}
    for r in rows:
        for part, lag in r["_lag"].items():
            d = parts.setdefault(part, {"t": [], "lag": []})
            d["t"].append(r["t"])
            d["lag"].append(lag)
    for i, part in enumerate(sorted(parts, key=lambda p: (len(p), p))):
        D.add_partition_renderer(figs[1], ColumnDataSource(parts[part]), part, D.PALETTE[i % len(D.PALETTE)])
    if not parts:
        figs[1].title.text = "Consumer lag per partition (no partitions reported)"
    return column(
        Div(text=D.section_html("Pipeline health"), sizing_mode="stretch_width"),
        Div(text=D.health_summary_html(rows[-1] if rows else None), sizing_mode="stretch_width"),
        row(*figs[:2], sizing_mode="stretch_width"),
        row(*figs[2:], sizing_mode="stretch_width"),
        sizing_mode="stretch_width",
    )


def build_report(
    results_dir: str | Path,
    output_html: str | Path,
    title: str | None = None,
    baseline_histograms: Mapping[str, Any] | None = None,
    model: str | None = None,
    progress: bool = True,
) -> Path:
    """Write the static report of the results under ``results_dir`` to ``output_html``.

    ``baseline_histograms`` (per feature, proportions in the stats records' histogram layout)
    draws the baseline behind each feature's last histogram; ``model`` keeps one model's
    results when several share the folder. Returns the path written.
    """
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise FileNotFoundError(f"no results folder {results_dir}: pass the folder the monitor's Parquet sink writes to")
    frames = read_results(results_dir)
    if model is not None:
        frames = {k: df[df["model"] == model] if "model" in df else df for k, df in frames.items()}
        frames = {k: df for k, df in frames.items() if len(df)}
    if not frames:
        raise FileNotFoundError(
            f"no results under {results_dir}: expected Parquet datasets in {', '.join(f'{k}/' for k in KINDS)}"
        )
    stats, drift = _sort_time(frames.get("stats"), "window_end"), _sort_time(frames.get("drift"), "window_end")
    outliers, alerts, health = frames.get("outliers"), frames.get("alerts"), frames.get("health")
    models = sorted({str(m) for df in frames.values() if "model" in df for m in df["model"].dropna().unique()})
    baseline = dict(baseline_histograms or {})

    features: list[str] = []
    for df in (stats, drift):
        if df is not None:
            features.extend(str(f) for f in df["feature"].unique() if str(f) not in features)
    stats_by = {f: _records(g) for f, g in stats.groupby("feature", sort=False)} if stats is not None else {}
    drift_by = {f: _records(g) for f, g in drift.groupby("feature", sort=False)} if drift is not None else {}

    title = title or f"driftstream report · {', '.join(models) or results_dir.name}"
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts: list[Any] = [
        Div(text=D.header_html(html.escape(title), f"built {generated} from {html.escape(str(results_dir))}"), sizing_mode="stretch_width"),
        Div(text=_summary_cards(frames, features), sizing_mode="stretch_width"),
    ]
    shared_x = None
    steps: list[tuple[str, Callable[[], Any]]] = []
    panels: list[Any] = []

    def feature_step(feature: str) -> Callable[[], Any]:
        def build():
            nonlocal shared_x
            panel = _feature_panel(feature, stats_by.get(feature, []), drift_by.get(feature, []), baseline.get(feature), shared_x)
            if shared_x is None:
                shared_x = panel.children[0].children[0].x_range
            panel.visible = not panels
            panels.append(panel)
            return panel
        return build

    for feature in features:
        steps.append((f"feature {feature}", feature_step(feature)))

    def outlier_step():
        src = ColumnDataSource(_outlier_rates(stats, outliers))
        fig = D.outlier_figure(src, x_range=shared_x)
        latest: list[dict] = []
        if outliers is not None:
            o = outliers[outliers["is_outlier"].astype(bool)] if "is_outlier" in outliers else outliers
            o = _sort_time(o, "ts")
            latest = [D.outlier_row(r) for r in _records(o.tail(TABLE_ROWS))][::-1]
        table = D.outlier_table(ColumnDataSource(D.columns_of(latest, D.OUTLIER_COLUMNS)), height=300)
        return column(
            Div(text=D.section_html("Outliers"), sizing_mode="stretch_width"),
            row(fig, column(Div(text=f"<b>Latest {len(latest)} outliers</b>"), table, sizing_mode="stretch_width"),
                sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )

    def alerts_step():
        rows = [D.alert_row(r) for r in _records(_sort_time(alerts, "window_end"))][::-1][:TABLE_ROWS] if alerts is not None else []
        table = D.alert_table(ColumnDataSource(D.columns_of(rows, D.ALERT_COLUMNS)), height=min(300, 40 + 25 * max(len(rows), 2)))
        return column(
            Div(text=D.section_html(f"Alerts ({0 if alerts is None else len(alerts)})"), sizing_mode="stretch_width"),
            table if rows else Div(text="No alerts were raised."),
            sizing_mode="stretch_width",
        )

    steps.append(("outliers", outlier_step))
    steps.append(("alerts", alerts_step))
    if health is not None:
        steps.append(("health", lambda: _health_panel(health)))

    built: dict[str, Any] = {}
    for name, step in tqdm(steps, desc="report", unit="plot", disable=not progress, leave=False):
        built[name] = step()

    if panels:
        select = Select(title="Feature", value=features[0], options=features, width=260, name="feature_select")
        select.js_on_change("value", CustomJS(args=dict(panels=panels, features=features), code="""
            const i = features.indexOf(cb_obj.value);
            panels.forEach((p, j) => { p.visible = (j === i); });
        """))
        parts += [Div(text=D.section_html("Features"), sizing_mode="stretch_width"), select, *panels]
    else:
        parts.append(Div(text="No windowed statistics or drift results in this folder."))
    parts += [built["outliers"], built["alerts"]]
    if "health" in built:
        parts.append(built["health"])

    layout = column(*parts, sizing_mode="stretch_width", margin=(4, 16, 16, 16), name="report")
    page = file_html(layout, resources=INLINE, title=title)
    output = Path(output_html)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(page, encoding="utf-8")
    return output


def _cli(args: argparse.Namespace) -> int:
    try:
        baseline = None
        if args.baseline:
            from driftstream.detectors.baseline import Baseline

            baseline = D.baseline_histograms_of(Baseline.load(args.baseline))
        path = build_report(args.results_dir, args.output, title=args.title, model=args.model, baseline_histograms=baseline)
    except FileNotFoundError as exc:
        print(f"driftstream report: {exc}", file=sys.stderr)
        return 2
    size = path.stat().st_size / 1e6
    print(f"report written to {path} ({size:.1f} MB, self-contained: open it in any browser)")
    return 0


def register_cli(subparsers) -> argparse.ArgumentParser:
    """Add ``report RESULTS_DIR -o report.html`` to the ``driftstream`` command line."""
    parser = subparsers.add_parser(
        "report",
        help="build a self-contained HTML report from Parquet results",
        description="Build a self-contained HTML report (no server, no network) from the Parquet results "
        "a monitor wrote under RESULTS_DIR/<kind>/.",
    )
    parser.add_argument("results_dir", metavar="RESULTS_DIR", help="folder holding stats/, drift/, outliers/, alerts/ (any may be missing)")
    parser.add_argument("-o", "--output", default="report.html", help="HTML file to write (default: report.html)")
    parser.add_argument("--title", default=None, help="title of the report")
    parser.add_argument("--model", default=None, help="only this model's results")
    parser.add_argument("--baseline", default=None, metavar="BASELINE_DIR",
                        help="baseline folder (driftstream baseline -o ...) to draw behind the histograms")
    parser.set_defaults(func=_cli)
    return parser


__all__ = ["build_report", "read_results", "register_cli"]
