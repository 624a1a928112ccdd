"""The example notebook, executed by a real Jupyter kernel (nbclient): evolve on a LocalCluster inside
the kernel's running event loop, the archive as a DataFrame, validation of the winner, a plot."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def _text(cell) -> str:
    parts = []
    for output in cell.get("outputs", []):
        parts.append(output.get("text", ""))
        parts.append(output.get("data", {}).get("text/plain", ""))
    return "".join(parts)


def test_example_notebook_runs_and_its_outputs_hold(tmp_path):
    examples = tmp_path / "examples"
    examples.mkdir()
    for folder in ("configs", "fitness"):
        (tmp_path / folder).symlink_to(ROOT / folder)
    shutil.copy(ROOT / "examples/quickstart.ipynb", examples)
    notebook = nbformat.read(examples / "quickstart.ipynb", as_version=4)
    NotebookClient(notebook, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(examples)}}).execute()
    cells = [c for c in notebook.cells if c.cell_type == "code"]
    errors = [o for c in cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors
    assert "Run('runs/notebook-quickstart')" in _text(cells[1])
    table = next(o for o in cells[2].outputs if "text/html" in o.get("data", {}))["data"]["text/html"]
    assert "gene.core" in table and "fitness" in table
    assert table.count("<tr>") - 1 >= 6  # at least one generation of 6 genomes (a header row besides)
    assert "best genome" in _text(cells[3]) and "'operator': 'random'" in _text(cells[3])  # lineage to gen 1
    assert "validated" in _text(cells[4]) and "over 3 fresh seeds" in _text(cells[4])
    assert any("image/png" in o.get("data", {}) for o in cells[5].outputs)  # the plot
    assert (examples / "runs/notebook-quickstart/archive.sqlite").is_file()
