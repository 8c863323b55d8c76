"""Do a chapter's results stay the same across a change? Runs a notebook at a git revision and as it is in this checkout
(each in a fresh process, the test run's way: `#| slow` cells and the export cell skipped), then compares the values of
the named variables: DataFrames, Series, tensors, dicts, numbers. Columns or keys named in --ignore (wall-clock times)
are dropped first. Evidence for issue 15's "the recorded results reproduce exactly". With --fresh-home each side runs with
an empty ROBUSTIFY_HOME of its own, so that a table the 'before' run cached (a transfer sweep) is recomputed by the
'after' run, not read back.

    python tests/same_results.py NOTEBOOK REV VAR [VAR ...] [--ignore seconds,cpu_seconds] [--fresh-home]
"""
import argparse, json, os, pickle, subprocess, sys, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def run(nb_json:str, names:list[str]) -> dict:
    "Execute the notebook's cells in this process (cwd nbs/) and return the named variables."
    import os; from execnb.shell import CaptureShell
    nb = json.loads(nb_json); os.chdir(ROOT/'nbs')
    sh = CaptureShell()
    for c in nb['cells']:
        src = ''.join(c['source'])
        if c['cell_type'] != 'code' or '#| slow' in src or 'nbdev_export()' in src: continue
        sh.run(src)
        if sh.exc: raise RuntimeError(f'cell failed:\n{src}') from sh.exc
    return {k: sh.user_ns[k] for k in names}

def _drop(v, ignore):
    import pandas as pd
    if isinstance(v, pd.DataFrame): return v.drop(columns=[c for c in v.columns if c in ignore])
    if isinstance(v, dict): return {k: _drop(x, ignore) for k, x in v.items() if k not in ignore}
    if isinstance(v, list): return [_drop(x, ignore) for x in v]
    return v

def same(a, b) -> bool:
    import pandas as pd, torch, numpy as np
    if isinstance(a, (pd.DataFrame, pd.Series)): return a.equals(b)
    if isinstance(a, torch.Tensor): return torch.equal(a, b)
    if isinstance(a, np.ndarray): return np.array_equal(a, b)
    if isinstance(a, dict): return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)): return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b

if __name__ == '__main__':
    if sys.argv[1:2] == ['--child']:            # child: run the notebook JSON on stdin, pickle the variables to argv[2]
        Path(sys.argv[2]).write_bytes(pickle.dumps(run(sys.stdin.read(), sys.argv[3:]))); sys.exit()
    p = argparse.ArgumentParser(); p.add_argument('notebook'); p.add_argument('rev'); p.add_argument('names', nargs='+')
    p.add_argument('--ignore', default='seconds,cpu_seconds,train_seconds')
    p.add_argument('--fresh-home', action='store_true', help='an empty ROBUSTIFY_HOME for each side (no cache read back)')
    a = p.parse_args(); ignore = set(a.ignore.split(','))
    nb = Path(a.notebook); rel = nb.resolve().relative_to(ROOT).as_posix()
    old = subprocess.run(['git', '-C', str(ROOT), 'show', f'{a.rev}:{rel}'], capture_output=True, text=True, check=True).stdout
    got = {}
    for tag, src in (('before', old), ('after', nb.read_text())):
        with tempfile.NamedTemporaryFile(suffix='.pkl') as f, tempfile.TemporaryDirectory(prefix=f'home-{tag}-') as home:
            env = dict(os.environ, ROBUSTIFY_HOME=home) if a.fresh_home else None
            subprocess.run([sys.executable, __file__, '--child', f.name, *a.names], input=src, text=True, check=True, env=env)
            got[tag] = pickle.loads(Path(f.name).read_bytes())
    bad = [k for k in a.names if not same(_drop(got['before'][k], ignore), _drop(got['after'][k], ignore))]
    for k in a.names: print(f"{k:24} {'same' if k not in bad else 'DIFFERENT'}")
    sys.exit(1 if bad else 0)
