"Transfer and explain chapters: PGD cross-checked against captum, adversarial training through the Learner, bad input."
import warnings
from pathlib import Path
import pytest, torch, torch.nn as nn, torch.nn.functional as F
from robustify_nb.models import load_model
from robustify_nb.data import PolyShift
from robustify_nb.transfer import (pgd, adversarial_accuracy, check_attack, AdversarialLoss, adversarial_train, task_data,
                                   linear_probe, finetune, check_task, source_data, transfer_sweep,
                                   source_model, source_metrics, source_settings, SOURCE_DEFAULTS, QUICK_SOURCE)
from robustify_nb.explain import attribute, mask_share, attribution_scores

@pytest.fixture(scope='module')
def student(): return load_model('resnet20', 'polyshift')

@pytest.fixture(scope='module')
def images(): return PolyShift(256, 'reference', 'test', seed=1)

def _captum_acc(model, x, y, eps, steps, norm='Linf'):
    from captum.robust import PGD
    att = PGD(model, loss_func=lambda out, t: F.cross_entropy(out, t, reduction='none'), lower_bound=0, upper_bound=1)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore'); xa = att.perturb(x, eps, 2.5*eps/steps, steps, y, norm=norm)
    with torch.no_grad(): return (model(xa).argmax(1) == y).float().mean().item()

@pytest.mark.parametrize('eps', [2/255, 4/255])
def test_pgd_matches_captum_linf(student, images, eps):
    "Same fixed model, budget, step size and steps: adversarial accuracy within 2 points of captum.robust.PGD."
    x, y = images.tensors()
    ours = adversarial_accuracy(student, images, eps, 'linf', steps=10, random_start=False, keep_worst=False)
    theirs = _captum_acc(student, x, y, eps, 10)
    assert 0.02 < theirs < 0.98, theirs                     # a budget where the comparison means something
    assert abs(ours - theirs) <= 0.02, (ours, theirs)

def test_pgd_stays_in_budget_and_range(student, images):
    x, y = images.tensors(slice(0, 32))
    for norm, eps in (('l2', 0.3), ('linf', 4/255)):
        xa = pgd(student, x, y, eps, norm, steps=3)
        d = (xa - x).flatten(1)
        assert (d.norm(dim=1) if norm == 'l2' else d.abs().amax(1)).max() <= eps + 1e-5
        assert xa.min() >= 0 and xa.max() <= 1

@pytest.mark.parametrize('kwargs, match', [
    (dict(eps=-0.5), 'eps=-0.5 is not accepted'),
    (dict(eps=float('nan')), 'eps=nan is not accepted'),
    (dict(eps=0.5, norm='l1'), "norm='l1' is not a known norm"),
    (dict(eps=0.5, step_size=0), 'step_size=0 is not accepted'),
    (dict(eps=0.5, step_size=-1.0), 'step_size=-1.0 is not accepted'),
    (dict(eps=0.5, steps=0), 'steps=0 is not accepted'),
    (dict(eps=0.5, steps=2.5), 'steps=2.5 is not accepted'),
])
def test_bad_attack_budgets(student, images, kwargs, match):
    x, y = images.tensors(slice(0, 4))
    with pytest.raises(ValueError, match=match): pgd(student, x, y, **{'norm': 'l2', **kwargs})
    with pytest.raises(ValueError, match=match): adversarial_accuracy(student, images, **{'norm': 'l2', **kwargs})
    with pytest.raises(ValueError, match=match): AdversarialLoss(**{'norm': 'l2', **kwargs})

def test_attack_norm_has_no_default(student, images):
    "The same eps is a different attack in L2 and L-inf: every attacking function refuses to guess the norm."
    x, y = images.tensors(slice(0, 4))
    for call in (lambda: pgd(student, x, y, 2/255), lambda: adversarial_accuracy(student, images, 2/255), lambda: AdversarialLoss(2/255),
                 lambda: transfer_sweep(eps=(0, 0.5), tasks=('family',))):
        with pytest.raises(TypeError, match=r"norm is required \(no default\): accepted: 'l2', 'linf'"): call()

def test_inputs_outside_unit_range(student, images):
    x, y = images.tensors(slice(0, 4))
    with pytest.raises(ValueError, match=r'x has values in \[.*\]; accepted: values in \[0, 1\]'): pgd(student, x*255, y, 0.5, 'l2')
    with pytest.raises(ValueError, match='accepted: values in'): adversarial_accuracy(student, (x - 0.5, y), 0.5, 'l2')

def test_train_mode_is_evaluated_in_eval_mode_and_said(student, images):
    data = images.subset(slice(0, 64))
    ref = adversarial_accuracy(student, data, 0.25, 'l2', steps=3)
    student.train()
    try:
        with pytest.warns(UserWarning, match='training mode: BatchNorm'): got = adversarial_accuracy(student, data, 0.25, 'l2', steps=3)
        assert got == ref and student.training
        with pytest.raises(ValueError, match=r'call model.eval\(\) first'): adversarial_accuracy(student, data, 0.25, 'l2', on_train_mode='raise')
    finally: student.eval()

def test_class_count_mismatch():
    tr, te = task_data('family', 'train', 60), task_data('shape-colour', 'test', 60)
    with pytest.raises(ValueError, match="train 'family-train' has 3 classes but test 'shape-colour-test' has 32"): check_task(tr, te)
    m = load_model('smallcnn', num_classes=6)
    with pytest.raises(ValueError, match='head has 10 outputs but the downstream dataset .* has 3 classes'):
        finetune(m, tr, task_data('family', 'test', 30), head=nn.Linear(64, 10))
    with pytest.raises(ValueError, match='head has 5 outputs'): linear_probe(m, tr, task_data('family', 'test', 30), head=nn.Linear(64, 5))

def test_adversarial_training_resumes_exactly(tmp_path):
    "The attack's random starts follow the training step, so a killed and resumed run ends with the same weights."
    from robustify_nb.train import Callback
    from robustify_nb.core import seed_everything
    data = source_data(256, 'train')
    class StopAt(Callback):
        def after_batch(self, learn): learn.stop = learn.step >= 5
    def run(d, cbs=()):
        seed_everything(0)
        return adversarial_train(load_model('smallcnn', num_classes=6), data, 0.5, 'l2', steps=1, epochs=2, batch_size=32, ckpt_dir=d,
                                 ckpt_every=2, progress=False, callbacks=cbs).raw_model.state_dict()
    ref = run(tmp_path/'a')
    run(tmp_path/'b', [StopAt()]); got = run(tmp_path/'b')
    for k in ref: assert torch.equal(ref[k], got[k]), k

def test_cifar10_task(shared):
    tr, te = task_data('cifar10', 'train', 100), task_data('cifar10', 'test', 50)
    assert len(tr) == 100 and len(te) == 50 and len(tr.classes) == 10

def test_cifar10_missing_says_where(monkeypatch, tmp_path):
    import robustify_nb.transfer as T
    monkeypatch.setattr(T, 'shared_data', lambda *p: None)
    with pytest.raises(FileNotFoundError, match="task 'cifar10' needs the development data: looked for"): task_data('cifar10')

def test_sweep_is_cached_and_checked():
    kw = dict(eps=(0, 0.5), norm='l2', tasks=('family',), modes=('fixed',), source=dict(n_train=128, epochs=1, steps=1), n_task=60, n_test=30,
              probe_epochs=1, progress=False)
    a = transfer_sweep(**kw); b = transfer_sweep(**kw)
    assert a.equals(b) and len(a) == 2
    with pytest.raises(ValueError, match="tasks='cifar' is not a known downstream task"): transfer_sweep(norm='l2', tasks=('cifar',))

def test_source_settings_sizes():
    "The chapters' sizes: one recipe (the full size's); the quick size loads the shipped pair, the full size trains its own; both copies."
    assert source_settings(True) == dict(SOURCE_DEFAULTS, shipped=False)
    assert source_settings(False) == dict(QUICK_SOURCE, shipped=True) and QUICK_SOURCE == SOURCE_DEFAULTS
    assert source_settings(False) is not QUICK_SOURCE
    with pytest.raises(TypeError, match="full=1 is not accepted; accepted: True"): source_settings(1)

def test_source_models_of_two_sizes_never_mix(monkeypatch, tmp_path):
    "Two sizes are two cache files, each with its own settings recorded; a second call loads the same weights."
    monkeypatch.setenv('ROBUSTIFY_HOME', str(tmp_path))
    small, other = dict(n_train=64, epochs=1, steps=1, batch_size=32), dict(n_train=96, epochs=1, steps=1, batch_size=32)
    a, b = source_model(0.5, 'l2', **small), source_model(0.5, 'l2', **other)
    files = sorted(p.name for p in (tmp_path/'transfer'/'sources').glob('*.safetensors'))
    assert len(files) == 2 and any('-n64-' in f for f in files) and any('-n96-' in f for f in files), files
    assert set(source_metrics(a)) == {'clean_acc', 'adv_acc_l2_0.5', 'train_seconds'}
    again = source_model(0.5, 'l2', **small)
    for k, v in a.state_dict().items(): assert torch.equal(v, again.state_dict()[k]), k
    assert not all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())

def test_pretrain_sources_ships_what_source_model_loads(monkeypatch, tmp_path):
    "`pretrain_sources` trains afresh and copies weights + sidecar to the folder; `source_model` then loads them from there, not from a cache."
    import robustify_nb.transfer as T
    tiny = dict(n_train=64, epochs=1, steps=1, batch_size=32)
    monkeypatch.setenv('ROBUSTIFY_HOME', str(tmp_path/'home1'))
    rows = T.pretrain_sources(tmp_path/'ship', eps=(0.5,), **tiny)
    assert [r['eps'] for r in rows] == [0.5] and {'clean_acc', 'adv_acc_l2_0.5'} <= set(rows[0])
    assert sorted(p.name for p in (tmp_path/'ship').iterdir()) == sorted([rows[0]['file'], rows[0]['file'].replace('.safetensors', '.json')])
    monkeypatch.setattr(T, 'SHIPPED_SOURCES', tmp_path/'ship'); monkeypatch.setenv('ROBUSTIFY_HOME', str(tmp_path/'home2'))   # an empty cache
    m = T.source_model(0.5, 'l2', **tiny)
    assert Path(m.config['weights']).parent == tmp_path/'ship' and T.source_metrics(m) == {k: v for k, v in rows[0].items() if k not in ('file', 'eps', 'norm')}
    assert not (tmp_path/'home2'/'transfer'/'sources').exists() or not list((tmp_path/'home2'/'transfer'/'sources').glob('*.safetensors'))
    own = T.source_model(0.5, 'l2', shipped=False, **tiny)                                       # shipped=False: trained into the cache
    assert Path(own.config['weights']).parent == tmp_path/'home2'/'transfer'/'sources'

def test_attributions_on_the_mask(student):
    data = source_data(16, 'test')
    x, y = data.tensors()
    a = attribute(student, x, y, 'saliency')
    assert a.shape == (16, 32, 32)
    s = mask_share(a, data.masks)
    assert ((s >= 0) & (s <= 1)).all()
    with pytest.raises(ValueError, match="method='lime' is not a known attribution method"): attribute(student, x, y, 'lime')
    df = attribution_scores({'student': student, 'head': (student, student.head)}, data, methods=('saliency',), n=16)
    assert df.mask_share.iloc[0] == pytest.approx(df.mask_share.iloc[1])     # the model and its own head explain alike
