"The console script: every subcommand has --help, and the cheap ones run."
import json, subprocess
import numpy as np, pytest
from conftest import robustify_exe
from robustify_nb.cli import build_parser, COMMANDS

def run(*args, **kw): return subprocess.run(robustify_exe() + list(args), capture_output=True, text=True, timeout=300, **kw)

def test_help_lists_every_command():
    r = run('--help'); assert r.returncode == 0
    for name in ('info', 'render', 'eval', 'train', 'pretrain', 'demo'): assert name in r.stdout

@pytest.mark.parametrize('name', sorted(COMMANDS))
def test_subcommand_help(name):
    r = run(name, '--help'); assert r.returncode == 0 and r.stdout.startswith(f'usage: robustify {name}'), r.stderr

def test_render_then_eval(tmp_path):
    out = tmp_path/'ref.npz'
    r = run('render', str(out), '--n', '300', '--style', 'sketch'); assert r.returncode == 0, r.stderr
    with np.load(out) as z:
        assert z['x'].shape == (300, 32, 32, 3) and z['x'].dtype == np.uint8 and z['masks'].shape == (300, 32, 32)
        assert str(z['captions'][0]).startswith('a pencil sketch of')
    r = run('eval', '--model', 'resnet20', '--weights', 'polyshift', '--data', str(out), '--json'); assert r.returncode == 0, r.stderr
    acc = json.loads(r.stdout)['ref']; assert 0.0 <= acc <= 1.0

def test_bad_input_exits_2_with_message():
    r = run('render', '/tmp/x.npz', '--style', 'watercolour')
    assert r.returncode == 2 and "style='watercolour' is not a known style" in r.stderr
