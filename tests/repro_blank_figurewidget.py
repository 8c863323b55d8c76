"""Reproduction (issue 17): FigureWidgets left blank (plotly's default axes, no trace) after one Run All on a loaded machine.

16 FigureWidgets, half with their trace in the constructor, half with a trace added after; Run All in JupyterLab in
headless Chromium; then, per figure, whether the page drew its trace, and the kernel's record of the trace deltas each
view sent back after `Plotly.newPlot` (its number of traces). Stop 23 (i17), load 5.3-9.8 on 2 cores (other jobs, twice
plus two busy loops): quiet-ish runs all drawn; at load ~7-9, 6 of 12 and 4 of 16 blank, both ways of building alike;
the blank views sent deltas for 0 traces: the page's model had no trace when the view rendered, i.e. the update
carrying the data (`_widget_data` for a constructor, `_py2js_addTraces` for an added trace; plotly opens the comm with
`_widget_data=[]` and sends the data in a later message) did not reach the page's model in time. Not fixed.

    .venv/bin/python tests/repro_blank_figurewidget.py [N]     # N pairs of figures (default 8)
"""
import json, sys, os, time, tempfile
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
import nbformat
from conftest import chromium, jupyter_lab
N = int(sys.argv[1]) if len(sys.argv) > 1 else 8
cells = ["import plotly.graph_objects as go, numpy as np, ipywidgets as W, time, json\n_d = {}\ndef _rec(f, name): f.observe(lambda ch: _d.setdefault(name, []).append(None if not ch['new'] else len(ch['new'].get('trace_deltas', []))), '_js2py_traceDeltas')"]
for i in range(N):
    cells.append(f"f{i}c = go.FigureWidget(go.Scatter(x=[1, 2, 3], y=[{i}, 1, 2]))   # data in the constructor\n_rec(f{i}c, '{i}c'); W.VBox([f{i}c])")
    cells.append(f"f{i}a = go.FigureWidget(); f{i}a.add_scatter(x=[1, 2, 3], y=[{i}, 2, 1])   # a trace added after\n_rec(f{i}a, '{i}a'); W.VBox([f{i}a])")
cells.append('print(json.dumps(_d))')
DRAWN = """() => Array.from(document.querySelectorAll('.jp-Cell')).slice(1).map(c => { const g = c.querySelector('.js-plotly-plot'); return g ? !!(g._fullData && g._fullData.some(t => t.x && t.x.length > 0)) : null; })"""
with tempfile.TemporaryDirectory(prefix='blank-') as work, chromium() as browser:
    d = Path(work); nb = nbformat.v4.new_notebook(); nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]; nb.metadata['kernelspec'] = {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'}
    nbformat.write(nb, d/'b.ipynb')
    with jupyter_lab(d) as (url, proc):
        from test_widgets_browser import Notebook
        pages = []
        orig = browser.new_page
        def np_(**kw): p = orig(**kw); pages.append(p); return p
        browser.new_page = np_
        try: nbk = Notebook(browser, url, 'b', Path(work)); errs = nbk.errors
        except AssertionError as e: print('Notebook:', str(e)[:150]); errs = []
        page = pages[0]
        page.wait_for_timeout(5000)
        d = page.evaluate(DRAWN)
        print('drawn (constructor, added) per pair:', [(d[2*i], d[2*i + 1]) for i in range(len(d)//2)], 'n figs', len(d), 'errors', errs, 'load', os.getloadavg())
        page.screenshot(path=os.path.join(os.environ.get('TMPDIR', '/tmp'), 'blank-figurewidgets.png'), full_page=True)
        cell = page.locator('.jp-Notebook .jp-Cell').last
        cell.locator('.jp-InputArea-editor').click(); page.keyboard.press('Control+Enter'); page.wait_for_timeout(3000)
        print('kernel: trace deltas received per figure (len of each message):', cell.locator('.jp-OutputArea-output').last.inner_text())
