"The knowledge-transfer method (teacher, multi-head student, router): bad input, resume, CLI, and the real-data run (slow)."
import json, os, subprocess, sys
from pathlib import Path
import pytest, torch
from robustify_nb.core import make_generator, seed_everything
from robustify_nb.data import PolyShift
from robustify_nb.models import load_model
from robustify_nb.corruptions import CORRUPTIONS, EXTRA_CORRUPTIONS
from robustify_nb.teacher import AUGMIX_OPS, TRAIN_SHIFTS, heldout_shift
from robustify_nb.student import MultiHeadStudent, Distiller, distill_student, check_compatible, mc_logits
from robustify_nb.router import UncertaintyRouter
from robustify_nb.robustify import run_experiment
from robustify_nb.train import Callback
from conftest import robustify_exe, ROOT

ENV = {**os.environ, 'PYTHONPATH': str(ROOT)}   # the subprocess imports this checkout's package

@pytest.fixture(scope='module')
def base(): return load_model('resnet20', weights='polyshift')

def test_training_shifts_are_held_out():
    assert not set(TRAIN_SHIFTS) & set(CORRUPTIONS) and set(TRAIN_SHIFTS) <= set(EXTRA_CORRUPTIONS)
    assert not {'contrast', 'brightness', 'color', 'sharpness'} & set(AUGMIX_OPS)
    with pytest.raises(ValueError, match='evaluation CORRUPTIONS'): heldout_shift(torch.rand(2, 3, 32, 32), corruptions=['snow'])

def test_class_count_mismatch_names_both(base):
    with pytest.raises(ValueError, match='the teacher has 5 classes but the student has 10'):
        check_compatible(load_model('smallcnn', num_classes=5), MultiHeadStudent(base))
    with pytest.raises(ValueError, match="teacher's classes .* student's classes"):
        check_compatible(load_model('smallcnn'), base, list('abcdefghij'), list('abcdefghji'))
    with pytest.raises(ValueError, match='5 classes but the student has 10'):
        run_experiment(base, load_model('smallcnn', num_classes=5), n_train=8, n_valid=8, n_test=8, log=lambda s: None)

def test_no_dropout_when_mc_passes_are_asked(base):
    with pytest.raises(ValueError, match='no dropout'): UncertaintyRouter(MultiHeadStudent(base, p_drop=0))
    with pytest.raises(ValueError, match='no dropout'): mc_logits(MultiHeadStudent(base, p_drop=0), torch.rand(2, 3, 32, 32), 4)
    with pytest.raises(ValueError, match='no dropout layer'): Distiller(base, mc_passes=4)

@pytest.mark.parametrize('passes', [0, 1, -3, True])
def test_fewer_than_two_passes(base, passes):
    with pytest.raises(ValueError, match='passes'): UncertaintyRouter(MultiHeadStudent(base), passes=passes)

def test_gate_and_ablation_settings_are_checked():
    from robustify_nb.robustify import ablate
    with pytest.raises(ValueError, match="gate='always'"): Distiller(load_model('smallcnn'), gate='always')
    with pytest.raises(ValueError, match="factors names 'lr'"): ablate(dict(lr=(0.1,)))
    with pytest.raises(ValueError, match='unknown settings'): ablate(temperature=3.0)

@pytest.mark.parametrize('T', [0, -1.0, 0.0])
def test_temperature_must_be_positive(T):
    with pytest.raises(ValueError, match=f'T={T!r} is not accepted'): Distiller(load_model('smallcnn'), T=T)

@pytest.mark.parametrize('tune, msg', [(['backbone.layer7.0'], 'which is no block'), ('head', 'which is no block'), ([], 'names no module'), (10, 'tune=10'), (-1, 'tune=-1'),
                                       ([0, 9], 'block index 9'), ([-10], 'block index -10')])
def test_tuned_block_spec_names_no_module(base, tune, msg):
    with pytest.raises(ValueError, match=msg): MultiHeadStudent(base, tune=tune)

class StopAt(Callback):
    def __init__(self, n): self.n = n
    def after_batch(self, learn): learn.stop = learn.step >= self.n

def test_interrupted_distillation_resumes_to_the_same_student(base, tmp_path):
    data, teacher = PolyShift(256, split='train'), load_model('smallcnn')
    def run(d, stop=None):
        seed_everything(0)
        st, _ = distill_student(base, teacher, data, epochs=2, batch_size=64, ckpt_dir=d, ckpt_every=1, progress=False,
                                callbacks=[StopAt(stop)] if stop else [])
        return {k: v.clone() for k, v in st.state_dict().items()}
    ref = run(tmp_path/'a')
    run(tmp_path/'b', stop=5)
    assert json.loads((tmp_path/'b'/'trainer.json').read_text())['step'] == 5
    res = run(tmp_path/'b')
    for k in ref: torch.testing.assert_close(res[k], ref[k], msg=k)

def test_cli_runs_writes_and_resumes(tmp_path):
    cmd = [*robustify_exe(), 'robustify', '--out', str(tmp_path/'o'), '--teacher', 'smallcnn', '--n-train', '128', '--n-valid', '32', '--n-test', '32',
           '--teacher-epochs', '1', '--corruptions', 'gaussian_noise', '--severities', '3', '--passes', '2']
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=ENV)
    assert r.returncode == 0, r.stderr[-2000:]
    rep = json.loads((tmp_path/'o'/'report.json').read_text())
    assert {'ours (routed)', 'original', 'oracle'} <= {row['model'] for row in rep['table']}
    assert (tmp_path/'o'/'student.safetensors').exists() and (tmp_path/'o'/'report.html').exists()
    r2 = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=ENV)         # rerun: resumes from the finished checkpoints
    assert r2.returncode == 0, r2.stderr[-2000:]
    acc = lambda t: [(r['model'], r['clean_acc'], r['mean_corruption_acc']) for r in t]      # times differ: the rerun only resumes
    assert acc(json.loads((tmp_path/'o'/'report.json').read_text())['table']) == acc(rep['table'])

def test_cli_bad_input_exits_2(tmp_path):
    r = subprocess.run([*robustify_exe(), 'robustify', '--out', str(tmp_path), '--T', '-1'], capture_output=True, text=True, timeout=300, env=ENV)
    assert r.returncode == 2 and 'T=-1.0 is not accepted' in r.stderr, r.stderr

def test_cli_bad_router_rule_exits_2(tmp_path):
    r = subprocess.run([*robustify_exe(), 'robustify', '--out', str(tmp_path), '--router-rule', 'vote'], capture_output=True, text=True, timeout=300, env=ENV)
    assert r.returncode == 2 and "'vote'" in r.stderr and 'gate' in r.stderr, r.stderr

def test_cli_bad_router_prediction_exits_2(tmp_path):
    r = subprocess.run([*robustify_exe(), 'robustify', '--out', str(tmp_path), '--router-prediction', 'mean'], capture_output=True, text=True, timeout=300, env=ENV)
    assert r.returncode == 2 and "'mean'" in r.stderr and 'deterministic' in r.stderr, r.stderr

def test_router_defaults_are_written_once():
    "UncertaintyRouter's and RobustifyConfig's prediction / signal defaults both come from ROUTER_DEFAULTS (08)."
    import inspect
    from dataclasses import fields
    from robustify_nb.router import ROUTER_DEFAULTS, UncertaintyRouter
    from robustify_nb.robustify import RobustifyConfig
    sig = inspect.signature(UncertaintyRouter.__init__).parameters
    cfg = {f.name: f.default for f in fields(RobustifyConfig)}
    for k, c in (('prediction', 'router_prediction'), ('signal_source', 'router_signals')):
        assert sig[k].default == ROUTER_DEFAULTS[k] == cfg[c], (k, sig[k].default, ROUTER_DEFAULTS[k], cfg[c])

def test_student_defaults_are_written_once():
    "The student's defaults of MultiHeadStudent, Distiller, distill_student and RobustifyConfig all come from STUDENT_DEFAULTS (07)."
    import inspect
    from dataclasses import fields
    from robustify_nb.student import STUDENT_DEFAULTS
    from robustify_nb.robustify import RobustifyConfig
    sig = {k: p.default for f in (MultiHeadStudent.__init__, Distiller.__init__, distill_student) for k, p in inspect.signature(f).parameters.items()}
    cfg = {f.name: f.default for f in fields(RobustifyConfig)}
    cfg_name = dict(epochs='student_epochs', lr='student_lr')
    for k, v in STUDENT_DEFAULTS.items():
        assert sig[k] == v, (k, sig[k], v)
        if k not in ('p_drop', 'threshold', 'uncertainty'): assert cfg[cfg_name.get(k, k)] == v, (k, cfg[cfg_name.get(k, k)], v)
    from robustify_nb.router import fit_router
    lower = {'mc_logits passes': (mc_logits, 'passes', 'mc_passes'), 'UncertaintyRouter passes': (UncertaintyRouter.__init__, 'passes', 'mc_passes'),
             'UncertaintyRouter uncertainty': (UncertaintyRouter.__init__, 'uncertainty', 'uncertainty'), 'fit_router passes': (fit_router, 'passes', 'mc_passes')}
    for what, (f, arg, k) in lower.items():
        d = inspect.signature(f).parameters[arg].default
        assert d == STUDENT_DEFAULTS[k], (what, d, STUDENT_DEFAULTS[k])

def _count_defaults():
    import importlib.util
    spec = importlib.util.spec_from_file_location('count_defaults', ROOT/'tests'/'count_defaults.py')
    m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); return m

def test_each_default_is_written_once():
    "tests/count_defaults.py finds every default of the WiSE-FT, transfer and student settings in one place; a reference to STUDENT_DEFAULTS is no place."
    cd = _count_defaults()
    many = {(e, f): [f'{n}:{i}' for n, i, _ in found] for e, fs in cd.counts().items() for f, (found, _) in fs.items() if len(found) != 1}
    assert not many, many

def test_count_defaults_sees_a_literal_written_back():
    "The count can fail: fit_router's passes written back as a literal 8 (or the router's uncertainty as 'entropy') is a second place."
    cd = _count_defaults()
    for old, new, field in (("passes:int=STUDENT_DEFAULTS['mc_passes'], seed", "passes:int=8, seed", 'mc_passes'),
                            ("uncertainty:str=STUDENT_DEFAULTS['uncertainty'],", "uncertainty:str='entropy',", 'uncertainty')):
        def read(rev, name):
            text = cd.source(rev, name)
            if name != 'router.py': return text
            assert text.count(old) == 1, (old, text.count(old))
            return text.replace(old, new)
        found = cd.counts(read=read)['student'][field][0]
        assert [n for n, _, _ in found] == ['student.py', 'router.py'], (field, found)

def test_fit_router_does_not_read_the_global_rng(base):
    "fit_router's MC dropout draws come from the router's seed and the training shifts from router_stats' seed: the same router whatever the global RNG state."
    import random, numpy as np
    from robustify_nb.router import fit_router, router_stats
    st, valid = MultiHeadStudent(base).eval(), PolyShift(32, split='valid')
    def fit(state):
        torch.manual_seed(state); np.random.seed(state); random.seed(state)
        router, fitted = fit_router(st, valid, passes=4, seed=0)
        torch.manual_seed(state + 1)
        return fitted, router.gate, router_stats(router, valid, shift=heldout_shift)
    (f1, g1, s1), (f2, g2, s2) = fit(1), fit(12345)
    assert f1 == f2 and g1.keys() == g2.keys() and all(torch.equal(torch.as_tensor(g1[k]), torch.as_tensor(g2[k])) for k in g1)
    for k in ('probs', 'entropy', 'mi', 'kl'): assert torch.equal(s1[k], s2[k]), k
