"""The example notebook runs from top to bottom (nbclient where installed; else its code cells in
order) on a quarter-size phantom, and writes its projections."""
import json
import os
import pathlib

import pytest

NOTEBOOK = pathlib.Path(__file__).resolve().parents[1] / "examples" / "convolution.ipynb"


def test_notebook_runs(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.setenv("CUDAFFT_NOTEBOOK_SCALE", "4")
    monkeypatch.setenv("CUDAFFT_NOTEBOOK_OUT", str(tmp_path))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    try:
        import nbclient
        import nbformat
    except ImportError:
        nbclient = None
    if nbclient is not None:
        notebook = nbformat.read(NOTEBOOK, as_version=4)
        nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                resources={"metadata": {"path": str(tmp_path)}}).execute()
    else:
        namespace = {}
        for cell in json.loads(NOTEBOOK.read_text())["cells"]:
            if cell["cell_type"] == "code":
                exec(compile("".join(cell["source"]), str(NOTEBOOK), "exec"), namespace)
    written = sorted(p.name for p in tmp_path.glob("*_xy_zy.png"))
    assert written == ["full_xy_zy.png", "phantom_xy_zy.png", "same_xy_zy.png", "valid_xy_zy.png"]
    assert all(os.path.getsize(tmp_path / name) > 1000 for name in written)
