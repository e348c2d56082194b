"""Runs viewer.ipynb top to bottom (as a reader would) and fails on any error.

    python3 web/notebook/run.py        (needs: pip install nbclient ipykernel)
"""
import pathlib
import sys

import nbformat
from nbclient import NotebookClient

here = pathlib.Path(__file__).resolve().parent
notebook = nbformat.read(here / "viewer.ipynb", as_version=4)
NotebookClient(notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(here)}}).execute()
outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
iframes = [o for o in outputs if "text/html" in o.get("data", {}) and "<iframe" in o["data"]["text/html"]]
if len(iframes) != 2:
    sys.exit(f"expected two embedded viewers, found {len(iframes)}")
print(f"{here / 'viewer.ipynb'}: ran top to bottom, {len(iframes)} viewers embedded")
