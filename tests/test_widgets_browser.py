"""Widgets as a student meets them: JupyterLab 4 started here on 127.0.0.1, a notebook opened in headless Chromium,
"Run All" from the menu, and the controls changed with real input events (a dropdown choice, key presses on a
slider, a click on a toggle button). After each change the page and the kernel must agree: the value the page shows,
the value the kernel holds and the value the computation used. No console error may appear, and the time from the
input event to the updated page is recorded (printed; run with -s to see it).

The widgets run on small stand-ins (random-weight models, a few PolyShift images) so that the test stays short: what
is tested is the widget's wiring, not the chapter's experiment. Needs Debian's chromium (`make browsers`)."""
import json, os, re, socket, subprocess, sys, time, urllib.request
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]

def _code(src): return dict(cell_type='code', metadata={}, execution_count=None, outputs=[], source=src)
def _write_nb(path, *cells):
    nb = dict(nbformat=4, nbformat_minor=5, metadata={'kernelspec': {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'}},
              cells=[dict(c, id=f'c{i}') for i, c in enumerate(cells)])
    path.write_text(json.dumps(nb))

SETUP = "import json, torch; torch.set_num_threads(1); torch.manual_seed(0)\nfrom robustify_nb.models import load_model\nfrom robustify_nb.data import PolyShift"
NOTEBOOKS = {
    'attack': (SETUP + "\nfrom robustify_nb.transfer import attack_explorer\n"
               "w = attack_explorer({'a': load_model('smallcnn'), 'b': load_model('smallcnn')}, PolyShift(8, split='test'), steps=3)\nw",
               "r = w.results['a']; print(json.dumps(dict(norm=w.controls['norm'].value, eps=w.controls['eps'].value, linf=r['linf'], l2=r['l2'])))"),
    'gate': (SETUP + "\nfrom robustify_nb.student import gate_explorer\n"
             "x, y = PolyShift(32, split='test').tensors()\ng = gate_explorer(load_model('smallcnn', weights='polyshift'), x, y)\ng",
             "print(json.dumps(dict(gate=g.controls['gate'].value, T=g.controls['T'].value, threshold=g.controls['threshold'].value, "
             "disabled=g.controls['threshold'].disabled, top=g.targets.max(1).values.mean().item(), w=g.weights.mean().item())))"),
    'wiseft': (SETUP + "\nimport copy\nfrom robustify_nb.wiseft import zeroshot_classifier, WiseEnsemble, wise_widget\n"
               "zs = zeroshot_classifier('tiny-cnn', 'polyshift'); ft = copy.deepcopy(zs)\n"
               "with torch.no_grad():\n    for p in ft.parameters(): p.add_(0.05*torch.randn_like(p))    # a stand-in for the fine-tuned θ1\n"
               "w = wise_widget(WiseEnsemble(zs, ft), n=100)\nw",
               "print(json.dumps(dict(alpha=w.controls['alpha'].value, used=w.alpha, scores=w.scores, "
               "marker=[w.figure.data[2].x[0], w.figure.data[2].y[0]], curve=w.curve)))"),
    'corruption': (SETUP + "\nfrom robustify_nb.corruptions import corruption_explorer\n"
                   "ex = corruption_explorer(load_model('resnet20', weights='polyshift'), PolyShift(256, 'reference', 'test'))\nex",
                   "print(json.dumps(dict(name=ex.controls['name'].value, severity=ex.controls['severity'].value, accuracy=ex.accuracy, title=ex.figure.layout.title.text)))"),
    'router': (SETUP + "\nfrom robustify_nb.student import MultiHeadStudent\nfrom robustify_nb.router import UncertaintyRouter, router_stats, router_explorer\n"
               "rt = UncertaintyRouter(MultiHeadStudent(load_model('resnet20', weights='polyshift'), tune=(-1,)), passes=2)\n"
               "ex = router_explorer(rt, router_stats(rt, PolyShift(32, split='test'), ['gaussian_noise'], (3,)))\nex",
               "print(json.dumps(dict(kl=ex.controls['kl_threshold'].value, share=ex.results['corrupted']['share_clean'])))"),
    'styles': (SETUP + "\nfrom robustify_nb.data import style_browser, CLASSES\nb = style_browser(n=8)\nb",
               "print(json.dumps(dict(cls=b.controls['cls'].value, labels=b.labels.tolist(), width=len(b.figure.data[0].z[0]))))"),
}

def _free_port():
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    d = tmp_path_factory.mktemp('lab')
    for name, (widget, state) in NOTEBOOKS.items(): _write_nb(d/f'{name}.ipynb', _code(widget), _code(state))
    tracker = d/'.settings'/'@jupyterlab'/'notebook-extension'/'tracker.jupyterlab-settings'
    tracker.parent.mkdir(parents=True); tracker.write_text(json.dumps({'windowingMode': 'none'}))   # every cell in the page
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1', JUPYTER_CONFIG_DIR=str(d/'.jupyter'), JUPYTERLAB_SETTINGS_DIR=str(d/'.settings'),
               JUPYTERLAB_WORKSPACES_DIR=str(d/'.workspaces'), ROBUSTIFY_HOME=str(d/'cache'))
    cmd = [str(Path(sys.executable).parent/'jupyter'), 'lab', '--no-browser', '--allow-root', f'--ServerApp.port={port}', '--ServerApp.ip=127.0.0.1',
           "--IdentityProvider.token=", '--ServerApp.password=', f'--ServerApp.root_dir={d}', '--LabApp.news_url=None',
           '--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate']
    log = open(d/'lab.log', 'w')
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f'http://127.0.0.1:{port}'
    try:
        for _ in range(120):
            try: urllib.request.urlopen(f'{url}/api/status', timeout=1); break
            except Exception: time.sleep(0.5)
        else: pytest.fail(f"JupyterLab did not start: {(d/'lab.log').read_text()[-2000:]}")
        yield url
    finally:
        os.killpg(proc.pid, 15)
        try: proc.wait(20)
        except subprocess.TimeoutExpired: os.killpg(proc.pid, 9)
        log.close()

class Notebook:
    "A notebook open in JupyterLab, driven as a person would."
    def __init__(self, browser, lab, name):
        self.page = page = browser.new_page(viewport={'width': 1400, 'height': 1000})
        self.errors = []
        page.on('console', lambda m: self.errors.append(m.text) if m.type == 'error' else None)
        page.on('pageerror', lambda e: self.errors.append(f'page error: {e}'))
        page.goto(f'{lab}/lab/workspaces/{name}/tree/{name}.ipynb?reset', wait_until='domcontentloaded')   # a workspace of its own: no other notebook restored
        page.wait_for_selector('.jp-Notebook .jp-Cell', timeout=60_000)
        select = page.locator('.jp-Dialog').get_by_role('button', name='Select', exact=True)   # a fresh server asks which kernel
        try: select.wait_for(timeout=10_000); select.click()
        except Exception: pass
        try:
            page.get_by_role('menuitem', name='Run', exact=True).click()
            page.get_by_role('menuitem', name='Run All Cells', exact=True).click()
            self.wait_idle(timeout=120_000)
            page.wait_for_selector('.widget-vbox', timeout=60_000)
        except Exception:
            shot = Path(os.environ.get('TMPDIR', '/tmp'))/f'widget-{name}.png'; page.screenshot(path=str(shot))
            raise AssertionError(f"the widget of {name}.ipynb did not render (screenshot {shot}); outputs: {self.outputs()}; console: {self.errors}")

    def wait_idle(self, timeout=60_000):
        self.page.wait_for_timeout(200)
        self.page.wait_for_function("() => !Array.from(document.querySelectorAll('.jp-InputArea-prompt')).some(e => e.textContent.includes('*'))", timeout=timeout)

    def outputs(self): return self.page.locator('.jp-OutputArea-output').all_inner_texts()

    def kernel_state(self) -> dict:
        "Run the state cell (the second) again, as a person does (click it, Ctrl+Enter), and read the JSON it prints."
        cell = self.page.locator('.jp-Notebook .jp-Cell').nth(1)
        try:
            cell.locator('.jp-InputArea-editor').click(timeout=20_000)
            self.page.keyboard.press('Control+Enter')
            self.wait_idle()
            return json.loads(cell.locator('.jp-OutputArea-output').last.inner_text(timeout=20_000))
        except Exception:
            shot = Path(os.environ.get('TMPDIR', '/tmp'))/'widget-state.png'; self.page.screenshot(path=str(shot))
            raise AssertionError(f"the state cell printed nothing (screenshot {shot}); outputs: {self.outputs()}; console: {self.errors}")

    def timed(self, action, changed:str, arg=None, timeout=30_000) -> float:
        "Seconds from the input event in `action` to the page satisfying the JS predicate `changed(before)`."
        t0 = time.perf_counter(); action()
        self.page.wait_for_function(changed, arg=arg, timeout=timeout)
        return time.perf_counter() - t0

    def slider(self, label):
        "The slider whose label is exactly `label`."
        return self.page.locator('.widget-slider', has=self.page.locator('label', has_text=re.compile(f'^{re.escape(label)}$')))

    def readout(self, label): return self.slider(label).locator('.widget-readout').inner_text()

    def slider_keys(self, label, *keys):
        "Focus the slider's handle and press keys on it, as a person using the keyboard does."
        h = self.slider(label).locator('.noUi-handle')
        h.focus()
        for k in keys: self.page.keyboard.press(k)

TEXT = "() => document.querySelector('.widget-html-content') ? document.querySelector('.widget-html-content').innerText : ''"

def test_attack_explorer_budget_follows_the_norm(lab, browser):
    nb = Notebook(browser, lab, 'attack'); page = nb.page
    latencies = []
    for norm, eps in [('linf', 4/255), ('l2', 0.5), ('linf', 4/255), ('l2', 0.5)]:        # the switch that was right once in four
        before = page.evaluate(TEXT)
        latencies.append(nb.timed(lambda: page.locator('.widget-dropdown select').select_option(norm), f"(b) => ({TEXT})() !== b", arg=before))
        page.wait_for_timeout(300)                                                        # let any echo from the page arrive
        s = nb.kernel_state()
        assert s['norm'] == norm and s['eps'] == pytest.approx(eps), s
        shown = float(nb.readout('ε'))
        assert shown == pytest.approx(eps, abs=0.006), (shown, eps)                       # the page shows the budget used
        if norm == 'linf': assert s['linf'] <= eps + 1e-6, s                              # and the attack ran at it
        else: assert s['l2'] <= eps + 1e-4, s
    before = page.evaluate(TEXT)
    latencies.append(nb.timed(lambda: nb.slider_keys('ε', 'ArrowLeft'), f"(b) => ({TEXT})() !== b", arg=before))
    s = nb.kernel_state(); assert s['eps'] == pytest.approx(0.45) and float(nb.readout('ε')) == pytest.approx(0.45), s
    print(f"\nattack explorer: seconds from input to page {[round(t, 3) for t in latencies]}")
    assert nb.errors == [], nb.errors
    page.close()

def test_gate_explorer_controls_do_what_they_say(lab, browser):
    nb = Notebook(browser, lab, 'gate'); page = nb.page
    thr = nb.slider('threshold').locator('.noUi-target')
    s0 = nb.kernel_state()
    assert s0['disabled'] and thr.get_attribute('disabled') is not None                    # soft gate: threshold greyed out
    before = page.evaluate(TEXT)
    t_T = nb.timed(lambda: nb.slider_keys('T', *['ArrowRight']*6), f"(b) => ({TEXT})() !== b", arg=before)
    page.wait_for_timeout(500); s1 = nb.kernel_state()
    assert s1['T'] > s0['T'] and s1['top'] < s0['top'], (s0, s1)                           # a hotter target is less confident
    assert float(nb.readout('T')) == pytest.approx(s1['T'], rel=0.01)
    before = page.evaluate(TEXT)
    t_gate = nb.timed(lambda: page.get_by_role('button', name='hard', exact=True).click(), f"(b) => ({TEXT})() !== b", arg=before)
    s2 = nb.kernel_state()
    assert s2['gate'] == 'hard' and not s2['disabled'] and thr.get_attribute('disabled') is None, s2
    xr = page.evaluate("() => document.querySelector('.js-plotly-plot')._fullLayout.xaxis.range")
    assert xr[0] <= 0 and xr[1] >= 1, xr                                                   # the whole [0, 1] of w is on the axis
    print(f"\ngate explorer: T {t_T:.3f} s, gate {t_gate:.3f} s from input to page")
    assert nb.errors == [], nb.errors
    page.close()

PLOT = "() => { const g = document.querySelectorAll('.js-plotly-plot')[0]; return {marker: [g._fullData[2].x[0], g._fullData[2].y[0]], bars: Array.from(g._fullData[0].y), curve: g._fullData[1].x.length, xr: g._fullLayout.xaxis2.range}; }"

def test_wiseft_widget_first_render_and_alpha(lab, browser):
    nb = Notebook(browser, lab, 'wiseft'); page = nb.page
    page.wait_for_function("() => { const g = document.querySelector('.js-plotly-plot'); return g && g._fullData && g._fullData[1].x.length > 0; }")
    first, s = page.evaluate(PLOT), nb.kernel_state()
    assert first['marker'] == pytest.approx(s['marker']) and first['marker'][0] == pytest.approx(s['scores']['reference'])   # first render right
    xs = [c[0] for c in s['curve']]
    assert first['xr'][0] <= min(xs) and first['xr'][1] >= max(xs) and first['xr'][1] - first['xr'][0] <= max(xs) - min(xs) + 10.01, first
    latencies = []
    for keys in (['ArrowRight'], ['ArrowLeft'], ['ArrowLeft'], ['ArrowLeft']):
        before = page.evaluate(PLOT)['bars']
        latencies.append(nb.timed(lambda: nb.slider_keys('α', *keys), f"(b) => JSON.stringify(({PLOT})().bars) !== JSON.stringify(b)", arg=before))
    page.wait_for_timeout(300)
    now, s = page.evaluate(PLOT), nb.kernel_state()
    assert s['alpha'] == pytest.approx(0.4) and s['used'] == pytest.approx(0.4) and float(nb.readout('α')) == pytest.approx(0.4)
    assert now['marker'] == pytest.approx(s['marker']) and tuple(s['marker']) in {tuple(c) for c in s['curve']}   # the marker sits on the curve
    assert now['bars'] == pytest.approx(list(s['scores'].values()))
    print(f"\nWiSE-FT α widget: seconds from key press to page {[round(t, 3) for t in latencies]}")
    assert nb.errors == [], nb.errors
    page.close()

def _labels_cut(page) -> list[str]:
    "Widget labels the page shows cut off (with an ellipsis): wider than their box."
    return page.evaluate("() => Array.from(document.querySelectorAll('.widget-label, .widget-label-basic')).filter(e => e.offsetParent && e.scrollWidth > e.clientWidth + 1).map(e => e.textContent)")

def test_corruption_explorer_severity_steps(lab, browser):
    nb = Notebook(browser, lab, 'corruption'); page = nb.page
    title = "() => document.querySelector('.js-plotly-plot')._fullLayout.title.text"
    latencies = []
    for key in ('ArrowRight', 'ArrowRight', 'ArrowLeft'):                               # 4, 5, then 4 again (seen before)
        before = page.evaluate(title)
        latencies.append(nb.timed(lambda: nb.slider_keys('severity', key), f"(b) => ({title})() !== b", arg=before))
    page.wait_for_timeout(300)
    s = nb.kernel_state()
    assert s['severity'] == 4 and nb.readout('severity') == '4' and page.evaluate(title) == s['title'] and 'severity 4' in s['title'], s
    print(f"\ncorruption explorer: seconds from key press to page {[round(t, 3) for t in latencies]}")
    assert _labels_cut(page) == [] and nb.errors == [], (_labels_cut(page), nb.errors)
    page.close()

def test_router_explorer_labels_and_thresholds(lab, browser):
    nb = Notebook(browser, lab, 'router'); page = nb.page
    assert _labels_cut(page) == [], _labels_cut(page)                                   # "KL threshold", not "KL thresh…"
    s0 = nb.kernel_state()
    nb.slider_keys('KL threshold', *['End'])                                             # all the way up: the heads always "agree"
    page.wait_for_timeout(1500)
    s1 = nb.kernel_state()
    assert s1['kl'] == pytest.approx(10.0) and float(nb.readout('KL threshold')) == pytest.approx(10.0, rel=0.02), s1
    assert s1['share'] >= s0['share'], (s0, s1)
    assert nb.errors == [], nb.errors
    page.close()

def test_style_browser_class_filter_fills_the_strip(lab, browser):
    nb = Notebook(browser, lab, 'styles'); page = nb.page
    page.locator('.widget-dropdown select').select_option('heart')
    page.wait_for_timeout(1000)
    s = nb.kernel_state()
    assert s['cls'] == 'heart' and len(s['labels']) == 8 and len(set(s['labels'])) == 1 and s['width'] == 8*32, s
    shown = page.evaluate("() => document.querySelector('.js-plotly-plot')._fullData[0].z[0].length")
    assert shown == 8*32, shown                                                          # eight tiles, none blank
    assert nb.errors == [], nb.errors
    page.close()
