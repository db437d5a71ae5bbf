"""Every notebook under notebooks/ runs top to bottom, as a person would run it.

Each notebook is executed with nbclient on the ``python3`` kernel, which must be this
virtualenv's interpreter (checked first), in a fresh temporary working folder (a notebook must
not write into the repository), with a timeout per cell. Any error fails the test and names the
cell. Set ``DRIFTSTREAM_NOTEBOOK_OUT=<dir>`` to keep the executed copies (with outputs).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT = 120  # seconds per cell; every notebook is meant to finish well within 60 s
KERNEL = "python3"


def _repo_state() -> str:
    """Untracked and modified paths under notebooks/ and examples/, to check a notebook wrote
    nothing there (other folders may change under concurrent work, so they are not compared)."""
    try:
        out = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=all", "--", "notebooks", "examples"],
            cwd=ROOT, capture_output=True, text=True, timeout=30, check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    return "\n".join(sorted(out.splitlines()))


@pytest.fixture(scope="module")
def kernel_name() -> str:
    """The ``python3`` kernel, resolving to this interpreter (installed into sys.prefix if not)."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    def resolves_here() -> bool:
        try:
            argv = KernelSpecManager().get_kernel_spec(KERNEL).argv
        except NoSuchKernel:
            return False
        # jupyter_client runs a bare "python" as sys.executable, the interpreter running nbclient
        exe = argv[0]
        return exe in ("python", "python3", f"python{sys.version_info[0]}.{sys.version_info[1]}") or (
            Path(exe).resolve() == Path(sys.executable).resolve()
        )

    if not resolves_here():
        subprocess.run(
            [sys.executable, "-m", "ipykernel", "install", "--sys-prefix", "--name", KERNEL],
            check=True, capture_output=True, timeout=120,
        )
    assert resolves_here(), f"kernel {KERNEL!r} does not run {sys.executable}"
    return KERNEL


def test_there_are_notebooks():
    names = {p.stem for p in NOTEBOOKS}
    assert {"quickstart", "kubernetes", "replay_benchmark"} <= names, names


def test_notebooks_are_committed_without_outputs():
    for path in NOTEBOOKS:
        book = nbformat.read(path, as_version=4)
        for i, cell in enumerate(book.cells):
            if cell.cell_type == "code":
                assert not cell.get("outputs") and cell.get("execution_count") is None, f"{path.name}: cell {i} has outputs"


def test_kernel_is_this_virtualenv(kernel_name, tmp_path):
    book = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import sys; print(sys.prefix)")])
    nbclient.NotebookClient(book, kernel_name=kernel_name, timeout=60, resources={"metadata": {"path": str(tmp_path)}}).execute()
    printed = book.cells[0].outputs[0]["text"].strip()
    assert Path(printed).resolve() == Path(sys.prefix).resolve(), (printed, sys.prefix)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path, kernel_name: str, tmp_path: Path, monkeypatch):
    book = nbformat.read(path, as_version=4)
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the notebooks' temporary folders land here too
    before = _repo_state()
    client = nbclient.NotebookClient(
        book, kernel_name=kernel_name, timeout=CELL_TIMEOUT, allow_errors=False,
        resources={"metadata": {"path": str(workdir)}},
    )
    t0 = time.monotonic()
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as exc:
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))  # IPython's coloured traceback
        pytest.fail(f"{path.name} failed:\n{text[-6000:]}", pytrace=False)
    finally:
        out_dir = os.environ.get("DRIFTSTREAM_NOTEBOOK_OUT")
        if out_dir:
            Path(out_dir).mkdir(parents=True, exist_ok=True)
            nbformat.write(book, Path(out_dir) / path.name)
    took = time.monotonic() - t0
    print(f"{path.name}: {took:.1f} s")
    errors = [
        (i, out.get("ename"), out.get("evalue"))
        for i, cell in enumerate(book.cells) if cell.cell_type == "code"
        for out in cell.get("outputs", []) if out.get("output_type") == "error"
    ]
    assert errors == [], errors
    assert _repo_state() == before, f"{path.name} wrote into the repository"
