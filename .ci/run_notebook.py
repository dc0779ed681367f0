"""Executes a notebook top to bottom in a fresh kernel; any cell that raises fails CI.

Usage: python .ci/run_notebook.py NOTEBOOK.ipynb (with nbclient, nbformat and ipykernel
installed in the same environment as the package under test).
"""

import sys

import nbclient
import nbformat

notebook = nbformat.read(sys.argv[1], as_version=4)
nbclient.NotebookClient(notebook, timeout=900, kernel_name="python3").execute()
cells = sum(cell.cell_type == "code" for cell in notebook.cells)
print(f"notebook {sys.argv[1]}: {cells} code cells ran without an error")
