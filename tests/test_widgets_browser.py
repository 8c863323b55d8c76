"""Widgets as a student meets them: JupyterLab 4 started here on 127.0.0.1, a notebook opened in headless Chromium,
"Run All" from the menu, and the controls changed with real input events (a dropdown choice, key presses on a
slider, a click on a toggle button). After each change the page and the kernel must agree: the value the page shows,
the value the kernel holds and the value the computation used. No console error may appear, and the time from the
input event to the updated page is recorded in `latency.json` (per widget and control) under `$ROBUSTIFY_BROWSER_OUT`
(default: a folder under pytest's tmp dir); with `$ROBUSTIFY_BROWSER_OUT` set, a screenshot of each widget after a
change is written there too (`<widget>-<step>.png`), to be looked at.

Every widget is also driven through a seeded random sequence of control changes (`test_random_order`): afterwards
the controls the page shows, the figure the page draws, the texts it prints and the kernel's state agree, and the
kernel's figure equals that of a fresh widget set directly to the final values (no order leaves a stale state).

The widgets run on small stand-ins (random-weight models, a few PolyShift images) so that the test stays short: what
is tested is the widget's wiring, not the chapter's experiment. Needs Debian's chromium (`make browsers`)."""
import json, os, random, re, time
from pathlib import Path
import pytest
from conftest import record_latency, screenshots_wanted, jupyter_lab

ROOT = Path(__file__).resolve().parents[1]

def _code(src): return dict(cell_type='code', metadata={}, execution_count=None, outputs=[], source=src)
def _write_nb(path, *cells):
    nb = dict(nbformat=4, nbformat_minor=5, metadata={'kernelspec': {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'}},
              cells=[dict(c, id=f'c{i}') for i, c in enumerate(cells)])
    path.write_text(json.dumps(nb))

# The kernel side of the checks: `_state(w)` is what the kernel holds (control values, figure traces, title, texts);
# `_fresh(w, make)` builds a fresh widget, sets its controls (in the widget's own order) to `w`'s values and says
# whether its figure and texts equal `w`'s: the computation after any order of changes is the computation of the end state.
SETUP = """import json, re, html, torch, numpy as np; torch.set_num_threads(1); torch.manual_seed(0)
from robustify_nb.models import load_model
from robustify_nb.data import PolyShift
def _num(v):
    v = np.asarray(v)
    return float(v.astype(float).sum()) if v.dtype.kind in 'biuf' else None
def _traces(fig):
    out = []
    for t in fig.data:
        d = {}
        for k in ('x', 'y'):
            v = getattr(t, k, None) if k in t else None
            d[k] = None if v is None else [x if isinstance(x, str) else float(x) for x in np.asarray(v).ravel().tolist()]
        d['z'] = _num(t.z) if 'z' in t and t.z is not None else None
        d['source'] = t.source if 'source' in t else None     # an image sent as a PNG data URI
        out.append(d)
    return out
def _htmls(w):
    import ipywidgets as W
    if isinstance(w, W.HTML): return [' '.join(html.unescape(re.sub(r'<[^>]+>', '', re.sub(r'<(br|/p|/tr|/td|/th|p|tr|td|th|table)\\b[^>]*>', ' ', w.value))).split())]
    return [t for c in getattr(w, 'children', ()) for t in _htmls(c)]
def _state(w):
    getattr(w, 'wait', lambda: None)()                # a change from the page still waiting to be computed: finish it first
    cs = {c.description: dict(value=c.value, disabled=c.disabled, format=getattr(c, 'readout_format', None)) for c in w.controls.values()}
    t = w.figure.layout.title.text
    return dict(controls=cs, traces=_traces(w.figure), title=t, html=_htmls(w))
def _show(_w, /, **kw): print(json.dumps(dict(kw, _=_state(_w)), default=float))
def _same_traces(a, b):
    L = lambda v: [] if v is None else v if isinstance(v, list) else [v]
    for x, y in zip(a, b):
        if x.get('source') != y.get('source'): return False
        for k in ('x', 'y', 'z'):
            p, q = L(x[k]), L(y[k])
            if len(p) != len(q) or [v for v in p if isinstance(v, str)] != [v for v in q if isinstance(v, str)]: return False
            if not np.allclose([v for v in p if not isinstance(v, str)], [v for v in q if not isinstance(v, str)], atol=1e-4): return False
    return len(a) == len(b)
def _fresh(w, make):
    f = make()
    for k, c in w.controls.items(): f.controls[k].value = c.value
    a, b = _state(w), _state(f)
    same = _same_traces(a['traces'], b['traces'])
    texts = lambda st: [re.sub(r'[\\d.]+ ms', 'ms', t) for t in st['html']]     # a timing in a status line is not state
    print(json.dumps(dict(same=bool(same and a['title'] == b['title'] and texts(a) == texts(b)), driven=a, fresh=b), default=float))"""

def _nb(make, state):
    """A notebook: the set-up and `make` (a function building the widget) then the widget; its state cell; its fresh-widget
    cell, which does nothing in "Run All" (a second FigureWidget made while the first is being drawn sometimes left the
    first one blank under load: seen in styles and gate, default axes, no traces) and builds the fresh widget when run later."""
    return (SETUP + '\n' + make + '\nw = make()\nw', '_runs = globals().get("_runs", 0) + 1\ngetattr(w, "wait", lambda: None)()   # a change still computing: finish it\n' + state,
            'if _runs > 1: _fresh(w, make)')

NOTEBOOKS = {
    'attack': _nb("from robustify_nb.transfer import attack_explorer\nmodels = {'a': load_model('smallcnn'), 'b': load_model('smallcnn')}\n"
                  "make = lambda: attack_explorer(models, PolyShift(8, split='test'), steps=3)",
                  "r = w.results['a']; _show(w, norm=w.controls['norm'].value, eps=w.controls['eps'].value, linf=r['linf'], l2=r['l2'])"),
    'gate': _nb("from robustify_nb.student import gate_explorer\nx, y = PolyShift(32, split='test').tensors()\nteacher = load_model('smallcnn', weights='polyshift')\n"
                "make = lambda: gate_explorer(teacher, x, y)",
                "_show(w, gate=w.controls['gate'].value, T=w.controls['T'].value, threshold=w.controls['threshold'].value, "
                "disabled=w.controls['threshold'].disabled, top=w.targets.max(1).values.mean().item(), w=w.weights.mean().item())"),
    'wiseft': _nb("import copy\nfrom robustify_nb.wiseft import zeroshot_classifier, WiseEnsemble, wiseft_explorer\n"
                  "zs = zeroshot_classifier('tiny-cnn', 'polyshift'); ft = copy.deepcopy(zs)\n"
                  "with torch.no_grad():\n    for p in ft.parameters(): p.add_(0.05*torch.randn_like(p))    # a stand-in for the fine-tuned θ1\n"
                  "ens = WiseEnsemble(zs, ft)\nmake = lambda: wiseft_explorer(ens, n=100)",
                  "_show(w, alpha=w.controls['alpha'].value, used=w.alpha, scores=w.scores, marker=[w.figure.data[2].x[0], w.figure.data[2].y[0]], curve=w.curve, computed=w.computed)"),
    'corruption': _nb("from robustify_nb.corruptions import corruption_explorer\nmodel = load_model('resnet20', weights='polyshift')\n"
                      "make = lambda: corruption_explorer(model, PolyShift(256, 'reference', 'test'))",
                      "_show(w, name=w.controls['name'].value, severity=w.controls['severity'].value, accuracy=w.accuracy, title=w.figure.layout.title.text)"),
    'router': _nb("from robustify_nb.student import MultiHeadStudent\nfrom robustify_nb.router import UncertaintyRouter, router_stats, router_explorer\n"
                  "rt = UncertaintyRouter(MultiHeadStudent(load_model('resnet20', weights='polyshift'), tune=(-1,)), passes=2)\n"
                  "stats = router_stats(rt, PolyShift(32, split='test'), ['gaussian_noise'], (3,))\nmake = lambda: router_explorer(rt, stats)",
                  "_show(w, kl=w.controls['kl_threshold'].value, share=w.results['corrupted']['share_clean'], "
                  "routing=[w.results[p][f'share_{h}'] for p in ('clean', 'corrupted') for h in ('clean', 'robust', 'combined')])"),
    'styles': _nb("from robustify_nb.data import style_explorer, CLASSES\nmake = lambda: style_explorer(n=8)",
                  "_show(w, cls=w.controls['cls'].value, labels=w.labels.tolist(), width=len(w.figure.data[0].z[0]))"),
    'augment': _nb("from robustify_nb.teacher import augmentation_explorer\nx8 = PolyShift(8, split='test').tensors()[0]\n"
                   "make = lambda: augmentation_explorer(x8)",
                   "_show(w, recipe=w.controls['recipe'].value, strength=w.controls['strength'].value, label=w.controls['strength'].description, seed=w.controls['seed'].value, "
                   "views=[float(v.sum()) for v in w.views])"),
    'inspector': _nb("from robustify_nb.student import MultiHeadStudent\nfrom robustify_nb.router import UncertaintyRouter, sample_explorer\n"
                     "rt = UncertaintyRouter(MultiHeadStudent(load_model('resnet20', weights='polyshift'), tune=(-1,)), passes=2)\n"
                     "make = lambda: sample_explorer(rt, PolyShift(16, split='test'), 'gaussian_noise', 5, n=16)",
                     "_show(w, image=w.controls['image'].value, corruption=w.controls['corruption'].value, severity=w.controls['severity'].value, "
                     "choice=w.choice, prediction=w.prediction)"),
    'attribution': _nb("from robustify_nb.explain import attribution_explorer\n"
                       "models = {'random': load_model('smallcnn'), 'trained': load_model('smallcnn', weights='polyshift')}\n"
                       "make = lambda: attribution_explorer(models, PolyShift(8, split='test'), n_steps=4, n_samples=4)",
                       "_show(w, index=w.controls['index'].value, model=w.controls['model'].value, method=w.controls['method'].value, "
                       "share=w.share, map_sum=float(w.map.sum()), heat_max=float(np.max(w.figure.data[1].z)))"),
}

# Two figures made in one "Run All" (two WiSE-FT widgets, the second made while the page still loads the first): under
# load one stayed blank once (default axes, no traces; seen in styles and gate). Not reproduced since (issue 17, open).
# Making each FigureWidget from the finished figure instead (its data in the first state, no messages) made it worse:
# gate, styles and WiSE-FT all blank in a full run of this module, so that was reverted.
WISE = NOTEBOOKS['wiseft'][0].replace('\nw = make()\nw', '')
NOTEBOOKS['two'] = (WISE, "w1 = wiseft_explorer(ens, n=100)\nw1", "w2 = wiseft_explorer(ens, n=60, step=0.1)\nw2",
                    "print(json.dumps([_state(w1)['traces'], _state(w2)['traces']], default=float))")

@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    d = tmp_path_factory.mktemp('lab')
    for name, cells in NOTEBOOKS.items(): _write_nb(d/f'{name}.ipynb', *map(_code, cells))
    with jupyter_lab(d, ROBUSTIFY_HOME=str(d/'cache')) as (url, _): yield url

@pytest.fixture(scope='module')
def notebooks(lab, browser, browser_out):
    "Open a widget's notebook (Run All) once per module; later tests continue on the same page and kernel."
    opened = {}
    def get(name):
        if name not in opened or opened[name].page.is_closed(): opened[name] = Notebook(browser, lab, name, browser_out)
        return opened[name]
    yield get
    for nb in opened.values():
        if not nb.page.is_closed(): nb.page.close()

class Notebook:
    "A notebook open in JupyterLab, driven as a person would."
    def __init__(self, browser, lab, name, out:Path):
        self.page = page = browser.new_page(viewport={'width': 1400, 'height': 1000})
        self.name, self.out, self.errors, self.shots = name, out, [], 0
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
            # a person starts once the figure is drawn: every plotly figure of the widget holds its traces
            page.wait_for_function("() => { const gs = document.querySelectorAll('.js-plotly-plot'); return gs.length > 0 && "
                                   "Array.from(gs).every(g => g._fullData && g._fullData.length > 0 && g.querySelector('.main-svg')); }", timeout=60_000)
        except Exception:
            shot = Path(os.environ.get('TMPDIR', '/tmp'))/f'widget-{name}.png'; page.screenshot(path=str(shot))
            raise AssertionError(f"the widget of {name}.ipynb did not render (screenshot {shot}); outputs: {self.outputs()}; console: {self.errors}")

    def wait_idle(self, timeout=60_000):
        self.page.wait_for_timeout(200)
        self.page.wait_for_function("() => !Array.from(document.querySelectorAll('.jp-InputArea-prompt')).some(e => e.textContent.includes('*'))", timeout=timeout)

    def outputs(self): return self.page.locator('.jp-OutputArea-output').all_inner_texts()

    def kernel_state(self, n:int=1) -> dict:
        "Run the state cell (the second; `n`=2: the fresh-widget cell) again, as a person does (click it, Ctrl+Enter), and read the JSON it prints."
        cell = self.page.locator('.jp-Notebook .jp-Cell').nth(n)
        try:
            cell.locator('.jp-InputArea-editor').click(timeout=20_000)
            self.page.keyboard.press('Control+Enter')
            self.wait_idle()
            return json.loads(cell.locator('.jp-OutputArea-output').last.inner_text(timeout=20_000))
        except Exception:
            shot = Path(os.environ.get('TMPDIR', '/tmp'))/'widget-state.png'; self.page.screenshot(path=str(shot))
            raise AssertionError(f"the state cell printed nothing (screenshot {shot}); outputs: {self.outputs()}; console: {self.errors}")

    def timed(self, action, changed:str, arg=None, timeout=60_000, control:str|None=None) -> float:
        """Seconds from the input event in `action` to the page satisfying the JS predicate `changed(before)`; with
        `control`, recorded in latency.json under this widget and control, and a screenshot taken when wanted."""
        t0 = time.perf_counter(); action()
        self.page.wait_for_function(changed, arg=arg, timeout=timeout)
        dt = time.perf_counter() - t0
        if control: record_latency(self.out, self.name, control, dt); self.shot(control)
        return dt

    def shot(self, tag:str):
        "A screenshot of the widget (its output area) when $ROBUSTIFY_BROWSER_OUT is set: <out>/<widget>-<n>-<tag>.png."
        if not screenshots_wanted(): return
        self.shots += 1; self.settle(300)
        # a clip of the viewport, not an element screenshot: for an element taller than the viewport playwright resizes
        # the viewport, the figures redraw on the resize, and a redraw racing an update left a blank figure
        area = self.page.locator('.jp-OutputArea-output', has=self.page.locator('.widget-vbox')).first
        area.evaluate("e => e.scrollIntoView({block: 'start'})")
        b, vp = area.bounding_box(), self.page.viewport_size
        clip = dict(x=max(0, b['x']), y=max(0, b['y']), width=min(b['width'], vp['width'] - max(0, b['x'])), height=min(b['height'], vp['height'] - max(0, b['y'])))
        tag = re.sub(r'[^\w.-]+', '_', tag)
        self.page.screenshot(path=str(self.out/f"{self.name}-{self.shots:02d}-{tag}.png"), clip=clip)

    def page_state(self) -> dict:
        "What the page shows: each control's label, shown value and disabled state; the figure's traces and title; the texts."
        return self.page.evaluate(PAGE_STATE)

    def settle(self, ms=1000, timeout=120_000):
        """Let the page and the kernel finish what the last inputs started: widget updates run in the kernel without a
        busy cell prompt, so wait for the status bar to say Idle for `ms` on end (the page sends a held-back value once
        the kernel is idle, which makes it busy again)."""
        self.wait_idle()
        self.page.evaluate("() => { window.__idleSince = null; }")
        self.page.wait_for_function("""(ms) => { const s = document.querySelector('#jp-main-statusbar'); const now = performance.now();
            if (!s || !/\\|\\s*Idle/.test(s.innerText)) { window.__idleSince = null; return false; }
            if (window.__idleSince == null) window.__idleSince = now; return now - window.__idleSince >= ms; }""", arg=ms, polling=100, timeout=timeout)

    def slider(self, label):
        "The slider whose label is exactly `label`."
        return self.page.locator('.widget-slider', has=self.page.locator('label', has_text=re.compile(f'^{re.escape(label)}$')))

    def readout(self, label): return self.slider(label).locator('.widget-readout').inner_text()

    def focus_slider(self, label):
        "Bring the slider on screen and focus its handle (a long notebook scrolls: not part of a latency)."
        h = self.slider(label).locator('.noUi-handle')
        h.scroll_into_view_if_needed(); h.focus()

    def slider_keys(self, label, *keys, focus:bool=True):
        "Focus the slider's handle (`focus`; else it has the focus already) and press keys on it, as a person using the keyboard does."
        if focus: self.slider(label).locator('.noUi-handle').focus()
        for k in keys: self.page.keyboard.press(k)

TEXT = "() => document.querySelector('.widget-html-content') ? document.querySelector('.widget-html-content').innerText : ''"

# The page's side: every control (label -> shown value, disabled), the first figure's traces as plotly holds them
# (x, y as lists; z as the sum of its numbers), its title and the widget's texts, whitespace collapsed.
PAGE_STATE = """() => {
  const controls = {};
  for (const e of document.querySelectorAll('.widget-slider, .widget-dropdown, .widget-toggle-buttons')) {
    const lab = e.querySelector('.widget-label, .widget-label-basic'); if (!lab || !lab.textContent.trim()) continue;
    const k = lab.textContent.trim();
    if (e.classList.contains('widget-slider'))
      controls[k] = {value: e.querySelector('.widget-readout').innerText.trim(), disabled: !!e.querySelector('.noUi-target[disabled]')};
    else if (e.classList.contains('widget-dropdown')) { const s = e.querySelector('select'); controls[k] = {value: s.options[s.selectedIndex].text, disabled: s.disabled}; }
    else { const a = e.querySelector('.mod-active'); controls[k] = {value: a ? a.textContent.trim() : null,
           disabled: Array.from(e.querySelectorAll('button')).every(b => b.disabled)}; }
  }
  const sum = v => (v == null) ? 0 : (typeof v === 'number') ? v : (typeof v === 'string' || typeof v === 'boolean') ? 0 : Array.from(v).reduce((a, b) => a + sum(b), 0);
  const list = v => (v == null) ? null : Array.from(v).map(x => (typeof x === 'string') ? x : Number(x));
  const g = document.querySelector('.js-plotly-plot');
  const traces = g ? g._fullData.map(t => ({x: t.type === 'image' ? null : list(t.x), y: t.type === 'image' ? null : list(t.y),
                                           z: ('z' in t && t.z != null) ? sum(t.z) : null, source: t.source || null})) : [];
  const t = g ? g.querySelector('.gtitle') : null, title = t ? t.textContent : null;   // the title drawn (none: null)
  const html = Array.from(document.querySelectorAll('.widget-html-content')).map(e => e.innerText.split(/\\s+/).join(' ').trim());
  return {controls, traces, title, html};
}"""

def _shown_matches(shown:str, value, fmt) -> bool:
    "Does the text a control shows stand for the kernel's value (within the readout's precision)?"
    if isinstance(value, bool) or not isinstance(value, (int, float)): return shown == str(value)
    try: f = float(shown)
    except ValueError: return False
    decimals = len(shown.split('.')[1]) if '.' in shown else 0
    return abs(f - value) <= 0.5*10**-decimals + 1e-9

def assert_page_agrees(nb, s:dict):
    """The page shows what the kernel holds: each control's value and disabled state, the figure's traces (x, y and the
    images' pixel sums), its title and the widget's texts."""
    page, k = nb.page_state(), s['_']
    for label, c in k['controls'].items():
        assert label in page['controls'], (label, page['controls'])
        shown = page['controls'][label]
        assert _shown_matches(shown['value'], c['value'], c['format']), f"{nb.name}: {label} shows {shown['value']!r}, the kernel holds {c['value']!r}"
        assert shown['disabled'] == c['disabled'], f"{nb.name}: {label} disabled on the page {shown['disabled']}, in the kernel {c['disabled']}"
    assert len(page['traces']) == len(k['traces']), (page['traces'], k['traces'])
    for i, (pt, kt) in enumerate(zip(page['traces'], k['traces'])):
        for key in ('x', 'y'):
            if kt[key] is None: continue
            nums = lambda v: [x for x in v if not isinstance(x, str)]
            assert [x for x in pt[key] if isinstance(x, str)] == [x for x in kt[key] if isinstance(x, str)], (nb.name, i, key, pt[key], kt[key])
            assert nums(pt[key]) == pytest.approx(nums(kt[key]), abs=1e-4), (nb.name, i, key)
        if kt['z'] is not None: assert pt['z'] == pytest.approx(kt['z'], rel=1e-6, abs=1e-3), (nb.name, i, 'z', pt['z'], kt['z'])
        if kt.get('source') is not None: assert pt['source'] == kt['source'], (nb.name, i, 'the page draws another image source than the kernel sent')
    assert (page['title'] or None) == (k['title'] or None), (page['title'], k['title'])
    assert page['html'] == k['html'], (page['html'], k['html'])

def test_attack_explorer_budget_follows_the_norm(notebooks):
    nb = notebooks('attack'); page = nb.page
    latencies = []
    for norm, eps in [('linf', 4/255), ('l2', 0.5), ('linf', 4/255), ('l2', 0.5)]:        # the switch that was right once in four
        before = page.evaluate(TEXT)
        latencies.append(nb.timed(lambda: page.locator('.widget-dropdown select').select_option(norm), f"(b) => ({TEXT})() !== b", arg=before, control='norm'))
        page.wait_for_timeout(300)                                                        # let any echo from the page arrive
        s = nb.kernel_state()
        assert s['norm'] == norm and s['eps'] == pytest.approx(eps), s
        shown = float(nb.readout('ε'))
        assert shown == pytest.approx(eps, abs=0.006), (shown, eps)                       # the page shows the budget used
        if norm == 'linf': assert s['linf'] <= eps + 1e-6, s                              # and the attack ran at it
        else: assert s['l2'] <= eps + 1e-4, s
    before = page.evaluate(TEXT)
    latencies.append(nb.timed(lambda: nb.slider_keys('ε', 'ArrowLeft'), f"(b) => ({TEXT})() !== b", arg=before, control='ε'))
    s = nb.kernel_state(); assert s['eps'] == pytest.approx(0.45) and float(nb.readout('ε')) == pytest.approx(0.45), s
    assert_page_agrees(nb, s)
    print(f"\nattack explorer: seconds from input to page {[round(t, 3) for t in latencies]}")
    assert nb.errors == [], nb.errors

def test_gate_explorer_controls_do_what_they_say(notebooks):
    nb = notebooks('gate'); page = nb.page
    thr = nb.slider('threshold').locator('.noUi-target')
    s0 = nb.kernel_state()
    assert s0['disabled'] and thr.get_attribute('disabled') is not None                    # soft gate: threshold greyed out
    before = page.evaluate(TEXT)
    t_T = nb.timed(lambda: nb.slider_keys('T', *['ArrowRight']*6), f"(b) => ({TEXT})() !== b", arg=before, control='T')
    page.wait_for_timeout(500); s1 = nb.kernel_state()
    assert s1['T'] > s0['T'] and s1['top'] < s0['top'], (s0, s1)                           # a hotter target is less confident
    assert float(nb.readout('T')) == pytest.approx(s1['T'], rel=0.01)
    before = page.evaluate(TEXT)
    t_gate = nb.timed(lambda: page.get_by_role('button', name='hard', exact=True).click(), f"(b) => ({TEXT})() !== b", arg=before, control='gate')
    s2 = nb.kernel_state()
    assert s2['gate'] == 'hard' and not s2['disabled'] and thr.get_attribute('disabled') is None, s2
    xr = page.evaluate("() => document.querySelector('.js-plotly-plot')._fullLayout.xaxis.range")
    assert xr[0] <= 0 and xr[1] >= 1, xr                                                   # the whole [0, 1] of w is on the axis
    before = page.evaluate(TEXT)
    nb.timed(lambda: nb.slider_keys('threshold', 'ArrowLeft', 'ArrowLeft'), f"(b) => ({TEXT})() !== b", arg=before, control='threshold')
    before = page.evaluate(TEXT)
    nb.timed(lambda: page.get_by_role('button', name='mi', exact=True).click(), f"(b) => ({TEXT})() !== b", arg=before, control='uncertainty')
    nb.settle(); s3 = nb.kernel_state()
    assert s3['threshold'] < 0.3 and s3['_']['controls']['uncertainty']['value'] == 'mi', s3   # MI's range (about 0-0.25), same share trusted
    assert_page_agrees(nb, s3)
    print(f"\ngate explorer: T {t_T:.3f} s, gate {t_gate:.3f} s from input to page")
    assert nb.errors == [], nb.errors

def test_gate_explorer_threshold_moves_under_every_measure(notebooks):
    """Under the hard gate with MI as the uncertainty, the threshold slider ran from 0.05 to 1 while the teacher's MI stays
    below about 0.25 on these images: every threshold trusted every image, so the slider changed nothing (the course
    benchmark, issue 17: no change within 60 s). The slider's range follows the measure, switching the measure keeps
    the share of trusted images, and the threshold's steps re-gate images, which the page shows."""
    nb = notebooks('gate'); page = nb.page
    for name in ('hard', 'entropy', 'mi'): page.get_by_role('button', name=name, exact=True).click(); nb.settle()
    s = nb.kernel_state()
    assert s['gate'] == 'hard' and s['_']['controls']['uncertainty']['value'] == 'mi' and not s['disabled'], s
    assert 0 < s['w'] < 1, f"after switching to MI the hard gate trusts {s['w']:.0%} of the images: the threshold sits outside the measure's values ({s})"
    regated = []
    for key in ('ArrowRight', 'ArrowLeft', 'ArrowLeft'):
        before, s0 = page.evaluate(TEXT), s
        try: nb.timed(lambda: nb.slider_keys('threshold', key), _changed(TEXT), arg=before, timeout=15_000, control='threshold (mi)')
        except Exception: pass                                                              # judged below, against the kernel
        nb.settle(); s = nb.kernel_state()
        assert s['threshold'] != pytest.approx(s0['threshold']), (key, s0['threshold'], s['threshold'])   # the key moved the slider
        if s['w'] != pytest.approx(s0['w']):
            regated.append(key)
            assert page.evaluate(TEXT) != before, f"{key}: the kernel re-gated images ({s0['w']:.3f} -> {s['w']:.3f}) but the page shows the same"
        assert_page_agrees(nb, s)
    assert len(regated) >= 2, f"threshold steps under MI re-gated images on {regated} only (thresholds {s0['threshold']} .. {s['threshold']})"
    assert nb.errors == [], nb.errors

PLOT = "() => { const g = document.querySelectorAll('.js-plotly-plot')[0]; return {marker: [g._fullData[2].x[0], g._fullData[2].y[0]], bars: Array.from(g._fullData[0].y), curve: g._fullData[1].x.length, xr: g._fullLayout.xaxis2.range}; }"

def test_wiseft_widget_first_render_and_alpha(notebooks):
    nb = notebooks('wiseft'); page = nb.page
    page.wait_for_function("() => { const g = document.querySelector('.js-plotly-plot'); return g && g._fullData && g._fullData.length > 1 && g._fullData[1].x && g._fullData[1].x.length > 0; }", timeout=60_000)
    first, s = page.evaluate(PLOT), nb.kernel_state()
    assert first['marker'] == pytest.approx(s['marker']) and first['marker'][0] == pytest.approx(s['scores']['reference'])   # first render right
    xs = [c[0] for c in s['curve']]
    assert first['xr'][0] <= min(xs) and first['xr'][1] >= max(xs) and first['xr'][1] - first['xr'][0] <= max(xs) - min(xs) + 10.01, first
    latencies = []
    nb.focus_slider('α'); nb.settle(300)                                                   # on screen and focused before the clock starts
    for keys in (['ArrowRight'], ['ArrowLeft'], ['ArrowLeft'], ['ArrowLeft']):
        before = page.evaluate(PLOT)['bars']
        latencies.append(nb.timed(lambda: nb.slider_keys('α', *keys, focus=False), f"(b) => JSON.stringify(({PLOT})().bars) !== JSON.stringify(b)", arg=before, control='α'))
    page.wait_for_timeout(300)
    now, s = page.evaluate(PLOT), nb.kernel_state()
    assert s['alpha'] == pytest.approx(0.4) and s['used'] == pytest.approx(0.4) and float(nb.readout('α')) == pytest.approx(0.4)
    assert now['marker'] == pytest.approx(s['marker']) and tuple(s['marker']) in {tuple(c) for c in s['curve']}   # the marker sits on the curve
    assert now['bars'] == pytest.approx(list(s['scores'].values()))
    assert_page_agrees(nb, s)
    print(f"\nWiSE-FT α widget: seconds from key press to page {[round(t, 3) for t in latencies]}")
    assert nb.errors == [], nb.errors

def test_wiseft_severity_keys_compute_only_the_last(notebooks):
    "Two quick presses on the severity slider: the kernel computes severity 5 only, and the page's value is the kernel's at once."
    nb = notebooks('wiseft'); page = nb.page
    nb.settle(); s0 = nb.kernel_state()
    sev0 = s0['_']['controls']['severity']['value']; assert sev0 <= 3, s0
    label = f"{s0['_']['controls']['corruption']['value']} ({sev0 + 2})"
    bars = "() => document.querySelector('.js-plotly-plot')._fullData[0].x[2]"
    dt = nb.timed(lambda: nb.slider_keys('severity', 'ArrowRight', 'ArrowRight'), f"(l) => ({bars})() === l", arg=label, control='severity (two key presses)')
    s = nb.kernel_state()
    assert s['_']['controls']['severity']['value'] == sev0 + 2 and nb.readout('severity') == str(sev0 + 2), s
    skipped = label.replace(f'({sev0 + 2})', f'({sev0 + 1})')
    assert label in s['computed'] and skipped not in s['computed'], f"computed {s['computed']}: {skipped} was computed on the way to {label}"
    assert_page_agrees(nb, s)
    print(f"\nWiSE-FT severity: {dt:.3f} s from two key presses to the page")
    assert nb.errors == [], nb.errors

def test_two_figures_made_at_once_are_both_drawn(notebooks):
    "Every figure on the page holds the kernel's traces: none blank after a Run All that makes two."
    nb = notebooks('two'); page = nb.page
    cell = page.locator('.jp-Notebook .jp-Cell').nth(3)
    kernel = json.loads(cell.locator('.jp-OutputArea-output').last.inner_text(timeout=20_000))
    drawn = page.evaluate("""() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(g => ({traces: g._fullData.map(t => ({x: Array.from(t.x || []),
        y: Array.from(t.y || [])})), svg: g.querySelectorAll('.main-svg .trace').length}))""")
    assert len(drawn) == 2, drawn
    for k, (d, kt) in enumerate(zip(drawn, kernel)):
        assert len(d['traces']) == len(kt) == 3 and d['svg'] >= 3, f'figure {k} is blank or partial: {d}'
        for pt, t in zip(d['traces'], kt):
            assert [v for v in pt['x'] if isinstance(v, str)] == [v for v in t['x'] if isinstance(v, str)], (k, pt, t)
            assert [v for v in pt['y']] == pytest.approx(t['y'], abs=1e-4), (k, pt['y'], t['y'])
    assert nb.errors == [], nb.errors

def _labels_cut(page) -> list[str]:
    "Widget labels the page shows cut off (with an ellipsis): wider than their box."
    return page.evaluate("() => Array.from(document.querySelectorAll('.widget-label, .widget-label-basic')).filter(e => e.offsetParent && e.scrollWidth > e.clientWidth + 1).map(e => e.textContent)")

def test_corruption_explorer_severity_steps(notebooks):
    nb = notebooks('corruption'); page = nb.page
    title = "() => document.querySelector('.js-plotly-plot')._fullLayout.title.text"
    latencies = []
    for key in ('ArrowRight', 'ArrowRight', 'ArrowLeft'):                               # 4, 5, then 4 again (seen before)
        before = page.evaluate(title)
        latencies.append(nb.timed(lambda: nb.slider_keys('severity', key), f"(b) => ({title})() !== b", arg=before, control='severity'))
    page.wait_for_timeout(300)
    s = nb.kernel_state()
    assert s['severity'] == 4 and nb.readout('severity') == '4' and page.evaluate(title) == s['title'] and 'severity 4' in s['title'], s
    before = page.evaluate(title)
    nb.timed(lambda: page.locator('.widget-dropdown select').select_option('fog'), f"(b) => ({title})() !== b", arg=before, control='corruption')
    nb.settle(); s = nb.kernel_state()
    assert s['name'] == 'fog' and s['title'].startswith('fog, severity 4'), s
    assert_page_agrees(nb, s)
    print(f"\ncorruption explorer: seconds from key press to page {[round(t, 3) for t in latencies]}")
    assert _labels_cut(page) == [] and nb.errors == [], (_labels_cut(page), nb.errors)

def test_router_explorer_labels_and_thresholds(notebooks):
    nb = notebooks('router'); page = nb.page
    assert _labels_cut(page) == [], _labels_cut(page)                                   # "KL threshold", not "KL thresh…"
    s0 = nb.kernel_state()
    before = page.evaluate(TEXT)
    nb.timed(lambda: nb.slider_keys('KL threshold', *['End']), f"(b) => ({TEXT})() !== b", arg=before, control='KL threshold')   # all the way up: the heads always "agree"
    nb.settle(); s1 = nb.kernel_state()
    assert s1['kl'] == pytest.approx(10.0) and float(nb.readout('KL threshold')) == pytest.approx(10.0, rel=0.02), s1
    assert s1['share'] >= s0['share'], (s0, s1)
    assert_page_agrees(nb, s1)
    assert nb.errors == [], nb.errors

SHOWN = "() => JSON.stringify([(" + PAGE_STATE + ")().traces, (" + PAGE_STATE + ")().html])"   # what the page shows, the controls' readouts left out

def test_router_explorer_every_routing_change_shows(notebooks):
    """The chapter's fitted router has its KL gate at the lowest value, where few images pass it: there the "clean
    uncertainty ≤" slider and the "pick by" toggle re-routed images in the kernel while the page stayed the same (the
    bars and the text show accuracies and the clean head's share only; seen in the course benchmark, issue 17). Each
    change that re-routes an image must show on the page, and the page must show the kernel's routing."""
    nb = notebooks('router'); page = nb.page
    nb.slider_keys('KL threshold', 'Home'); nb.slider_keys('clean uncertainty ≤', 'Home'); nb.settle()
    s = nb.kernel_state()
    assert s['kl'] == pytest.approx(1e-3) and s['_']['controls']['clean uncertainty ≤']['value'] == 0, s
    other = {'entropy': 'mi', 'mi': 'entropy'}[s['_']['controls']['pick by']['value']]
    rerouted = []
    for label, act in [('clean uncertainty ≤', lambda: nb.slider_keys('clean uncertainty ≤', 'ArrowRight')),
                       ('clean uncertainty ≤', lambda: nb.slider_keys('clean uncertainty ≤', 'ArrowRight')),
                       ('pick by', lambda: _toggle(page, 'pick by', other).click())]:
        before, s0 = page.evaluate(SHOWN), s
        try: nb.timed(act, _changed(SHOWN), arg=before, timeout=15_000, control=label)
        except Exception: pass                                                              # judged below, against the kernel
        nb.settle(); s = nb.kernel_state()
        if s['routing'] != s0['routing']:
            rerouted.append(label)
            assert page.evaluate(SHOWN) != before, f"{label}: the kernel re-routed images ({s0['routing']} -> {s['routing']}) but the page shows the same"
        assert_page_agrees(nb, s)
    assert 'pick by' in rerouted and len(rerouted) >= 2, rerouted                       # the steps did re-route: the check above checked something
    assert s['_']['controls']['pick by']['value'] == other and s['_']['controls']['clean uncertainty ≤']['value'] == pytest.approx(0.1), s
    assert nb.errors == [], nb.errors

def test_style_explorer_class_filter_fills_the_strip(notebooks):
    nb = notebooks('styles'); page = nb.page
    before = page.evaluate(TEXT)
    nb.timed(lambda: page.locator('.widget-dropdown select').select_option('heart'), f"(b) => ({TEXT})() !== b", arg=before, control='class')
    nb.settle(); s = nb.kernel_state()
    assert s['cls'] == 'heart' and len(s['labels']) == 8 and len(set(s['labels'])) == 1 and s['width'] == 8*32, s
    shown = page.evaluate("() => document.querySelector('.js-plotly-plot')._fullData[0].z[0].length")
    assert shown == 8*32, shown                                                          # eight tiles, none blank
    assert_page_agrees(nb, s)
    assert nb.errors == [], nb.errors

def _dropdown(page, label):
    return page.locator('.widget-dropdown', has=page.locator('label', has_text=re.compile(f'^{re.escape(label)}$'))).locator('select')
def _toggle(page, label, option):
    return page.locator('.widget-toggle-buttons', has=page.locator('label', has_text=re.compile(f'^{re.escape(label)}$'))).get_by_role('button', name=option, exact=True)
def _zsum(i): return f"() => {{ const t = document.querySelector('.js-plotly-plot')._fullData[{i}]; const s = v => typeof v === 'number' ? v : Array.from(v).reduce((a, b) => a + s(b), 0); return s(t.z); }}"
def _changed(js): return f"(b) => ({js})() !== b"

def test_augmentation_explorer_recipe_strength_seed(notebooks):
    """AugMix's and PixMix's strength is their `magnitude` (1-10), the held-out shifts' their `severity` (1-5): the slider's
    label and range follow the recipe (it read "severity" for AugMix after issue 15 renamed the argument)."""
    nb = notebooks('augment'); page = nb.page
    s0 = nb.kernel_state(); assert_page_agrees(nb, s0)                                       # the first render is what the kernel holds
    assert s0['label'] == 'magnitude' and nb.slider('magnitude').count() == 1 and nb.slider('severity').count() == 0, s0
    z = "() => document.querySelector('.js-plotly-plot')._fullData[0].source"              # the strip is sent as a PNG
    for label, act in [('recipe', lambda: _toggle(page, 'recipe', 'pixmix').click()),
                       ('magnitude', lambda: nb.slider_keys('magnitude', 'ArrowRight', 'ArrowRight', 'ArrowRight', 'ArrowRight', 'ArrowRight')),
                       ('seed', lambda: nb.slider_keys('seed', 'ArrowRight'))]:
        before = page.evaluate(z)
        nb.timed(act, _changed(z), arg=before, control=label)                               # every control changes the views
    nb.settle(); s1 = nb.kernel_state()
    assert (s1['recipe'], s1['strength'], s1['seed']) == ('pixmix', 8, 1), s1
    assert s1['views'] != s0['views'] and s1['_']['title'].startswith('pixmix, magnitude 8'), s1
    assert_page_agrees(nb, s1)
    before = page.evaluate(z)                                                                # the held-out shifts stop at severity 5: the slider says so
    nb.timed(lambda: _toggle(page, 'recipe', 'held-out shifts').click(), _changed(z), arg=before, control='recipe')
    nb.settle(); s2 = nb.kernel_state()
    assert s2['strength'] == 5 and s2['label'] == 'severity' and nb.readout('severity') == '5' and s2['_']['title'].startswith('held-out shifts, severity 5'), s2
    assert nb.slider('magnitude').count() == 0, 'the held-out shifts have a severity, not a magnitude'
    assert_page_agrees(nb, s2)
    before = page.evaluate(z)
    nb.timed(lambda: nb.slider_keys('severity', 'ArrowLeft'), _changed(z), arg=before, control='severity')
    nb.settle(); s3 = nb.kernel_state()
    assert s3['strength'] == 4 and s3['views'] != s2['views'], s3
    assert_page_agrees(nb, s3)
    assert _labels_cut(page) == [] and nb.errors == [], (_labels_cut(page), nb.errors)

def test_sample_explorer_image_corruption_severity(notebooks):
    nb = notebooks('inspector'); page = nb.page
    s0 = nb.kernel_state(); assert_page_agrees(nb, s0)
    assert s0['_']['controls']['severity']['disabled'] is False
    z = _zsum(0)
    before = page.evaluate(z)
    nb.timed(lambda: nb.slider_keys('image', 'ArrowRight', 'ArrowRight', 'ArrowRight'), _changed(z), arg=before, control='image')
    before = page.evaluate(z)
    nb.timed(lambda: _dropdown(page, 'corruption').select_option('clean'), _changed(z), arg=before, control='corruption')
    nb.settle(); s1 = nb.kernel_state()
    assert (s1['image'], s1['corruption']) == (3, 'clean') and s1['choice'] in s1['_']['html'][0], s1
    assert s1['_']['controls']['severity']['disabled'], s1                                   # clean images have no severity: greyed out
    assert_page_agrees(nb, s1)
    _dropdown(page, 'corruption').select_option('fog'); nb.settle()
    before = page.evaluate(z)
    nb.timed(lambda: nb.slider_keys('severity', 'ArrowLeft', 'ArrowLeft'), _changed(z), arg=before, control='severity')
    nb.settle(); s2 = nb.kernel_state()
    assert (s2['corruption'], s2['severity']) == ('fog', 3) and not s2['_']['controls']['severity']['disabled'], s2
    assert_page_agrees(nb, s2)
    assert _labels_cut(page) == [] and nb.errors == [], (_labels_cut(page), nb.errors)

def test_attribution_explorer_image_model_method(notebooks):
    nb = notebooks('attribution'); page = nb.page
    s0 = nb.kernel_state(); assert_page_agrees(nb, s0)
    z = _zsum(1)                                                                             # the attribution map
    for label, act in [('image', lambda: nb.slider_keys('image', 'ArrowRight')),
                       ('model', lambda: _dropdown(page, 'model').select_option('trained')),
                       ('method', lambda: _dropdown(page, 'method').select_option('integrated_gradients'))]:
        before = page.evaluate(z)
        nb.timed(act, _changed(z), arg=before, control=label)
    nb.settle(); s1 = nb.kernel_state()
    assert (s1['index'], s1['model'], s1['method']) == (1, 'trained', 'integrated_gradients'), s1
    assert s1['heat_max'] == pytest.approx(1.0) and 'integrated_gradients' in s1['_']['html'][0], s1
    assert_page_agrees(nb, s1)
    assert _labels_cut(page) == [] and nb.errors == [], (_labels_cut(page), nb.errors)

# ------------------------------------------------------------------------------------------------ random orders
# Per widget, the controls a student can change and how: ('keys', slider label) presses 1-3 arrow keys one way;
# ('select', dropdown label, options) picks one; ('click', toggle label, options) clicks one.
RANDOM = {
    'wiseft': [('keys', 'α'), ('select', 'style', ['sketch', 'clutter']), ('select', 'corruption', ['fog', 'gaussian_noise', 'contrast']), ('keys', 'severity')],
    'attack': [('keys', 'image'), ('select', 'norm', ['linf', 'l2']), ('keys', 'ε')],
    'gate': [('keys', 'T'), ('click', 'gate', ['soft', 'hard']), ('keys', 'threshold'), ('click', 'uncertainty', ['entropy', 'mi'])],
    'corruption': [('select', 'corruption', ['gaussian_noise', 'fog', 'contrast', 'pixelate']), ('keys', 'severity')],
    'augment': [('click', 'recipe', ['augmix', 'pixmix', 'held-out shifts']), ('keys', 'magnitude|severity'), ('keys', 'seed')],   # its label follows the recipe
    'inspector': [('keys', 'image'), ('select', 'corruption', ['clean', 'gaussian_noise', 'fog']), ('keys', 'severity')],
    'attribution': [('keys', 'image'), ('select', 'model', ['random', 'trained']), ('select', 'method', ['saliency', 'input_x_gradient', 'smoothgrad'])],
}

def _random_step(nb, rng, spec):
    kind, label, *opts = spec; page = nb.page
    if kind == 'keys':
        label = next((l for l in label.split('|') if nb.slider(l).count()), label)       # 'a|b': the slider shown now, labelled a or b
        if nb.slider(label).locator('.noUi-target[disabled]').count(): return f'{label}: disabled'
        keys = [rng.choice(['ArrowLeft', 'ArrowRight'])]*rng.randint(1, 3)
        nb.slider_keys(label, *keys); return f'{label}: {keys}'
    choice = rng.choice(opts[0])
    if kind == 'select': _dropdown(page, label).select_option(choice)
    else: _toggle(page, label, choice).click()
    return f'{label} = {choice}'

# The WiSE-FT case failed once (a clean-clone CI run of 22de062): its curve differed in a few points from a fresh widget's.
# JupyterLab 4.6 handles widget messages on a kernel subshell (a thread of its own in ipykernel 7), so the widget scored
# α values while the fresh widget's cell, in the main thread, wrote other α values into the same ensemble's working
# model. WiseEnsemble now holds a lock from θα to the end of the forward pass (tests/test_wiseft.py reproduces both).
@pytest.mark.parametrize('name', list(RANDOM))
def test_random_order(notebooks, name):
    """A seeded random sequence of control changes, some faster than the widget updates; then the page, the kernel and a
    fresh widget set directly to the final values agree."""
    nb = notebooks(name); rng = random.Random(f"{name}-{os.environ.get('ROBUSTIFY_BROWSER_SEED', '17')}")   # another seed: another sequence
    done = []
    for _ in range(8):
        done.append(_random_step(nb, rng, rng.choice(RANDOM[name])))
        nb.page.wait_for_timeout(rng.choice([50, 200, 800]))                              # sometimes faster than the update
    nb.settle(1000)
    # A value the page shows can reach the kernel seconds after the kernel went idle (seen on the WiSE-FT severity
    # slider: the page showed 5 while the kernel and the figure held 4, for up to ~8 s on a loaded machine). The page
    # must come to agree; how long that took is recorded ('held back'), and more than 30 s fails.
    t0, tries = time.perf_counter(), 0
    while True:
        s = nb.kernel_state(); shown = nb.page_state()['controls']; tries += 1
        if all(label in shown and _shown_matches(shown[label]['value'], c['value'], c['format']) for label, c in s['_']['controls'].items()): break
        if time.perf_counter() - t0 > 30: break                                          # assert_page_agrees says what differs
        nb.page.wait_for_timeout(1000); nb.settle(1000)
    if tries > 1: record_latency(nb.out, name, 'held back after random order', time.perf_counter() - t0)   # they disagreed at first
    try: assert_page_agrees(nb, s)
    except AssertionError as e: raise AssertionError(f"{name} after {done}: {e}") from None
    f = nb.kernel_state(2)
    assert f['same'], f"{name} after {done}: the driven widget and a fresh one set to its values differ: {f}"
    if name == 'wiseft':
        assert s['used'] == pytest.approx(s['alpha']) and tuple(s['marker']) in {tuple(c) for c in s['curve']}, s
    if name == 'attack':
        assert (s['linf'] if s['norm'] == 'linf' else s['l2']) <= s['eps'] + 1e-4, s
    nb.shot('random')
    assert nb.errors == [], nb.errors
