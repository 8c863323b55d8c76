"The project's own files install everything, and the README's two commands are what CI runs."
import re, tomllib
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]

def _pins(lines):
    out = {}
    for l in lines:
        l = l.split('#')[0].strip()
        if '==' in l: n, v = l.split('=='); out[re.sub(r'[-_.]+', '-', n.strip().lower())] = v.strip()
    return out

def test_pyproject_pins_agree_with_the_lock():
    proj = tomllib.loads((ROOT/'pyproject.toml').read_text())['project']
    lock = _pins((ROOT/'requirements.txt').read_text().splitlines())
    deps = _pins(proj['dependencies'] + proj['optional-dependencies']['dev'])
    assert deps, 'no pinned dependencies'
    for name, ver in deps.items(): assert lock.get(name) == ver, f"{name}: pyproject {ver}, requirements.txt {lock.get(name)}"

def test_readme_opens_with_the_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT/'README.md').read_text()
    block = re.search(r'```sh\n(.*?)```', readme, re.S).group(1)
    cmds = [l.split('#')[0].strip() for l in block.splitlines() if l.strip()]
    assert cmds == ['make demo', 'make test']
    assert readme.index('make demo') < 600
    ci = (ROOT/'.ci/run').read_text()
    assert re.search(r'^make test$', ci, re.M)

def test_makefile_targets_exist():
    mk = (ROOT/'Makefile').read_text()
    for t in ('env', 'demo', 'test', 'lab', 'docs', 'pretrain', 'bench'): assert re.search(rf'^{t}:', mk, re.M), t
