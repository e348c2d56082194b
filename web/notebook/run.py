"""Runs viewer.ipynb top to bottom in a kernel without a browser (as nbconvert or a CI would)
and fails on any error; the browser's side is tested by web/tests/notebook.test.mjs.

    python3 web/notebook/run.py        (needs: pip install nbclient ipykernel ./web/python)
"""
import pathlib
import sys

import nbformat
from nbclient import NotebookClient

here = pathlib.Path(__file__).resolve().parent
notebook = nbformat.read(here / "viewer.ipynb", as_version=4)
NotebookClient(notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(here)}}).execute()
outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
widgets = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
if len(widgets) != 2:
    sys.exit(f"expected two viewer widgets, found {len(widgets)}")
text = "".join(o.get("text", "") for o in outputs)
if "no grid yet" not in text:
    sys.exit(f"expected the grid cell to say no browser drew a grid, got: {text}")
print(f"{here / 'viewer.ipynb'}: ran top to bottom, {len(widgets)} viewer widgets")
