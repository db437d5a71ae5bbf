"""``Monitor.dashboard()`` inline in real Jupyter front-ends, driven in headless Chromium.

A JupyterLab server (with Notebook 7, nbclassic and the jupyter_bokeh extension, as a user installs them)
runs on a free loopback port with a token. For each front-end the browser opens a notebook that
starts a Monitor on a replayed inference log (drift injected halfway) and calls
``monitor.dashboard()`` with no arguments, runs all cells through the front-end's own command,
and waits until the inline dashboard holds every window. This is what caught two bugs: without a
prior ``output_notebook()`` the call raised, and BokehJS came from a CDN (unreachable offline);
and the drift plot was laid out thousands of pixels wide once detectors were added live.
Screenshots: test-artifacts/jupyterlab-inline.png, notebook7-inline.png, classic-notebook-inline.png.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from test_monitor_dashboard import ARTIFACTS, B, browser_missing

pytest.importorskip("jupyterlab")
pytest.importorskip("jupyter_bokeh")
pytest.importorskip("notebook")
pytest.importorskip("nbclassic")
pytestmark = pytest.mark.skipif(browser_missing is not None, reason=browser_missing or "")

WINDOWS = 4  # 4,000 requests at 500/s of event time in 2 s windows, aligned on a window start

SETUP = '''\
import json
from pathlib import Path

from driftstream.detectors.baseline import Baseline
from driftstream.engine.monitor import Monitor
from driftstream.engine.workload import FEATURES, Workload, spec_dict
from driftstream.streams.sources import now_ms

workload = Workload(seed=0)
baseline = Baseline.fit(workload.training_frame(), {**FEATURES, "prediction": "numeric"})
start = (now_ms() // 2000 + 1) * 2000
records, truth = workload.requests(4000, start_ms=start, rate=500, drift_at=0.5)
Path("inference.jsonl").write_text("".join(json.dumps(r) + "\\n" for r in records))
spec = spec_dict(
    source={"kind": "replay", "path": "inference.jsonl", "rate": 1000},
    window={"size": "2s", "watermark": "1s", "idle_timeout": "2s"},
    sinks={"kafka": None, "parquet": None},
    dashboard={"enabled": False},
)
monitor = Monitor(spec, baseline=baseline).start()
'''

# per front-end: (URL path, JS true once the notebook's kernel is idle, JS running all cells)
LAB_IDLE = """
const w = window.jupyterapp && jupyterapp.shell.currentWidget;
const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
return (k && k.status === 'idle') ? 1 : 0;
"""
LAB_RUN_ALL = "jupyterapp.commands.execute('notebook:run-all-cells');"
CLASSIC_IDLE = """
const nb = window.Jupyter && Jupyter.notebook;
return (nb && nb.kernel && nb.kernel.is_connected() && Jupyter.notebook_list === undefined
        && document.querySelector('#kernel_indicator_icon.kernel_idle_icon')) ? 1 : 0;
"""
CLASSIC_RUN_ALL = "Jupyter.notebook.execute_all_cells();"
FRONTENDS = {
    "JupyterLab": ("lab/tree/{name}", LAB_IDLE, LAB_RUN_ALL, "jupyterlab-inline.png"),
    "Notebook 7": ("notebooks/{name}", LAB_IDLE, LAB_RUN_ALL, "notebook7-inline.png"),
    "classic notebook": ("nbclassic/notebooks/{name}", CLASSIC_IDLE, CLASSIC_RUN_ALL, "classic-notebook-inline.png"),
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _notebook(path: Path) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(SETUP), nbformat.v4.new_code_cell("monitor.dashboard()")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory):
    """A JupyterLab server on a free loopback port; yields (base URL, token, root folder)."""
    root = tmp_path_factory.mktemp("jupyter")
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(root / ".runtime"), "JUPYTER_CONFIG_DIR": str(root / ".config")}
    log = (root / "jupyter.log").open("wb")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "jupyter"), "lab", "--no-browser", "--allow-root", "--ip=127.0.0.1",
         f"--port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         "--LabApp.expose_app_in_browser=True", "--JupyterNotebookApp.expose_app_in_browser=True"],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"jupyter lab did not start: {(root / 'jupyter.log').read_text()[-2000:]}") from None
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}", token, root
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the server shuts its kernels down
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        log.close()


def _own_console_errors(errors: list[dict]) -> list[dict]:
    """Console errors not raised by the Jupyter front-end's own bundles (their noise is not ours)."""
    return [e for e in errors if "/static/lab/" not in e.get("message", "") and "/static/notebook/" not in e.get("message", "")]


@pytest.mark.parametrize("frontend", list(FRONTENDS))
def test_monitor_dashboard_inline(jupyter, frontend):
    """Did: in a real Jupyter front-end, ran a notebook whose last cell is ``monitor.dashboard()``.
    Checked: the inline dashboard (served from the kernel, origin = the notebook server found on
    its own) fills live with every window of the replay in the statistics plot, every numeric
    drift detector's line in the drift plot, the injected drift's alert; every plot is laid out
    within its box; the browser console shows no error of ours."""
    base, token, root = jupyter
    path, kernel_idle, run_all, shot = FRONTENDS[frontend]
    name = f"inline-{frontend.replace(' ', '-').lower()}.ipynb"
    _notebook(root / name)
    ARTIFACTS.mkdir(exist_ok=True)
    with B.Browser(width=1600, height=1400) as browser:
        browser.open(f"{base}/{path.format(name=name)}?token={token}")
        browser.wait_for(kernel_idle, 120, what=f"{frontend}: the notebook's kernel to be idle")
        browser.js(run_all)
        browser.wait_for(B.BOKEH_READY, 120, what="the inline dashboard's Bokeh document")
        browser.wait_until(lambda: (browser.js(B.model_length_js("stats_source")) or 0) >= WINDOWS, 90,
                           what="every window in the inline statistics plot")
        numeric = {"kl", "js", "wasserstein_hist", "ks", "psi"}
        # select the drifting feature, as a person would: the drift lines and alert markers follow
        browser.js("for (const d of Bokeh.documents) { const s = d.get_model_by_name('feature_select'); if (s) s.value = 'bmi'; }")
        browser.wait_until(lambda: (browser.js(B.model_length_js("drift_alert_source")) or 0) > 0, 60,
                           what="the injected drift's alert markers on the bmi drift plot")

        def full_drift_lines() -> int:
            lengths = browser.js(B.source_lengths_js("drift_plot")) or {}
            return sum(1 for k, v in lengths.items() if k != "drift_alert_markers" and v >= WINDOWS)

        # statistic + threshold line per numeric detector, each with every window
        browser.wait_until(lambda: full_drift_lines() >= 2 * len(numeric), 60, what="every numeric detector's drift line")
        layout = browser.js(B.plot_layout_js())
        assert {"stats_plot", "drift_plot", "outlier_plot"} <= set(layout or {}), layout
        assert B.badly_laid_out(layout) == {}, layout
        browser.js("const p = Bokeh.documents[0].get_model_by_name('drift_plot'); Bokeh.index.get_one(p).el.scrollIntoView();")
        time.sleep(1.0)
        errors = _own_console_errors(browser.console_errors())
        assert errors == [], errors
        browser.screenshot(ARTIFACTS / shot, full_page=False)
