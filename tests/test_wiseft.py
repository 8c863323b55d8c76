"WiSE-FT: interpolate over state dicts and modules, its checks, and the bad inputs of the chapter's functions."
import math, time
import pytest, torch, torch.nn as nn
from robustify_nb.wiseft import interpolate, check_alpha

def net(width=4):
    torch.manual_seed(width)
    return nn.Sequential(nn.Conv2d(3, width, 3), nn.BatchNorm2d(width), nn.Flatten(), nn.LazyLinear(2) if False else nn.Linear(width, 2))

def test_endpoints_and_midpoint_of_every_floating_tensor():
    a, b = net(), net()
    with torch.no_grad():
        for p in b.parameters(): p.add_(1.0)
        b[1].running_mean.add_(2.0); b[1].running_var.mul_(3.0)
    for alpha in (0, 0.3, 1):
        s = interpolate(a, b, alpha)
        for k, v in a.state_dict().items():
            if v.is_floating_point(): torch.testing.assert_close(s[k], (1 - alpha)*v + alpha*b.state_dict()[k])
    s = interpolate(a.state_dict(), b.state_dict(), 0)
    assert all(torch.equal(s[k], v) for k, v in a.state_dict().items())

def test_integer_buffers_take_the_nearer_endpoint_and_keep_dtype():
    a, b = net(), net()
    b[1].num_batches_tracked.fill_(10)
    assert interpolate(a, b, 0.4)['1.num_batches_tracked'].item() == 0
    s = interpolate(a, b, 0.6)
    assert s['1.num_batches_tracked'].item() == 10 and s['1.num_batches_tracked'].dtype == torch.long

def test_result_is_a_copy():
    a, b = net(), net()
    s = interpolate(a, b, 0.0); s['0.weight'].add_(1)
    assert not torch.equal(s['0.weight'], a[0].weight)

def test_half_precision_stays_half():
    a, b = net().half(), net().half()
    assert interpolate(a, b, 0.5)['0.weight'].dtype == torch.float16

def test_loads_back_into_the_architecture():
    a, b = net(), net()
    c = net(); c.load_state_dict(interpolate(a, b, 0.5))
    x = torch.randn(2, 3, 3, 3); c.eval(); assert c(x).shape == (2, 2)

@pytest.mark.parametrize('alpha, err, msg', [
    ('0.5', TypeError, "alpha='0.5' has type str"), (None, TypeError, 'has type NoneType'), (True, TypeError, 'has type bool'),
    (-0.1, ValueError, 'outside [0, 1]'), (1.01, ValueError, 'extrapolate=True'), (math.inf, ValueError, 'not finite')])
def test_bad_alpha(alpha, err, msg):
    with pytest.raises(err, match=None) as e: interpolate(net(), net(), alpha)
    assert msg in str(e.value)

def test_extrapolation_needs_opt_in():
    a, b = net(), net()
    s = interpolate(a, b, -0.5, extrapolate=True)
    torch.testing.assert_close(s['3.bias'], 1.5*a[3].bias - 0.5*b[3].bias)
    assert check_alpha(torch.tensor(0.25)) == 0.25 and check_alpha(1) == 1.0

def test_different_architectures_are_named():
    with pytest.raises(ValueError) as e: interpolate(net(4), net(5), 0.5)
    assert 'not the same architecture' in str(e.value) and '0.weight: (4, 3, 3, 3) vs (5, 3, 3, 3)' in str(e.value)
    with pytest.raises(ValueError) as e: interpolate(net(), nn.Sequential(nn.Conv2d(3, 4, 3)), 0.5)
    assert 'keys only in theta0' in str(e.value) and '1.running_mean' in str(e.value)
    with pytest.raises(ValueError) as e: interpolate({'w': torch.zeros(2)}, {'w': torch.zeros(2, dtype=torch.long)}, 0.5)
    assert 'floating vs integer' in str(e.value)

def test_not_a_state_dict():
    with pytest.raises(TypeError) as e: interpolate(net(), {'w': [1.0]}, 0.5)
    assert "theta1 holds non-tensor values under ['w']" in str(e.value)
    with pytest.raises(TypeError) as e: interpolate('model.pt', net(), 0.5)
    assert 'theta0 has type str' in str(e.value)

# ---- zero-shot heads, the ensemble, the summaries, pretraining, the CLI ----
import copy, json, subprocess
import numpy as np, pandas as pd
from robustify_nb.wiseft import (zeroshot_head, zeroshot_classifier, WiseEnsemble, choose_alpha, summarize_sweep, sweep,
                                 wiseft_table, parse_alphas, pretrain_clip, finetune_lc, TEMPLATES, load_finetuned)
from robustify_nb.models import load_clip, save_checkpoint, embedded_manifest

@pytest.fixture(scope='module')
def zs():
    torch.manual_seed(0)
    return zeroshot_classifier('tiny-cnn', None)          # random weights: fast, offline, enough for the mechanics

def test_zeroshot_head_is_normalised_and_scaled(zs):
    clip = zs.backbone.clip
    head = zeroshot_head(clip, zs.tokenizer, ['star', 'ring'], ['a photo of a large {}', 'a cartoon of a small {}'])
    assert head.weight.shape == (2, 64) and head.bias is None
    torch.testing.assert_close(head.weight.norm(dim=1), clip.logit_scale.exp().expand(2), rtol=1e-4, atol=1e-4)
    one = zeroshot_head(zs, zs.tokenizer, ['star'], 'a photo of a large {}')        # a Classifier and one template work too
    assert one.weight.shape == (1, 64)

@pytest.mark.parametrize('classnames, templates, msg', [
    ([], TEMPLATES, 'classnames is empty'), (['star', 'star'], TEMPLATES, "duplicates ['star']"), ('star', TEMPLATES, 'has type str'),
    (['star', ''], TEMPLATES, 'non-empty strings'), (['star'], ['a photo of a star'], "has no '{}' slot"), (['star'], [], 'non-empty list'),
    (['star'], ['{} and {}'], "has no '{}' slot")])
def test_zeroshot_head_bad_input(zs, classnames, templates, msg):
    with pytest.raises((ValueError, TypeError)) as e: zeroshot_head(zs, zs.tokenizer, classnames, templates)
    assert msg in str(e.value)

def test_model_without_head_or_text_tower(zs):
    with pytest.raises(TypeError, match='without encode_text'): zeroshot_head(nn.Linear(3, 3), zs.tokenizer, ['a'])
    with pytest.raises(TypeError, match='linear `head`'): WiseEnsemble(zs, nn.Sequential(nn.Linear(2, 2)))
    with pytest.raises(TypeError, match='linear `head`'): finetune_lc(nn.Linear(2, 2), None)

def test_unknown_open_clip_name_has_close_matches():
    with pytest.raises(ValueError) as e: zeroshot_classifier('ViT-B-23', 'openai')
    assert "Did you mean 'ViT-B-32'" in str(e.value)
    with pytest.raises(ValueError) as e: zeroshot_classifier('tiny-cnn', 'polyshfit')
    assert 'polyshift' in str(e.value)

def test_ensemble_endpoints_in_place_and_architecture_check(zs):
    ft = copy.deepcopy(zs)
    with torch.no_grad():
        for p in ft.backbone.clip.visual.parameters(): p.add_(0.01*torch.randn_like(p))
        ft.head.weight.mul_(1.1)
    ens = WiseEnsemble(zs, ft)
    assert not ens.head_only and all(k.startswith(('backbone.clip.visual', 'head')) for k in ens.keys)
    x = torch.rand(8, 3, 32, 32)
    model_id = id(ens.model)
    with torch.no_grad():
        torch.testing.assert_close(ens.logits(0, x), zs(x), rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(ens.logits(1, x), ft(x), rtol=1e-4, atol=1e-4)
        mid = ens.logits(0.5, x)
        ref = copy.deepcopy(zs); ref.load_state_dict(interpolate(zs, ft, 0.5)); ref.eval()
        torch.testing.assert_close(mid, ref(x), rtol=1e-4, atol=1e-4)
    assert id(ens.model) == model_id
    with pytest.raises(ValueError, match='extrapolate=True'): ens.set_alpha(1.5)
    other = zeroshot_classifier('tiny-vit', None)
    with pytest.raises(ValueError, match='not the same architecture'): WiseEnsemble(zs, other)

def _fake_sweep():
    rows = []
    for a in (0, 0.5, 1):
        acc = {'heldout': [0.80, 0.972, 0.975][int(a*2)], 'reference': [0.8, 0.96, 0.97][int(a*2)], 'sketch': [0.7, 0.75, 0.4][int(a*2)],
               'c:fog': [0.6, 0.7, 0.5][int(a*2)]}
        rows += [dict(kind='weight', alpha=a, domain=k, accuracy=v, n=1000) for k, v in acc.items()]
    return pd.DataFrame(rows)

def test_summary_choice_and_table():
    s = summarize_sweep(_fake_sweep())
    assert list(s.columns) == ['reference', 'sketch', 'corruptions', 'avg OOD', 'heldout']
    assert abs(s.loc[0.5, 'avg OOD'] - 0.725) < 1e-9
    assert choose_alpha(s, n=1000) == 0.5 and choose_alpha(s, n=0) == 1.0      # one standard error vs plain arg-max
    t = wiseft_table({'E2E': _fake_sweep()})
    assert t.loc[('E2E', 'WiSE-FT, α=0.5 (held-out)'), 'avg OOD'] == 72.5 and t.loc[('E2E', 'zero-shot'), 'reference'] == 80.0
    with pytest.raises(ValueError, match="column='nope'"): choose_alpha(s, 'nope')

def test_sweep_reuses_cached_features_for_lc(zs):
    ft = copy.deepcopy(zs)
    with torch.no_grad(): ft.head.weight.mul_(-1)
    ens = WiseEnsemble(zs, ft); assert ens.head_only
    x, y = torch.rand(20, 3, 32, 32), torch.randint(0, 10, (20,))
    df = sweep(ens, {'reference': (x, y), 'sketch': (x, y)}, alphas=(0, 0.3, 1))
    assert len(df) == 12 and set(df.kind) == {'weight', 'output'}
    assert {k for k in ens._feats if isinstance(k, str)} == {'reference', 'sketch'}

def test_finetuned_checkpoint_round_trip(zs, tmp_path):
    ft = copy.deepcopy(zs)
    with torch.no_grad(): ft.head.weight.add_(1)
    save_checkpoint(ft, tmp_path/'ft.safetensors')
    back = load_finetuned(zs, tmp_path/'ft.safetensors')
    assert torch.equal(back.head.weight, ft.head.weight)
    with pytest.raises(ValueError, match='does not fit'): load_finetuned(zeroshot_classifier('tiny-vit', None), tmp_path/'ft.safetensors')

def test_pretrain_clip_writes_weights_manifest_and_sidecar(tmp_path):
    e = pretrain_clip(tmp_path, 'tiny-cnn', n_per_style=16, epochs=1, batch_size=16, progress=False)
    assert (tmp_path/e['file']).exists() and json.loads((tmp_path/'manifest.json').read_text())['tiny-cnn-polyshift']['sha256'] == e['sha256']
    assert json.loads((tmp_path/e['file']).with_suffix('.json').read_text())['config'] == e['config']
    assert set(e['metrics']) == {f'zeroshot_acc_{s}' for s in ('reference', 'sketch', 'cartoon', 'clutter')}
    clip, tok = load_clip('tiny-cnn', tmp_path/e['file'])
    assert tok(['a photo of a large star']).max() == 127

def test_shipped_tiny_clip_reproduces_its_recorded_zero_shot_accuracy():
    man = embedded_manifest()
    if 'tiny-cnn-polyshift' not in man: pytest.skip('the tiny CLIP is not shipped in this checkout')
    from robustify_nb.wiseft import zeroshot_accuracy
    e = man['tiny-cnn-polyshift']
    acc = zeroshot_accuracy(zeroshot_classifier('tiny-cnn', 'polyshift'), 2000, e['seed'], styles=['reference', 'sketch'])
    for s, a in acc.items(): assert abs(a - e['metrics'][f'zeroshot_acc_{s}']) <= 0.005, (s, a, e['metrics'])

def test_cli_wiseft_help_and_bad_input():
    import sys
    from conftest import ROOT
    exe = [sys.executable, '-c', 'import sys; from robustify_nb.cli import main; sys.exit(main())']   # this checkout's package
    r = subprocess.run(exe + ['wiseft', '--help'], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert r.returncode == 0 and '--alphas' in r.stdout and '--zero-shot' in r.stdout
    r = subprocess.run(exe + ['wiseft', '--alphas', '0:1:0'], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert r.returncode == 2 and 'step > 0' in r.stderr

def test_open_clip_weights_offline_fail_fast_or_load():
    "Any open_clip name + pretrained tag: loads when cached/online, else a clear error within 5 s (open_clip already imported)."
    load_clip('tiny-cnn')
    t0 = time.time()
    try: m = zeroshot_classifier('RN50', 'openai', classnames=['cat', 'dog'], templates=['a photo of a {}.'])
    except FileNotFoundError as e:
        assert 'not available offline' in str(e) and time.time() - t0 < 5, (str(e), time.time() - t0)
    else: assert m.head.weight.shape[0] == 2

# ---- the live widget and the ensemble under JupyterLab's threads ----
# JupyterLab 4.6 sends widget messages on a kernel subshell (setting "commsOverSubshells", default "perCommTarget"), and
# ipykernel 7 runs a subshell in a thread of its own: a widget's observer then runs beside the cell the main thread is
# running. Both may use the one WiseEnsemble (one working model, θα written into it in place).
import asyncio, threading

def _ens(zs):
    ft = copy.deepcopy(zs)
    with torch.no_grad():
        for p in ft.parameters(): p.add_(0.05*torch.randn_like(p))
    return WiseEnsemble(zs, ft)

def test_ensemble_logits_are_right_while_another_thread_sets_alpha(zs):
    "The bug behind the WiSE-FT widget's order dependence: θα of one thread overwritten by another's mid-forward."
    torch.manual_seed(1); ens, x = _ens(zs), torch.rand(64, 3, 32, 32)
    want = ens.logits(0.3, x)
    stop, wrong = threading.Event(), []
    def other():                                                      # the widget's thread, scoring other α values
        a = 0
        while not stop.is_set(): ens.logits(a, x[:8]); a = 1 - a
    t = threading.Thread(target=other, daemon=True); t.start()
    try:
        for _ in range(20):
            got = ens.logits(0.3, x)
            if not torch.allclose(got, want, atol=1e-5): wrong.append((got - want).abs().max().item())
    finally: stop.set(); t.join(30)
    assert wrong == [], f'{len(wrong)} of 20 forwards at α=0.3 used another α (max |Δlogit| {max(wrong):.3g})'

def _curve(w): return [tuple(round(v, 6) for v in c) for c in w.curve]

def test_widget_driven_in_a_thread_equals_a_fresh_one(zs):
    "A widget updated in the comm thread while the main thread builds another on the same ensemble: both right."
    from robustify_nb.wiseft import wiseft_explorer
    torch.manual_seed(2); ens = _ens(zs)
    make = lambda: wiseft_explorer(ens, n=40, step=0.1)
    ref = make(); ref.controls['style'].value = 'clutter'; ref.controls['severity'].value = 5
    want = _curve(ref)
    w = make()
    def drive():                                                      # the comm thread: the student's changes
        for s in (1, 2, 4, 5): w.controls['severity'].value = s
        w.controls['style'].value = 'clutter'
    t = threading.Thread(target=drive); t.start()
    fresh = [make() for _ in range(3)]                                 # the main thread meanwhile (a cell run)
    t.join(120)
    assert _curve(w) == want, 'the driven widget differs from one set directly to its values'
    assert all(_curve(f) == _curve(make()) for f in fresh)

def _until(cond, timeout=60):
    import time
    t0 = time.monotonic()
    while not cond():
        assert time.monotonic() - t0 < timeout, 'the widget did not draw the last change'
        time.sleep(0.02)

def test_page_changes_compute_only_the_latest_value(zs):
    """Changes from the page (ipywidgets applies a message with the property locked) return at once, so the page sends
    its next value without waiting; a set change is computed after `debounce` s in a worker, only the last one; an α
    change meanwhile is drawn by that worker. Changes made in code are drawn at once."""
    from robustify_nb.wiseft import wiseft_explorer
    torch.manual_seed(3); ens = _ens(zs)
    w = wiseft_explorer(ens, n=20, step=0.25, debounce=0.05)
    calls = []
    logits = ens.logits
    ens.logits = lambda a, x, *args, **kw: calls.append(a) or logits(a, x, *args, **kw)
    sev, alpha = w.controls['severity'], w.controls['alpha']
    for v in (4, 5): sev.set_state({'value': v})                     # two key presses on the page
    assert 'fog (5)' not in w.scores and not calls                     # the handler computed nothing: it returned at once
    _until(lambda: list(w.figure.data[0].x)[2] == 'fog (5)')
    assert len(calls) == 5 and w.computed[-1] == 'fog (5)' and 'fog (4)' not in w.computed, (calls, w.computed)
    sev.set_state({'value': 2}); alpha.set_state({'value': 0.75})     # α moved while the set change waits
    assert w.alpha == 0.5 and len(calls) == 5
    _until(lambda: list(w.figure.data[0].x)[2] == 'fog (2)' and w.alpha == 0.75)
    assert (w.figure.data[2].x[0], w.figure.data[2].y[0]) in w.curve and w.computed[-1] == 'fog (2)'   # the marker at α = 0.75, on the new curve
    sev.set_state({'value': 3}); w.wait()                              # `wait` finishes a waiting change now
    assert list(w.figure.data[0].x)[2] == 'fog (3)'
    sev.value = 1                                                      # set from code: computed at once
    assert list(w.figure.data[0].x)[2] == 'fog (1)'
