"""Reproduction (issue 17): FigureWidgets left blank (plotly's default axes, no trace) after one Run All on a loaded machine.

16 FigureWidgets, half with their trace in the constructor, half with a trace added after; Run All in JupyterLab in
headless Chromium; then, per figure, whether the page drew its trace, and the kernel's record of the trace deltas each
view sent back after `Plotly.newPlot` (its number of traces). Stop 23 (i17), load 5.3-9.8 on 2 cores (other jobs, twice
plus two busy loops): quiet-ish runs all drawn; at load ~7-9, 6 of 12 and 4 of 16 blank, both ways of building alike;
the blank views sent deltas for 0 traces: the page's model had no trace when the view rendered, i.e. the update
carrying the data (`_widget_data` for a constructor, `_py2js_addTraces` for an added trace; plotly opens the comm with
`_widget_data=[]` and sends the data in a later message) did not reach the page's model in time.
Cause (i17, second stop): anywidget gives a model 2 s to load its module, then drops every message it receives
(`_handle_comm_msg` awaits the runtime's `ready`, which rejects after `AbortSignal.timeout(2000)`), and plotly's 5 MB
module is imported afresh per figure. With `--helper` the figures are built by `robustify_nb.core.figure_widget` (the
fix, see 00_core); the last cell changes every figure from the kernel (twice: Run All, then a click) and the page is
asked how many show the second change; the re-sends per figure (`_resent`) are printed.

    .venv/bin/python tests/repro_blank_figurewidget.py [N] [--helper]    # N pairs of figures (default 8)
    REPRO_CPU_THROTTLE=4 .venv/bin/python tests/repro_blank_figurewidget.py   # the page's CPU 4x slower (DevTools throttling)
"""
import json, sys, os, time, tempfile
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
import nbformat
from conftest import chromium, jupyter_lab
args = [a for a in sys.argv[1:] if not a.startswith('--')]
N = int(args[0]) if args else 8
HELPER = '--helper' in sys.argv
THROTTLE = float(os.environ.get('REPRO_CPU_THROTTLE', '1'))   # >1: Chromium's CPU slowed that many times (DevTools' CPU throttling)
FW = 'figure_widget' if HELPER else 'go.FigureWidget'
cells = ["import plotly.graph_objects as go, numpy as np, ipywidgets as W, time, json\nfrom robustify_nb.core import figure_widget\n_d = {}\ndef _rec(f, name): f.observe(lambda ch: _d.setdefault(name, []).append(None if not ch['new'] else len(ch['new'].get('trace_deltas', []))), '_js2py_traceDeltas')"]
for i in range(N):
    cells.append(f"f{i}c = {FW}(go.Scatter(x=[1, 2, 3], y=[{i}, 1, 2]))   # data in the constructor\n_rec(f{i}c, '{i}c'); W.VBox([f{i}c])")
    cells.append(f"f{i}a = {FW}(); f{i}a.add_scatter(x=[1, 2, 3], y=[{i}, 2, 1])   # a trace added after\n_rec(f{i}a, '{i}a'); W.VBox([f{i}a])")
cells.append('_n = globals().get("_n", 0) + 1\nfor k, v in list(globals().items()):\n    if re.fullmatch(r"f\\d+[ca]", k): v.data[0].y = [100 + _n]*3   # every figure changed: does the page follow?\nprint(json.dumps(_d)); print(json.dumps({k: getattr(v, "_resent", None) for k, v in globals().items() if re.fullmatch(r"f\\d+[ca]", k)}))')
cells[0] = cells[0].replace('import plotly', 'import re, plotly')
DRAWN = """() => Array.from(document.querySelectorAll('.jp-Cell')).slice(1).map(c => { const g = c.querySelector('.js-plotly-plot'); return g ? !!(g._fullData && g._fullData.some(t => t.x && t.x.length > 0)) : null; })"""
with tempfile.TemporaryDirectory(prefix='blank-') as work, chromium() as browser:
    d = Path(work); nb = nbformat.v4.new_notebook(); nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]; nb.metadata['kernelspec'] = {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'}
    nbformat.write(nb, d/'b.ipynb')
    with jupyter_lab(d) as (url, proc):
        from test_widgets_browser import Notebook
        pages, console = [], []
        orig = browser.new_page
        def np_(**kw):
            p = orig(**kw); pages.append(p)
            p.on('console', lambda m: console.append(m.text[:300]) if m.type == 'error' else None)
            p.on('pageerror', lambda e: console.append(f'page error: {str(e)[:300]}'))
            if THROTTLE > 1: p.context.new_cdp_session(p).send('Emulation.setCPUThrottlingRate', {'rate': THROTTLE})
            return p
        browser.new_page = np_
        try: nbk = Notebook(browser, url, 'b', Path(work)); errs = nbk.errors
        except AssertionError as e: print('Notebook:', str(e)[:150]); errs = []
        page = pages[0]
        page.wait_for_timeout(5000)
        d = page.evaluate(DRAWN)
        print('helper' if HELPER else 'go.FigureWidget', 'drawn (constructor, added) per pair:', [(d[2*i], d[2*i + 1]) for i in range(len(d)//2)], 'n figs', len(d), 'blank', sum(v is False for v in d), 'errors', errs, 'load', os.getloadavg(), 'throttle', THROTTLE)
        page.screenshot(path=os.path.join(os.environ.get('TMPDIR', '/tmp'), 'blank-figurewidgets.png'), full_page=True)
        cell = page.locator('.jp-Notebook .jp-Cell').last
        cell.locator('.jp-InputArea-editor').click(); page.keyboard.press('Control+Enter'); page.wait_for_timeout(3000)
        print('kernel: trace deltas received per figure (len of each message), then re-sends per figure:', cell.locator('.jp-OutputArea').last.inner_text())
        live = page.evaluate("() => Array.from(document.querySelectorAll('.js-plotly-plot')).filter(g => g._fullData && g._fullData[0] && g._fullData[0].y && g._fullData[0].y[0] == 102).length")
        print('figures showing the kernel\'s second change (y = 102) 3 s after it:', live, 'of', 2*N)
        d = page.evaluate(DRAWN)
        print('blank at the end (8 s after the first count):', sum(v is False for v in d), 'of', len(d), '; console errors:', console[:5])
