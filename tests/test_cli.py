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

def test_corrupt_writes_the_cifar10c_layout_and_bench_reads_it(tmp_path):
    out = tmp_path/'c10c'
    r = run('corrupt', 'polyshift', str(out), '--n', '40', '--corruptions', 'fog', 'contrast'); assert r.returncode == 0, r.stderr
    fog = np.load(out/'fog.npy'); labels = np.load(out/'labels.npy')
    assert fog.shape == (200, 32, 32, 3) and fog.dtype == np.uint8 and labels.shape == (200,)
    assert not (fog[:40] == fog[160:]).all()                                  # severities differ
    r = run('bench', '--model', 'resnet20', '--weights', 'polyshift', '--data', str(out), '--corruptions', 'fog', 'contrast', '--out', str(tmp_path/'b'))
    assert r.returncode == 0, r.stderr
    import pandas as pd
    grid = pd.read_csv(tmp_path/'b'/'grid.csv')
    assert len(grid) == 10 and grid.accuracy.between(0, 1).all()
    assert (tmp_path/'b'/'report.html').stat().st_size > 100_000             # plotly.js embedded once

def test_bench_on_polyshift(tmp_path):
    r = run('bench', '--model', 'resnet20', '--weights', 'polyshift', '--n', '64', '--corruptions', 'snow', '--severities', '1', '5', '--out', str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert {'grid.csv', 'summary.csv', 'styles.csv', 'report.html'} <= {p.name for p in tmp_path.iterdir()}

def test_bench_several_models_one_pass_and_resume(tmp_path):
    "Two models in one pass give each model's own grid; the state file makes a rerun of the same command a no-op continue."
    import pandas as pd
    args = ['bench', '--model', 'resnet20', 'smallcnn', '--weights', 'polyshift', 'none', '--n', '48', '--corruptions', 'fog',
            '--severities', '1', '5', '--batch-size', '16', '--threads', '1', '--out', str(tmp_path/'both')]
    r = run(*args); assert r.returncode == 0, r.stderr
    assert 'torch threads: 1' in r.stdout
    grid = pd.read_csv(tmp_path/'both'/'grid.csv')
    assert sorted(grid.model.unique()) == ['resnet20', 'smallcnn'] and len(grid) == 2*3
    state = json.loads((tmp_path/'both'/'grid_state.json').read_text()); assert state['batches'] == 3 and state['n'] == 48
    meta = json.loads((tmp_path/'both'/'bench.json').read_text())
    assert meta['preset'] == 'cifar' and meta['baseline'] == 'none (no mCE)' and 'preset cifar, mCE baseline none' in r.stdout
    r = run('bench', '--model', 'resnet20', '--weights', 'polyshift', '--n', '48', '--corruptions', 'fog', '--severities', '1', '5',
            '--batch-size', '16', '--out', str(tmp_path/'one')); assert r.returncode == 0, r.stderr
    one = pd.read_csv(tmp_path/'one'/'grid.csv')
    assert (grid[grid.model == 'resnet20'].drop(columns='model').reset_index(drop=True) == one).all().all()   # same numbers alone
    r = run(*args); assert r.returncode == 0, r.stderr                            # rerun: continues from a finished state
    assert pd.read_csv(tmp_path/'both'/'grid.csv').equals(grid)
    r = run(*args[:-2], '--seed', '1', '--out', str(tmp_path/'both'))             # other arguments: refused, nothing mixed
    assert r.returncode == 2 and 'holds a grid run with other arguments (seed)' in r.stderr, r.stderr
    r = run(*args[:-2], '--baseline', 'alexnet', '--out', str(tmp_path/'alex'))   # ImageNet's AlexNet errors on 32 px data: refused
    assert r.returncode == 2 and "baseline='alexnet'" in r.stderr, r.stderr
    r = run('bench', '--model', 'resnet20', 'smallcnn', '--weights', 'polyshift', '--out', str(tmp_path/'bad'))
    assert r.returncode == 2 and '--weights has 1 entries for 2 models' in r.stderr, r.stderr

@pytest.mark.parametrize('args, msg', [(['--epochs', '0'], 'epochs=0 is not accepted'),          # 0 is not "use the default"
                                       (['--short-every', '-1'], 'short_every=-1 is not accepted'),
                                       (['--n-train', '0'], 'n_per_style=0 is not accepted')])
def test_pretrain_clip_bad_input(tmp_path, args, msg):
    r = run('pretrain', 'clip', '--out', str(tmp_path), '--n-train', '64', *args)   # 256 pairs: one batch
    assert r.returncode == 2 and msg in r.stderr, r.stderr
    assert not list(tmp_path.glob('*.safetensors'))                                                 # nothing written

@pytest.mark.parametrize('flag', [[], ['--full']])
def test_demo_runs_each_chapter_at_the_size_asked(tmp_path, flag):
    "`robustify demo` executes notebooks as typed in a shell; `--full` reaches every kernel as ROBUSTIFY_FULL=1."
    import nbformat
    nbs = tmp_path/'nbs'; nbs.mkdir()
    for name in ('01_a', '02_b'):
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f'# Chapter {name}'),
            nbformat.v4.new_code_cell('from robustify_nb.core import full_size\nimport plotly.graph_objects as go\n'
                                      'print("FULL", full_size()); go.Figure(go.Bar(y=[1]))')])
        nb.cells.append(nbformat.v4.new_code_cell('from tqdm.auto import tqdm; _ = list(tqdm(range(3)))'))   # a progress bar is not a widget to reach
        if name == '02_b': nb.cells += [nbformat.v4.new_code_cell('import time; time.sleep(1.5)'),
                                        nbformat.v4.new_code_cell('import ipywidgets as W; from robustify_nb.core import figure_widget\n'
                                                                  'fw = figure_widget(go.Bar(y=[1, 2])); W.VBox([W.IntSlider(), fw])'),
                                        nbformat.v4.new_code_cell('fw.data[0].y = [70, 80]')]   # a later cell changes the widget's figure
        nb.cells.append(nbformat.v4.new_code_cell('#| hide\nimport nbdev; nbdev.nbdev_export()'))   # left out: outside a project it would fail
        nb.metadata['kernelspec'] = {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'}
        nbformat.write(nb, nbs/f'{name}.ipynb')
    r = run('demo', '--nbs', str(nbs), '--out', str(tmp_path/'out'), *flag, env={**__import__('os').environ, 'ROBUSTIFY_FULL': 'no'})
    assert r.returncode == 0, r.stderr
    t = json.loads((tmp_path/'out'/'timings.json').read_text())
    assert t['size'] == ('full' if flag else 'quick') and set(t['seconds']) == {'01_a.ipynb', '02_b.ipynb'}
    assert set(t['to_widget']) == {'02_b.ipynb'} and 1.5 <= t['to_widget']['02_b.ipynb'] < t['seconds']['02_b.ipynb']   # the time to the widget
    for name in ('01_a', '02_b'):
        out = nbformat.read(tmp_path/'out'/'nbs'/f'{name}.ipynb', as_version=4).cells[1].outputs
        assert any(o.get('text', '').strip() == f'FULL {bool(flag)}' for o in out), out
    for name, n in (('01_a', 3), ('02_b', 6)):                           # the export cell was not run, the report's own cell is not kept
        assert len(nbformat.read(tmp_path/'out'/'nbs'/f'{name}.ipynb', as_version=4).cells) == n
    page = (tmp_path/'out'/'report.html').read_text()
    assert page.count('<h2>') == 3                                       # a figure per chapter, and the widget's figure
    w = page.index('Chapter 02_b (widget, as Run All left it)</h2>')
    assert '70,80' in page[w:].replace(' ', ''), page[w:w + 3000]        # as the last cell left it
    top = page[page.index('</h1>'):page.index('<h2>')]                  # the timings table, before the figures
    assert f"Size: <b>{'full' if flag else 'quick'}</b>" in top
    for name, s in t['seconds'].items():
        assert f"<td>{name}</td><td style='text-align:right'>{s}</td>" in top, top
    assert f"<td style='text-align:right'>{t['to_widget']['02_b.ipynb']}</td></tr>" in top and f">{t['total']}</td>" in top

def test_wiseft_rerun_with_other_settings_is_refused_naming_each(tmp_path):
    "A rerun into the same --out with other settings or data is refused before any work, naming each difference (old there, new now)."
    cmd = ['wiseft', '--out', tmp_path/'w', '--finetuned', 'lc', '--n-train', '32', '--n-eval', '16', '--lc-epochs', '1', '--alphas', '0:1:0.5', '--corruptions', 'fog']
    r = run(*cmd); assert r.returncode == 0, r.stderr[-2000:]
    saved = json.loads((tmp_path/'w'/'config.json').read_text())
    assert saved['lc_epochs'] == 1 and saved['data']['train']['data'] == 'embedded PolyShift'
    r = run(*cmd, '--seed', '1', '--lc-epochs', '2')
    assert r.returncode == 2, r.stderr[-2000:]
    for said in ('lc_epochs=1 there, 2 now', 'seed=0 there, 1 now', 'data.train.seed=0 there, 1 now', 'another --out'): assert said in r.stderr, (said, r.stderr)
    assert 'embedded PolyShift' not in r.stderr                       # the entries that differ, not the whole data records
    assert json.loads((tmp_path/'w'/'config.json').read_text()) == saved   # the refused run wrote nothing

def test_wiseft_finetuned_in_either_order_is_the_same_run(tmp_path):
    "`--finetuned e2e lc` then `--finetuned lc e2e` into the same --out: the second is the same run (not refused), recorded alike."
    cmd = ['wiseft', '--out', tmp_path/'w', '--n-train', '128', '--n-eval', '16', '--e2e-epochs', '1', '--lc-epochs', '1', '--alphas', '0:1:1', '--corruptions', 'fog']
    r = run(*cmd, '--finetuned', 'e2e', 'lc'); assert r.returncode == 0, r.stderr[-2000:]
    saved = json.loads((tmp_path/'w'/'config.json').read_text())
    assert saved['variants'] == ['LC', 'E2E'] and saved['data']['finetuned'] == ['lc', 'e2e']   # the config's order, not the order typed
    r = run(*cmd, '--finetuned', 'lc', 'e2e'); assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads((tmp_path/'w'/'config.json').read_text()) == saved

def test_transfer_rerun_with_other_settings_is_refused_naming_each(tmp_path):
    def cmd(eps=('0',), probe='1'):
        return ['transfer', '--norm', 'l2', '--eps', *eps, '--tasks', 'family', '--modes', 'fixed', '--n-source', '300', '--source-epochs', '1',
                '--steps', '1', '--probe-epochs', probe, '--n-task', '60', '--n-test', '60', '--out', tmp_path/'t']
    r = run(*cmd()); assert r.returncode == 0, r.stderr[-2000:]
    r = run(*cmd(('0', '0.25'), '2'))
    assert r.returncode == 2, r.stderr[-2000:]
    for said in ('eps=[0.0] there, [0.0, 0.25] now', 'probe_epochs=1 there, 2 now', 'another --out'): assert said in r.stderr, (said, r.stderr)
    r = run(*cmd()); assert r.returncode == 0, r.stderr[-2000:]       # the same settings again: accepted
