"""The shape of the chapters: per notebook, its export cells, the definitions in them, definitions per export cell and
the longest export cell (lines, definitions). A definition is a top-level `def` or `class` (a `@patch`ed method counts
once); an export cell that holds only imports is not counted. Evidence for issue 15's "chapters shaped like the anchors".

    python tests/code_shape.py [NBS_DIR | GIT_REV]    # default: nbs/ of this checkout; a git revision reads its nbs/
"""
import ast, json, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def _notebooks(arg):
    "(name, notebook JSON) of every chapter in a folder, or at a git revision of this checkout."
    if arg is None or Path(arg).is_dir():
        for p in sorted(Path(arg or ROOT/'nbs').glob('[0-9]*.ipynb')): yield p.stem, json.loads(p.read_text())
        return
    names = subprocess.run(['git', '-C', str(ROOT), 'ls-tree', '--name-only', arg, 'nbs/'], capture_output=True, text=True, check=True).stdout.split()
    for n in sorted(n for n in names if Path(n).name[:1].isdigit() and n.endswith('.ipynb')):
        yield Path(n).stem, json.loads(subprocess.run(['git', '-C', str(ROOT), 'show', f'{arg}:{n}'], capture_output=True, text=True, check=True).stdout)

def _export_cells(nb):
    for c in nb['cells']:
        s = ''.join(c['source'])
        if c['cell_type'] == 'code' and any(l.strip().replace(' ', '') in ('#|export', '#|exports') for l in s.splitlines()): yield s

def _definitions(code:str) -> int:
    body = '\n'.join(l for l in code.splitlines() if not l.lstrip().startswith(('%', '!')))
    return sum(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) for n in ast.parse(body).body)

def shape(nb) -> dict:
    cells = [(s, _definitions(s)) for s in _export_cells(nb)]
    cells = [(s, d) for s, d in cells if d]                              # cells of imports or constants only are not counted
    if not cells: return dict(export_cells=0, definitions=0, per_cell=0.0, longest_lines=0, longest_defs=0)
    s, d = max(cells, key=lambda t: len(t[0].splitlines()))
    n = sum(d for _, d in cells)
    return dict(export_cells=len(cells), definitions=n, per_cell=round(n/len(cells), 2), longest_lines=len(s.splitlines()), longest_defs=d)

if __name__ == '__main__':
    arg = sys.argv[1] if len(sys.argv) > 1 else None
    print(f"{'chapter':16} {'cells':>5} {'defs':>5} {'per cell':>8} {'longest (lines, defs)':>22}")
    for name, nb in _notebooks(arg):
        r = shape(nb)
        print(f"{name:16} {r['export_cells']:5} {r['definitions']:5} {r['per_cell']:8.2f} {r['longest_lines']:>15} {r['longest_defs']:>5}")
