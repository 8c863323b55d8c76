"""The documentation site as a reader sees it: pages built by the project's own pipeline (docs/nbdocs.py: `convert` then
`build_pages`, the Sphinx + myst-nb build `make docs` runs), served on 127.0.0.1 and opened in headless Chromium.

What is checked, each a thing that was broken once: no console error on any page (the theme logged 'Got invalid theme
mode'), formulas typeset by the site's own MathJax (the CDN is unreachable offline), the kernel-free α slider of the
WiSE-FT page changes its bars and marker when dragged (the frames were dropped), and a wide figure fits the content
column. The pages are small stand-ins built here (the real site needs the executed walkthrough, `make demo`); the α
figure is the library's own `plot_alpha_slider`.

Needs Debian's chromium (`make browsers` installs it; CI runs as root) and playwright from requirements.txt."""
import functools, http.server, importlib.util, json, threading
from pathlib import Path
import numpy as np, pandas as pd, pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location('nbdocs', ROOT/'docs/nbdocs.py'); nbdocs = importlib.util.module_from_spec(spec); spec.loader.exec_module(nbdocs)

def _md(src): return dict(cell_type='markdown', metadata={}, source=src)
def _fig_cell(fig):
    return dict(cell_type='code', metadata={}, execution_count=1, source='fig', outputs=[dict(output_type='execute_result', execution_count=1,
                metadata={}, data={'application/vnd.plotly.v1+json': json.loads(fig.to_json()), 'text/plain': 'Figure'})])
def _nb(*cells): return dict(metadata={'kernelspec': {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'}}, nbformat=4, nbformat_minor=5, cells=list(cells))

def _sweep():
    "A WiSE-FT sweep in the layout `sweep` returns: accuracy per α and evaluation set (numbers made up, distinct per α)."
    rows = [dict(kind='weight', alpha=a, domain=d, accuracy=acc) for a in np.round(np.linspace(0, 1, 11), 2)
            for d, acc in (('reference', 0.6 + 0.3*a), ('sketch', 0.5 + 0.4*a*(1 - a)), ('c:fog', 0.4 + 0.2*a))]
    return pd.DataFrame(rows)

@pytest.fixture(scope='module')
def site(tmp_path_factory):
    import plotly.graph_objects as go
    from robustify_nb.wiseft import plot_alpha_slider
    d = tmp_path_factory.mktemp('site')
    wide = go.Figure(go.Bar(x=[f'column {i}' for i in range(40)], y=list(range(40)))).update_layout(width=1600, height=300, title='wide')
    pages = {'index': _nb(_md('# robustify-nb\n\nThe weight-space ensemble $\\theta_\\alpha = (1-\\alpha)\\,\\theta_0 + \\alpha\\,\\theta_1$.\n\n'
                               '$$\\mathrm{mCE} = \\frac{1}{15}\\sum_c \\mathrm{CE}_c$$')),
             'wiseft': _nb(_md('# WiSE-FT\n\nDrag α.'), _fig_cell(plot_alpha_slider(_sweep()))),
             'wide': _nb(_md('# A wide figure'), _fig_cell(wide))}
    pages = {k: nbdocs.convert(v) for k, v in pages.items()}
    assert nbdocs.build_pages(pages, d/'src', d/'html') == 0
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a): pass
    handler = functools.partial(Quiet, directory=str(d/'html'))
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True); t.start()
    yield f'http://127.0.0.1:{srv.server_address[1]}'
    srv.shutdown(); srv.server_close()

def _open(browser, url):
    "A fresh page with its console errors, page errors and failed requests collected."
    page = browser.new_page(viewport={'width': 1280, 'height': 900})
    errors = []
    page.on('console', lambda m: errors.append(f'console {m.type}: {m.text}') if m.type == 'error' else None)
    page.on('pageerror', lambda e: errors.append(f'page error: {e}'))
    page.on('requestfailed', lambda r: errors.append(f'request failed: {r.url} {r.failure}'))
    page.goto(url, wait_until='networkidle')
    return page, errors

@pytest.mark.parametrize('name', ['index', 'wiseft', 'wide'])
def test_pages_load_without_console_errors(site, browser, name):
    page, errors = _open(browser, f'{site}/{name}.html')
    page.wait_for_timeout(300)
    assert errors == [], errors
    if name != 'index': assert page.locator('.plotly-graph-div .main-svg').count() >= 1, 'the plotly figure did not render'
    page.close()

def test_formulas_typeset_offline(site, browser):
    page, errors = _open(browser, f'{site}/index.html')
    page.wait_for_selector('mjx-container', timeout=15_000)
    assert page.locator('mjx-container').count() == 2                        # the inline and the display formula
    assert not any('cdn' in e.lower() for e in errors), errors
    page.close()

def _bars(page):
    return page.evaluate("() => { const g = document.querySelector('.plotly-graph-div'); return [Array.from(g._fullData[0].y), g._fullData[2].x[0]]; }")

def test_alpha_slider_moves_its_figure(site, browser):
    page, errors = _open(browser, f'{site}/wiseft.html')
    page.wait_for_selector('.slider-grip-rect')
    before = _bars(page)
    rail = page.locator('.slider-rail-rect').bounding_box()
    grip = page.locator('.slider-grip-rect').bounding_box()
    page.mouse.move(grip['x'] + grip['width']/2, grip['y'] + grip['height']/2)   # drag the handle to α = 0 with the mouse
    page.mouse.down(); page.mouse.move(rail['x'] + 1, grip['y'] + grip['height']/2, steps=8); page.mouse.up()
    page.wait_for_function("(b) => { const g = document.querySelector('.plotly-graph-div'); return g._fullData[0].y[0] !== b; }", arg=before[0][0], timeout=5_000)
    after = _bars(page)
    s = _sweep(); ref0 = 100*s[(s.alpha == 0) & (s.domain == 'reference')].accuracy.item()
    assert after[0][0] == pytest.approx(ref0) and after[1] == pytest.approx(ref0)    # bars and marker now show α = 0
    assert errors == [], errors
    page.close()

def test_wide_figure_fits_the_content_column(site, browser):
    page, errors = _open(browser, f'{site}/wide.html')
    page.wait_for_selector('.plotly-graph-div .main-svg')
    fig = page.locator('.plotly-graph-div .main-svg').first.bounding_box()
    col = page.locator('.bd-article').bounding_box()
    assert fig['x'] + fig['width'] <= col['x'] + col['width'] + 1, (fig, col)
    page.close()
