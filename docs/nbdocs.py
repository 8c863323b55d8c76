"""Offline documentation for robustify-nb.

nbdev's own `nbdev-readme` and `nbdev-docs` render through Quarto, which cannot be installed offline, so:

    python docs/nbdocs.py readme   # README.md from nbs/index.ipynb
    python docs/nbdocs.py site     # the site, from nbdev's processed notebooks, with Sphinx + myst-nb -> docs/_build/html

`site` documents the *executed* notebooks of `make demo` (demo_out/nbs; notebooks missing there or older than their
source are executed first), runs nbdev's processors on them (show_doc API sections, hidden cells, export cells
folded into their documentation), turns plotly outputs into HTML (plotly.js is served once from _static), and builds
the site with Sphinx, executing nothing.
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
        if 'nbdev_export'+'()' in cell.source: return
        trees = cell.parsed_()
        if not trees or cell.directives_.get('eval', '').lower() == 'false': return
        if cell.directives_.keys() & {'export', 'exports', 'exporti', 'exec_doc'}: return True
        if all(isinstance(t, (ast.Import, ast.ImportFrom)) for t in trees): return True
        if P._show_docs(trees): return True
    P._do_eval = _do_eval

def site(rerun:bool=False) -> int:
    "Build the documentation site into docs/_build/html."
    exe = ROOT/'demo_out'/'nbs'
    srcs = _executed(exe, rerun)
    from nbdev.serve import proc_nbs
    _only_eval_what_show_doc_needs()
    shutil.rmtree(ROOT/'_proc', ignore_errors=True)
    proc = proc_nbs(str(exe), n_workers=0)
    pages = {}
    for p in srcs:
        name = 'index' if p.stem == 'index' else re.sub(r'^\d+_', '', p.stem)
        pages[name] = convert(json.loads((proc/p.name).read_text()))
    return build_pages(pages, DOCS/'_src', DOCS/'_build'/'html')

def build_pages(pages:dict, # page name -> a notebook made ready by `convert`; 'index' is the landing page
                src:Path, html:Path) -> int:
    "Write the pages into `src` (the landing page gets a table of contents of the others) and build the site into `html`."
    src, html = Path(src), Path(html)
    shutil.rmtree(src, ignore_errors=True); src.mkdir(parents=True)
    names = [n for n in pages if n != 'index']
    for name, nb in pages.items():
        if name == 'index':
            nb = dict(nb, cells=nb['cells'] + [dict(cell_type='markdown', metadata={},
                      source='```{toctree}\n:hidden:\n:maxdepth: 1\n\n' + '\n'.join(names) + '\n```')])
        (src/f'{name}.ipynb').write_text(json.dumps(nb, indent=1))
    static_assets(DOCS/'_static')
    cmd = [sys.executable, '-m', 'sphinx', '-b', 'html', '-q', '-c', str(DOCS), str(src), str(html)]
    r = subprocess.run(cmd)
    if r.returncode == 0: print(f"site: {html/'index.html'}")
    return r.returncode

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('what', choices=['readme', 'site'])
    ap.add_argument('--check', action='store_true', help='readme: exit 1 if README.md is stale, write nothing')
    ap.add_argument('--rerun', action='store_true', help='site: execute every notebook again')
    a = ap.parse_args()
    sys.exit(readme(a.check) if a.what == 'readme' else site(a.rerun))
