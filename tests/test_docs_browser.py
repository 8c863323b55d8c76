"""The documentation site as a reader sees it: pages built by the project's own pipeline (docs/nbdocs.py: `convert` then
`build_pages`, the Sphinx + myst-nb build `make docs` runs), served on 127.0.0.1 and opened in headless Chromium.

Two sites: small stand-in pages (below, for the things that were broken once, with figures in them) and the real site,
built from the repository's own notebooks the way `make docs` does (`nbdocs.site`). The real site needs the executed
notebooks of `make demo` for its outputs; in CI it is built from the notebooks as committed (`site --unexecuted`: no
outputs, nothing executed) unless `$ROBUSTIFY_DOCS_EXECUTED=1` asks for the demo's executed notebooks (demo_out/nbs;
stale ones are executed first, which takes the demo's time). Every page of it is loaded: no console error, every
plotly figure drawn, every formula typeset, and where the WiSE-FT page has a kernel-free α slider, dragging it moves
its figure. The course map links every chapter and every worked-solutions notebook.

What the stand-ins check, each a thing that was broken once: no console error on any page (the theme logged 'Got invalid theme
mode'), formulas typeset by the site's own MathJax (the CDN is unreachable offline), the kernel-free α slider of the
WiSE-FT page changes its bars and marker when dragged (the frames were dropped), and a wide figure fits the content
column. The pages are small stand-ins built here (the real site needs the executed walkthrough, `make demo`); the α
figure is the library's own `plot_alpha_slider`.

Needs Debian's chromium (`make browsers` installs it; CI runs as root) and playwright from requirements.txt."""
import contextlib, functools, http.server, importlib.util, json, os, re, threading
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
             'wide': _nb(_md('# A wide figure'), _fig_cell(wide)),
             'solutions/09_wiseft': _nb(_md('# Solutions: WiSE-FT\n\nIn a folder of its own: the site\'s static files still load. $\\alpha = 0.5$'), _fig_cell(wide))}
    pages = {k: nbdocs.convert(v) for k, v in pages.items()}
    assert nbdocs.build_pages(pages, d/'src', d/'html') == 0
    with _serve(d/'html') as url: yield url

@contextlib.contextmanager
def _serve(root:Path):
    "A static server of `root` on 127.0.0.1 (a thread of this process, shut down on exit)."
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a): pass
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(Quiet, directory=str(root)))
    t = threading.Thread(target=srv.serve_forever, daemon=True); t.start()
    try: yield f'http://127.0.0.1:{srv.server_address[1]}'
    finally: srv.shutdown(); srv.server_close(); t.join(10)

def _open(browser, url):
    "A fresh page with its console errors, page errors and failed requests collected."
    page = browser.new_page(viewport={'width': 1280, 'height': 900})
    errors = []
    page.on('console', lambda m: errors.append(f'console {m.type}: {m.text}') if m.type == 'error' else None)
    page.on('pageerror', lambda e: errors.append(f'page error: {e}'))
    page.on('requestfailed', lambda r: errors.append(f'request failed: {r.url} {r.failure}'))
    page.goto(url, wait_until='networkidle')
    return page, errors

@pytest.mark.parametrize('name', ['index', 'wiseft', 'wide', 'solutions/09_wiseft'])
def test_pages_load_without_console_errors(site, browser, name):
    page, errors = _open(browser, f'{site}/{name}.html')
    page.wait_for_timeout(300)
    assert errors == [], errors
    if name == 'index':                                                      # the worked solutions: a section of the site's navigation
        assert page.locator('nav a[href="solutions/09_wiseft.html"]').count() >= 1, 'the solutions page is not in the navigation'
    if name != 'index': page.locator('.plotly-graph-div .main-svg').first.wait_for(timeout=15_000)   # the plotly figure rendered (drawn once the page is laid out)
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

# ------------------------------------------------------------------------------------------------ the real site
NBS = ROOT/'nbs'
REAL_PAGES = ['index', 'course'] + [nbdocs.page_name(p) for p in sorted(NBS.glob('*.ipynb')) if p.stem != 'index' and not p.name.startswith('_')] \
             + [nbdocs.page_name(p) for p in nbdocs.solutions()]

@pytest.fixture(scope='module')
def real_site(tmp_path_factory):
    "The site built from this repository's notebooks by nbdocs.site (unexecuted unless $ROBUSTIFY_DOCS_EXECUTED=1), served on 127.0.0.1."
    d = tmp_path_factory.mktemp('real_site')
    executed = os.environ.get('ROBUSTIFY_DOCS_EXECUTED') == '1'
    assert nbdocs.site(unexecuted=not executed, out=d) == 0, 'the documentation site did not build (see the Sphinx messages above)'
    with _serve(d/'html') as url: yield url, d/'html'

def _drag_alpha_slider(page):
    "Drag every kernel-free slider on the page to an end; the figure's bars must change. Returns how many were dragged."
    n = 0
    for fig in page.locator('.plotly-graph-div', has=page.locator('.slider-grip-rect')).all():
        bars = "(el) => JSON.stringify(Array.from(el._fullData[0].y))"
        before = fig.evaluate(bars)
        fig.scroll_into_view_if_needed()                                                # a mouse reaches only what is on screen
        rail, grip = fig.locator('.slider-rail-rect').bounding_box(), fig.locator('.slider-grip-rect').bounding_box()
        if grip['x'] - rail['x'] < 5:                                                   # already at the left: drag to the right end
            target = rail['x'] + rail['width'] - 1
        else: target = rail['x'] + 1
        page.mouse.move(grip['x'] + grip['width']/2, grip['y'] + grip['height']/2)
        page.mouse.down(); page.mouse.move(target, grip['y'] + grip['height']/2, steps=8); page.mouse.up()
        page.wait_for_function("([el, b]) => JSON.stringify(Array.from(el._fullData[0].y)) !== b", arg=[fig.element_handle(), before], timeout=5_000)
        n += 1
    return n

@pytest.mark.parametrize('name', REAL_PAGES)
def test_real_site_page(real_site, browser, name):
    url, html = real_site
    assert (html/f'{name}.html').exists(), f'{name}.html was not built; pages: {sorted(str(p.relative_to(html)) for p in html.rglob("*.html"))}'
    page, errors = _open(browser, f'{url}/{name}.html')
    figs = page.locator('.plotly-graph-div')
    col = page.locator('.bd-article').bounding_box()
    for k in range(figs.count()):                                                          # every plotly figure drawn, with its traces
        figs.nth(k).locator('.main-svg').first.wait_for(timeout=15_000)
        n = figs.nth(k).evaluate("g => (g.data || []).length")
        drawn = figs.nth(k).locator('.main-svg .trace, .main-svg .imagelayer image, .main-svg .hm image').count()   # traces; images and heatmaps are <image>s
        assert n == 0 or drawn > 0, f'{name}: figure {k} has {n} traces and draws none'
        b = figs.nth(k).locator('.main-svg').first.bounding_box()                          # and not cut off at the content column's right edge
        assert b['x'] + b['width'] <= col['x'] + col['width'] + 1, f'{name}: figure {k} runs past the content column: {b} vs {col}'
    n_math = page.locator('.math').count()
    if n_math:                                                                             # every formula typeset by the site's own MathJax
        page.wait_for_function("() => Array.from(document.querySelectorAll('.math')).every(e => e.querySelector('mjx-container'))", timeout=20_000)
    sliders = _drag_alpha_slider(page)                                                     # the WiSE-FT page and its solutions have them
    if name == 'wiseft' and os.environ.get('ROBUSTIFY_DOCS_EXECUTED') == '1': assert sliders > 0, 'the executed WiSE-FT page has no kernel-free α slider'
    page.wait_for_timeout(200)
    print(f"\n{name}: {figs.count()} figure(s), {n_math} formula(s), {sliders} α slider(s) dragged")
    assert errors == [], errors
    page.close()

def test_course_map_links_every_chapter_and_solution(real_site):
    url, html = real_site
    text = (html/'course.html').read_text()
    links = set(re.findall(r'href="([^"#]+)', text))
    for p in nbdocs.chapters():
        target = f'{nbdocs.page_name(p)}.html'
        assert target in links and (html/target).exists(), f'chapter {p.stem} is not on the course map (links: {sorted(links)})'
    for p in nbdocs.solutions():
        target = f'{nbdocs.page_name(p)}.html'
        assert target in links and (html/target).exists(), f'solutions {p.name} are not linked from the course map'
    index = (html/'index.html').read_text()
    assert 'href="course.html"' in index, 'the course map is not in the site\'s table of contents'

def _fake_nb(title, desc, *code):
    cells = [dict(cell_type='markdown', metadata={}, source=f'# {title}\n\n> {desc}')]
    cells += [dict(cell_type='code', metadata={}, outputs=[], execution_count=None, source=c) for c in code]
    return json.dumps(dict(nbformat=4, nbformat_minor=5, metadata={}, cells=cells))

def test_course_map_from_a_stand_in_tree(tmp_path):
    "Chapters in order with their line, times, needs and widgets; each solutions notebook linked (one with no chapter too)."
    nbs = tmp_path/'nbs'; (nbs/'solutions').mkdir(parents=True)
    (nbs/'00_core.ipynb').write_text(_fake_nb('Core', 'The basics'))
    (nbs/'02_toys.ipynb').write_text(_fake_nb('Toys', 'Things | to play with', '#| export\ndef toy_explorer(x):\n    "Widget: a toy."\n    return x'))
    (nbs/'index.ipynb').write_text(_fake_nb('Home', 'not a chapter'))
    for n in ('02_toys', '05_extra'): (nbs/'solutions'/f'{n}.ipynb').write_text(_fake_nb(f'Solutions: {n}', 'worked'))
    times = tmp_path/'t.json'; times.write_text(json.dumps({'chapters': {'00_core': {'quick': {'seconds': 8, 'to_widget': None, 'source': 'measured: here'},
                                                                                    'full': {'seconds': 300, 'to_widget': 200, 'source': 'measured: here'}},
                                                                        '02_toys': {'quick': {'seconds': 40, 'source': 'budget (issue 17)'}}}}))
    course = tmp_path/'c.json'; course.write_text(json.dumps({'needs': {'00_core': 'nothing', '02_toys': 'shipped weights'}}))
    text = nbdocs.course_map(nbs, times, course)['cells'][0]['source']
    rows = [l for l in text.splitlines() if l.startswith('| ') and '{doc}' in l]
    assert len(rows) == 2 and rows[0].startswith('| 0 | {doc}`Core <core>` | The basics | 8 s | 5.0 min, widget at 200 s | nothing | — | — |'), rows
    assert '{doc}`Toys <toys>`' in rows[1] and 'Things \\| to play with' in rows[1] and '≤ 40 s (budget)' in rows[1], rows[1]
    assert '`toy_explorer`' in rows[1] and rows[1].endswith('{doc}`solutions <solutions/02_toys>` |'), rows[1]
    assert '{doc}`05_extra <solutions/05_extra>`' in text                                  # a solutions notebook without a chapter is linked too
    assert 'index' not in ''.join(rows)

def test_every_chapter_has_times_and_needs():
    times = json.loads((ROOT/'docs/course_times.json').read_text())['chapters']
    needs = json.loads((ROOT/'docs/course.json').read_text())['needs']
    for p in nbdocs.chapters():
        assert p.stem in needs, f'docs/course.json has no "needs" for {p.stem}'
        assert times.get(p.stem, {}).get('quick', {}).get('seconds') is not None, f'docs/course_times.json has no quick-size time for {p.stem}'

def test_times_refresh_from_a_demo(tmp_path):
    out = tmp_path/'course_times.json'; out.write_text((ROOT/'docs/course_times.json').read_text())
    t = tmp_path/'timings.json'; t.write_text(json.dumps({'size': 'full', 'seconds': {'06_teacher.ipynb': 412.5}, 'total': 412.5, 'to_widget': {'06_teacher.ipynb': 401.0}}))
    d = nbdocs.refresh_times(t, 'quiet machine, load 0.1', out)
    assert d['chapters']['06_teacher']['full'] == {'seconds': 412.5, 'to_widget': 401.0, 'source': 'measured: quiet machine, load 0.1'}
    assert json.loads(out.read_text()) == d and d['chapters']['06_teacher']['quick'] == json.loads((ROOT/'docs/course_times.json').read_text())['chapters']['06_teacher']['quick']
    t.write_text(json.dumps({'size': 'huge', 'seconds': {}}))
    with pytest.raises(ValueError, match="size 'huge'"): nbdocs.refresh_times(t, 'x', out)

def test_times_names_a_missing_or_broken_timings_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"timings='.*nope.json' is not a file; accepted: the timings.json"): nbdocs.refresh_times(tmp_path/'nope.json', 'x', tmp_path/'o.json')
    (tmp_path/'bad.json').write_text('{not json')
    with pytest.raises(ValueError, match=r"bad.json' is not JSON"): nbdocs.refresh_times(tmp_path/'bad.json', 'x', tmp_path/'o.json')
    import subprocess, sys
    r = subprocess.run([sys.executable, str(ROOT/'docs/nbdocs.py'), 'times', str(tmp_path/'nope.json')], capture_output=True, text=True)
    assert r.returncode == 2 and 'nope.json' in r.stderr and 'is not a file' in r.stderr and 'Traceback' not in r.stderr, r.stderr
