"""Offline documentation for robustify-nb.

nbdev's own `nbdev-readme` and `nbdev-docs` render through Quarto, which cannot be installed offline, so:

    python docs/nbdocs.py readme   # README.md from nbs/index.ipynb
    python docs/nbdocs.py site     # the site, from nbdev's processed notebooks, with Sphinx + myst-nb -> docs/_build/html
    python docs/nbdocs.py site --unexecuted   # the same site from nbs/ as committed (no outputs, nothing executed: CI)
    python docs/nbdocs.py times demo_out/timings.json --note "quiet machine, load 0.1"   # refresh the course map's times

`site` documents the *executed* notebooks of `make demo` (demo_out/nbs; notebooks missing there or older than their
source are executed first), runs nbdev's processors on them (show_doc API sections, hidden cells, export cells
folded into their documentation), turns plotly outputs into HTML (plotly.js is served once from _static), and builds
the site with Sphinx, executing nothing. The site has a course map (`course`: the chapters in order, what each teaches,
its time at the quick and the full size from docs/course_times.json, what it needs from docs/course.json, its widgets
and its worked solutions) and a "Solutions" section (nbs/solutions/*.ipynb).
"""
import argparse, json, re, shutil, subprocess, sys, html, uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT/'docs'

def _src(c): return ''.join(c['source']) if isinstance(c['source'], list) else c['source']

def nb_to_markdown(nb:dict) -> str:
    "GitHub-flavoured markdown of a clean notebook: markdown cells as they are, visible code cells fenced."
    parts = []
    for c in nb['cells']:
        s = _src(c)
        if c['cell_type'] == 'markdown': parts.append(s.strip())
        elif c['cell_type'] == 'code':
            if re.search(r'^#\|\s*(hide|export)', s, re.M): continue
            code = '\n'.join(l for l in s.splitlines() if not l.startswith('#|')).strip()
            if code: parts.append(f'```python\n{code}\n```')
    return '\n\n'.join(parts) + '\n'

def readme(check:bool=False) -> int:
    "Write README.md from nbs/index.ipynb (with --check: fail if it is stale)."
    text = nb_to_markdown(json.loads((ROOT/'nbs/index.ipynb').read_text()))
    text += '\n<!-- Generated from nbs/index.ipynb by `make readme`: edit the notebook, not this file. -->\n'
    out = ROOT/'README.md'
    if check: return 0 if out.exists() and out.read_text() == text else 1
    if not out.exists() or out.read_text() != text: out.write_text(text)
    return 0

# ---------------------------------------------------------------------------------------------------- the site
# The whole figure goes to Plotly.newPlot, frames included (a kernel-free slider animates between frames: without them
# it moves its handle and nothing else). A fixed layout width is dropped and the figure is drawn once the page is laid
# out (the table of contents on the right is parsed after it), so it fits the content column.
PLOTLY_DIV = '<div id="{id}" class="plotly-graph-div" style="width:100%;min-height:{h}px"></div>\n<script>{{const f={fig};const draw=()=>Plotly.newPlot("{id}", {{data: f.data, layout: f.layout, frames: f.frames || [], config: {{responsive: true}}}});document.readyState === "loading" ? document.addEventListener("DOMContentLoaded", draw) : draw();}}</script>'
SITE_CSS = """/* robustify-nb: outputs never spill past the content column; plotly figures resize with it */
.bd-article .cell_output { overflow-x: auto; }
.bd-article .plotly-graph-div { max-width: 100%; }
"""

def plotly_html(fig:dict) -> str:
    "A plotly figure (its JSON) as a div and the script that draws it, frames included, at the content column's width."
    fig = dict(fig); layout = dict(fig.get('layout') or {})
    layout.pop('width', None); layout['autosize'] = True
    fig['layout'] = layout
    return PLOTLY_DIV.format(id='fig-' + uuid.uuid4().hex[:10], h=layout.get('height', 450), fig=json.dumps(fig))

def static_assets(static:Path):
    "What the site serves itself: plotly.js, MathJax 3 (from the django-static-mathjax package) and the site's CSS."
    import plotly, mathjax
    static.mkdir(parents=True, exist_ok=True)
    shutil.copy(Path(plotly.__file__).parent/'package_data'/'plotly.min.js', static/'plotly.min.js')
    es5 = Path(mathjax.__file__).parent/'static'/'mathjax'/'es5'
    if not (static/'mathjax'/'tex-mml-chtml.js').exists(): shutil.copytree(es5, static/'mathjax', dirs_exist_ok=True)
    (static/'robustify.css').write_text(SITE_CSS)

def _executed(exe:Path, rerun:bool):
    "Make sure every notebook has an up-to-date executed copy in `exe` (runs the stale ones)."
    srcs = sorted(p for p in (ROOT/'nbs').glob('*.ipynb') if not p.name.startswith('_'))
    stale = [p.stem for p in srcs if rerun or not (exe/p.name).exists() or (exe/p.name).stat().st_mtime < p.stat().st_mtime]
    if stale:
        print(f"executing {len(stale)} notebook(s) for the docs: {', '.join(stale)}", flush=True)
        sys.path.insert(0, str(ROOT))
        from robustify_nb.cli import run_demo
        run_demo(exe.parent, ROOT/'nbs', only=stale)
    return srcs

def _frontmatter(nb):
    "Title and description from nbdev's frontmatter raw cell (removed)."
    meta = {}
    for c in list(nb['cells']):
        s = _src(c)
        if c['cell_type'] == 'raw' and s.startswith('---'):
            for m in re.finditer(r'^(\w[\w-]*):\s*(.*(?:\n\s{2,}.*)*)', s, re.M): meta[m.group(1)] = ' '.join(m.group(2).split())
            nb['cells'].remove(c)
    return meta.get('title', ''), meta.get('description', '')

def convert(nb:dict) -> dict:
    "A processed notebook made ready for myst-nb: title cell, directives to tags, plotly to HTML, no Quarto syntax."
    title, desc = _frontmatter(nb)
    cells = [dict(cell_type='markdown', metadata={}, source=f"# {title}\n\n*{desc}*" if desc else f"# {title}")] if title else []
    for c in nb['cells']:
        s = _src(c)
        if c['cell_type'] == 'markdown':
            s = '\n'.join(l for l in s.splitlines() if not l.startswith(':::') and not l.startswith('<!-- WARNING'))
            if not s.strip(): continue
            c['source'] = s
        elif c['cell_type'] == 'code':
            dirs = dict(re.findall(r'^#\|\s*([\w-]+):?\s*(.*)$', s, re.M))
            tags = c.setdefault('metadata', {}).setdefault('tags', [])
            if dirs.get('echo', '').strip() == 'false': tags.append('remove-input')
            if dirs.get('output', '').strip() == 'false': tags.append('remove-output')
            c['source'] = '\n'.join(l for l in s.splitlines() if not l.startswith('#|'))
            if not c['source'].strip() and not c.get('outputs'): continue
            for o in c.get('outputs', []):
                d = o.get('data', {})
                if 'text/markdown' in d:            # show_doc opens with a rule, which docutils refuses inside an output
                    d['text/markdown'] = re.sub(r'^\s*---\s*\n', '', _src({'source': d['text/markdown']}))
                if 'application/vnd.plotly.v1+json' in d:
                    d['text/html'] = plotly_html(d.pop('application/vnd.plotly.v1+json'))
                    d.pop('text/plain', None)
                if re.search(r'\d+%\|', ''.join(d.get('text/plain', ''))):   # a tqdm progress bar: nothing to show in a page
                    d.clear(); d['text/plain'] = ''; continue
                if 'application/vnd.jupyter.widget-view+json' in d:
                    d.pop('application/vnd.jupyter.widget-view+json')
                    d['text/html'] = ('<p class="widget-note"><em>A live widget is shown here when the notebook runs in '
                                      'JupyterLab (<code>make lab</code>).</em></p>')
                    d.pop('text/plain', None)
        cells.append(c)
    nb['cells'] = cells
    nb['metadata'].pop('widgets', None)
    return nb

def _only_eval_what_show_doc_needs():
    """nbdev re-executes every cell that contains an import anywhere (even inside an `if`), which reruns experiment
    cells out of context. The executed notebooks already hold every output, so the docs evaluate only what `show_doc`
    needs: exported cells, cells made of imports only, and show_doc calls (n_workers=0 keeps this in-process)."""
    import ast, nbdev.processors as P
    def _do_eval(cell):
        if P.cell_lang(cell) != 'python' or cell.cell_type != 'code' or not cell.source: return
        trees = cell.parsed_()
        if not trees or cell.directives_.get('eval', '').lower() == 'false': return
        # the closing `nbdev_export()` cell is not run; a cell that merely mentions it in a string (20_cli) is
        calls = [t.value.func for t in trees if isinstance(t, ast.Expr) and isinstance(t.value, ast.Call)]
        if any(getattr(f, 'attr', getattr(f, 'id', None)) == 'nbdev_export' for f in calls): return
        if cell.directives_.keys() & {'export', 'exports', 'exporti', 'exec_doc'}: return True
        if all(isinstance(t, (ast.Import, ast.ImportFrom)) for t in trees): return True
        if P._show_docs(trees): return True
    P._do_eval = _do_eval

def page_name(p:Path) -> str:
    "The site's page for a notebook: `index`, the chapter name without its number, or `solutions/<stem>`."
    if p.parent.name == 'solutions': return f'solutions/{p.stem}'
    return 'index' if p.stem == 'index' else re.sub(r'^\d+_', '', p.stem)

def site(rerun:bool=False, unexecuted:bool=False, out:Path|None=None) -> int:
    "Build the documentation site into `out` (default docs/_build: html/ and the pages' sources in _src/); `unexecuted`: from nbs/ as committed, running nothing."
    if unexecuted: exe = ROOT/'nbs'
    else: exe = ROOT/'demo_out'/'nbs'; _executed(exe, rerun)
    srcs = sorted(p for p in (ROOT/'nbs').glob('*.ipynb') if not p.name.startswith('_')) + solutions()
    from nbdev.serve import proc_nbs
    _only_eval_what_show_doc_needs()
    shutil.rmtree(ROOT/'_proc', ignore_errors=True)
    proc = proc_nbs(str(exe), n_workers=0)
    pages = {}
    for p in srcs:
        rel = p.relative_to(ROOT/'nbs')
        done = proc/rel if (proc/rel).exists() else None   # solutions the demo did not execute: taken as committed
        if done is None:
            proc_nbs(str(p.parent), n_workers=0); done = proc/p.name
        pages[page_name(p)] = convert(json.loads(done.read_text()))
    pages['course'] = course_map()
    return build_pages(pages, Path(out)/'_src' if out else DOCS/'_src', Path(out or DOCS/'_build')/'html')

# ---------------------------------------------------------------------------------------------------- the course map
def chapters(nbs=None) -> list[Path]:
    "The chapter notebooks in reading order (nbs/NN_*.ipynb)."
    return sorted(Path(nbs or ROOT/'nbs').glob('[0-9][0-9]_*.ipynb'))

def solutions(nbs=None) -> list[Path]:
    "The worked-solutions notebooks (nbs/solutions/NN_<chapter>.ipynb)."
    return sorted((Path(nbs or ROOT/'nbs')/'solutions').glob('[0-9]*.ipynb'))

def chapter_summary(nb:dict) -> dict:
    "Title and one-line description (the `# Title` / `> description` cell) and the widgets a chapter exports."
    import ast
    title, desc, widgets = '', '', []
    for c in nb['cells']:
        s = _src(c)
        if c['cell_type'] == 'markdown' and not title and (m := re.match(r'#\s+(.+)\n+>\s*(.+)', s.strip())): title, desc = m.groups()
        if c['cell_type'] == 'code' and re.match(r'#\|\s*export', s):
            try: tree = ast.parse('\n'.join(l for l in s.splitlines() if not l.startswith('#|')))
            except SyntaxError: continue
            widgets += [f.name for f in tree.body if isinstance(f, ast.FunctionDef)
                        and (re.match(r'(A )?[Ww]idget\b', ast.get_docstring(f) or '') or re.match(r'[a-z]+_(explorer|widget|browser|inspector)$', f.name))]
    return dict(title=title, description=desc, widgets=widgets)

def _seconds(entry:dict|None) -> str:
    if not entry or entry.get('seconds') is None: return '—'
    s = entry['seconds']; t = f"{s:.0f} s" if s < 120 else f"{s/60:.1f} min"
    if str(entry.get('source', '')).startswith('budget'): t = f"≤ {t} (budget)"
    elif entry.get('tag'): t += f" ({entry['tag']})"
    if entry.get('to_widget') is not None: t += f", widget at {entry['to_widget']:.0f} s"
    return t

def course_map(nbs=None, times:Path|None=None, course:Path|None=None) -> dict:
    "The course map page (a notebook of markdown cells): one row per chapter of `nbs`, linked to its page and its solutions."
    nbs = Path(nbs or ROOT/'nbs')
    times = json.loads(Path(times or DOCS/'course_times.json').read_text())['chapters']
    needs = json.loads(Path(course or DOCS/'course.json').read_text())['needs']
    sols = {p.stem: page_name(p) for p in solutions(nbs)}
    rows, linked, notes = [], set(), []
    for i, p in enumerate(chapters(nbs)):
        info = chapter_summary(json.loads(p.read_text()))
        sol = sols.get(p.stem); linked.add(p.stem)
        t = times.get(p.stem, {})
        cells = [f"{i}", f"{{doc}}`{info['title'] or p.stem} <{page_name(p)}>`", info['description'].replace('|', '\\|'),
                 _seconds(t.get('quick')), _seconds(t.get('full')), needs.get(p.stem, '—').replace('|', '\\|'),
                 ', '.join(f'`{w}`' for w in info['widgets']) or '—', f"{{doc}}`solutions <{sol}>`" if sol else '—']
        rows.append('| ' + ' | '.join(cells) + ' |')
        notes += [f"- {info['title'] or p.stem}, {size} size: {t[size]['source']}" for size in ('quick', 'full')
                  if (t.get(size) or {}).get('seconds') is not None and not str(t[size].get('source', '')).startswith('budget')]
    others = [f"- {{doc}}`{stem} <{name}>`" for stem, name in sols.items() if stem not in linked]
    text = ("# Course map\n\n*The chapters in reading order: what each teaches, how long it takes on a CPU, what it needs, its "
            "widgets and its worked solutions.*\n\n"
            "Times are for the whole notebook (every cell, `#| slow` ones included) from a fresh kernel and an empty cache "
            "(`robustify demo`), at the quick size (the default) and at the full size (`FULL = True` in the chapter, or "
            "`make demo FULL=1`). \"budget\" marks a chapter not measured yet: the figure is the time it must stay under; "
            "\"CPU, loaded machine\" marks a CPU time (user + sys: about the time on a quiet machine) measured while the machine was shared. "
            "The figures come from `docs/course_times.json`; refresh them after a demo with "
            "`python docs/nbdocs.py times demo_out/timings.json --note \"where and how it was measured\"`.\n\n"
            "| # | chapter | what it teaches | quick size | full size | what it needs | widgets | solutions |\n"
            "|---|---|---|---|---|---|---|---|\n" + '\n'.join(rows))
    if others: text += '\n\nOther worked solutions:\n\n' + '\n'.join(others)
    if notes: text += '\n\nWhere the measured figures come from:\n\n' + '\n'.join(notes)
    return dict(nbformat=4, nbformat_minor=5, metadata={}, cells=[dict(cell_type='markdown', metadata={}, source=text)])

def refresh_times(timings:Path, note:str, out:Path|None=None) -> dict:
    "Update docs/course_times.json from a demo's timings.json (its `size` says which column); returns the new content."
    sys.path.insert(0, str(ROOT))
    from robustify_nb.core import write_json
    if not Path(timings).is_file():
        raise FileNotFoundError(f"timings={str(timings)!r} is not a file; accepted: the timings.json a `robustify demo` run wrote "
                                f"(e.g. demo_out/timings.json; `make demo` writes it).")
    try: t = json.loads(Path(timings).read_text())
    except json.JSONDecodeError as e: raise ValueError(f"timings={str(timings)!r} is not JSON ({e}); accepted: the timings.json a `robustify demo` run wrote.") from None
    if not isinstance(t, dict) or t.get('size') not in ('quick', 'full'): raise ValueError(f"timings {str(timings)!r} has size {t.get('size')!r}; accepted: 'quick' or 'full' (a timings.json written by `robustify demo`).")
    out = Path(out or DOCS/'course_times.json')
    d = json.loads(out.read_text())
    for nb, secs in t['seconds'].items():
        stem = Path(nb).stem
        d['chapters'].setdefault(stem, {})[t['size']] = dict(seconds=secs, to_widget=t.get('to_widget', {}).get(nb), source=f"measured: {note}")
    write_json(out, d)
    return d

def build_pages(pages:dict, # page name -> a notebook made ready by `convert`; 'index' is the landing page
                src:Path, html:Path) -> int:
    "Write the pages into `src` (the landing page gets a table of contents of the others) and build the site into `html`."
    src, html = Path(src), Path(html)
    shutil.rmtree(src, ignore_errors=True); src.mkdir(parents=True)
    names = [n for n in pages if n != 'index' and not n.startswith('solutions/')]
    names = (['course'] if 'course' in names else []) + [n for n in names if n != 'course']
    sols = [n for n in pages if n.startswith('solutions/')]
    toc = lambda entries, caption='': ('```{toctree}\n:hidden:\n:maxdepth: 1\n' + (f':caption: {caption}\n' if caption else '') + '\n'
                                       + '\n'.join(entries) + '\n```')
    for name, nb in pages.items():
        if name == 'index':
            nb = dict(nb, cells=nb['cells'] + [dict(cell_type='markdown', metadata={}, source=toc(names) + ('\n\n' + toc(sols, 'Solutions') if sols else ''))])
        (src/f'{name}.ipynb').parent.mkdir(parents=True, exist_ok=True)
        (src/f'{name}.ipynb').write_text(json.dumps(nb, indent=1))
    static_assets(DOCS/'_static')
    cmd = [sys.executable, '-m', 'sphinx', '-b', 'html', '-q', '-c', str(DOCS), str(src), str(html)]
    r = subprocess.run(cmd)
    if r.returncode == 0: print(f"site: {html/'index.html'}")
    return r.returncode

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('what', choices=['readme', 'site', 'times'])
    ap.add_argument('timings', nargs='?', help="times: a demo's timings.json (e.g. demo_out/timings.json)")
    ap.add_argument('--check', action='store_true', help='readme: exit 1 if README.md is stale, write nothing')
    ap.add_argument('--rerun', action='store_true', help='site: execute every notebook again')
    ap.add_argument('--unexecuted', action='store_true', help='site: build from nbs/ as committed, executing nothing (no outputs)')
    ap.add_argument('--note', default='', help='times: where and how the timings were measured (machine, load), shown on the map')
    a = ap.parse_args()
    if a.what == 'times':
        if not a.timings: ap.error('times needs the path of a timings.json')
        try: refresh_times(Path(a.timings), a.note or f'robustify demo, {a.timings}')
        except (FileNotFoundError, ValueError) as e: ap.error(str(e))
        sys.exit(0)
    sys.exit(readme(a.check) if a.what == 'readme' else site(a.rerun, a.unexecuted))
