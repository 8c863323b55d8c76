"""Issue 16's experiment: does a clean path through the untouched original blocks let the router beat every single head?

Protocol (fixed before the test numbers were seen; one run, seed 0): PolyShift reference splits (3,000 training,
500 validation, 500 test images). Teacher: the embedded smallcnn:polyshift robustified with 'augmix+shifts' for 12
epochs, as in `run_experiment`. Two students with the chapter's defaults (tune (0, 1, -1), 1 epoch on the first 1,500
training images in batches of 64, T 2, soft gate, p_pixmix 0.6), differing only in `clean_path`: 'tuned' (the clean
head reads the tuned features) and 'original' (it is the untouched original model). Each router's thresholds are
fitted by `fit_thresholds` on the validation images, clean and under the training shifts (`heldout_shift`), never on
the 15 evaluation corruptions; on the same statistics `fit_router` also fits the logistic gate (`fit_gate`), and both
rules are scored on the same test statistics (gate − thresholds with its paired standard error). Test: the 500 test
images clean and under the 15 corruptions at severities 1-5.
Reported per student: clean and mean corruption accuracy of the original model, each head, the routed student and the
oracle; routed minus the best single head under corruption with its standard error (paired, over the 500 test images:
the per-image mean over the 75 corrupted conditions); the diagnostic `signal_auroc` on validation (training shifts)
and test; the inference cost (CPU seconds of `router.analyse` over the clean test images against one pass of the
original model, measured in the same process).

Issue 16's fix (the router's clean head is the original model exactly; MC passes for the uncertainty only) added one
step before the test, on the validation images alone (clean and under the training shifts; seed 0): the four routers
`prediction` in ('deterministic', 'mc') × `signal_source` in ('deterministic', 'mc') on the same student, each fitted
by `fit_router`, with `signal_auroc` on validation, each head's validation accuracy, both rules' fitted validation
accuracy, and the gate's validation accuracy against that of the router's defaults (paired SE over the validation
images, clean and shifted rows). The rule for the defaults, stated before the run: `signal_source` is the one with the
higher mean of the entropy and KL AUROCs on the shifted validation images (averaged over both predictions), 'mc' unless
'deterministic' is ahead by 0.02 or more; `prediction` is 'deterministic' unless 'mc' routes (gate) better on validation by two
paired SEs or more. `--valid-only` stops after this step.

Run with `python tests/bench_router_clean_path.py --out /tmp/clean_path` (`--teacher PATH` saves the teacher there, or
reuses one saved by an earlier run; `--severities 3 --n-test 100` for a quick look; `--paths original` for the default
student only). Measured: 276 CPU seconds (one torch thread, teacher reused, 500 test images, severities 1, 3, 5, both
paths); 366 CPU s with `--paths original` and the teacher trained (155 CPU s of it). With the validation step: 167 CPU s
(`--paths original --severities 1 3 5`, teacher reused; 7 Dec 2026), 47 CPU s with `--valid-only`.
"""
import argparse, copy, json, sys, time
from pathlib import Path
import numpy as np, pytest, torch

def _pass_cpu(fn, x, repeats=3):
    "CPU seconds of the fastest of `repeats` calls of fn(x)."
    best = None
    for _ in range(repeats):
        c0 = time.process_time(); fn(x); c = time.process_time() - c0
        best = c if best is None else min(best, c)
    return best

def variants(st, valid, seed=0, log=print):
    "Issue 16: the four (prediction, signal_source) routers on `st`, measured on `valid` under the training shifts only."
    from robustify_nb.router import PREDICTIONS, SIGNAL_SOURCES, ROUTER_DEFAULTS, router_stats, signal_auroc, fit_router, paired_difference
    from robustify_nb.student import HEADS
    from robustify_nb.teacher import heldout_shift
    ref, ref_fitted = fit_router(st, valid, 8, seed, 'gate')           # the defaults' router, fitted once: the reference and one of the four
    rs = router_stats(ref, valid, shift=heldout_shift, seed=seed); ref_ch = ref.choose(rs)
    out = {}
    for pr in PREDICTIONS:
        for ss in SIGNAL_SOURCES:
            if (pr, ss) == (ROUTER_DEFAULTS['prediction'], ROUTER_DEFAULTS['signal_source']): router, fitted, vs = ref, ref_fitted, rs
            else:
                router, fitted = fit_router(st, valid, 8, seed, 'gate', prediction=pr, signal_source=ss)
                vs = router_stats(router, valid, shift=heldout_shift, seed=seed)
            right = vs['probs'].argmax(-1) == vs['y'][:, None]; sh = vs['condition'] != 'clean'
            # the gate's validation routing against the defaults' (same images: rows of clean and shifted images)
            both = dict(vs, probs=torch.stack([vs['probs'][torch.arange(len(right)), router.choose(vs)], rs['probs'][torch.arange(len(right)), ref_ch]], 1))
            d = paired_difference(both, 0, 1, rows='all')
            out[f'{pr}/{ss}'] = dict(auroc=signal_auroc(vs).to_dict('records'), fitted=fitted,
                                    heads_valid={h: dict(clean=right[~torch.as_tensor(sh), i].float().mean().item(), shifted=right[torch.as_tensor(sh), i].float().mean().item()) for i, h in enumerate(HEADS)},
                                    gate_minus_defaults=d['diff'], gate_minus_defaults_se=d['se'])
            log(f"  variant prediction={pr} signal_source={ss}: {json.dumps(out[f'{pr}/{ss}'], default=str)}")
    return out

def run(out=None, n_test=500, severities=(1, 2, 3, 4, 5), seed=0, teacher_path=None, paths=('tuned', 'original'), log=print, valid_only=False):
    from robustify_nb.core import seed_everything
    from robustify_nb.corruptions import CORRUPTIONS
    from robustify_nb.models import load_model
    from robustify_nb.student import distill_student, HEADS
    from robustify_nb.router import RULES, router_stats, routing_report, signal_auroc, evaluate_many, fit_router
    from robustify_nb.robustify import RobustifyConfig, robustify_teacher, _default_teacher, _datasets, _first
    from robustify_nb.teacher import heldout_shift
    from robustify_nb.benchmark import summarize
    base = load_model('resnet20', weights='polyshift').eval()
    cfg = RobustifyConfig(n_test=n_test, seed=seed)
    train, valid, test = _datasets(None, None, None, cfg)
    if teacher_path and Path(teacher_path).exists(): teacher = torch.load(teacher_path, weights_only=False).eval(); log(f'teacher reused from {teacher_path}')
    else:
        teacher, tc = robustify_teacher(_default_teacher(), train, cfg); log(f'teacher: {tc}')
        if teacher_path: torch.save(teacher, teacher_path)
    res = dict(paths={}, n_test=len(test), severities=list(severities), seed=seed)
    xt, _ = test.tensors() if hasattr(test, 'tensors') else test
    if not valid_only:                                      # the validation step sees no test image
        og = evaluate_many({'original': base}, test, CORRUPTIONS, severities, seed=seed)
        o = summarize(og.drop(columns='model'), baseline=None)
        res['original'] = dict(clean=o.clean_acc, corruption=o.mean_corruption_acc)
        with torch.no_grad(): res['cost'] = {'original forward, CPU s': _pass_cpu(base, xt)}
    for cp in paths:
        if valid_only and cp != 'original': continue            # the validation step is the original path's only
        seed_everything(seed)
        st, cost = distill_student(base, teacher, _first(train, 0.5), tune=(0, 1, -1), epochs=1, lr=0.01, batch_size=64, p_pixmix=0.6,
                                   seed=seed, progress=False, clean_path=cp)
        if cp == 'original':
            res.setdefault('variants', {})[cp] = variants(st, valid, seed, log)
            if out: Path(out).mkdir(parents=True, exist_ok=True); (Path(out)/'clean_path.json').write_text(json.dumps(res, indent=1, default=str))
            if valid_only: continue
        router, thr = fit_router(st, valid, 8, seed)          # both rules fitted on the validation images under the training shifts
        vs = router_stats(router, valid, shift=heldout_shift, seed=seed)
        ts = router_stats(router, test, CORRUPTIONS, severities, seed=seed)
        right = ts['probs'].argmax(-1) == ts['y'][:, None]; clean = torch.as_tensor(ts['condition'] == 'clean')
        acc = {h: (right[clean, i].float().mean().item(), right[~clean, i].float().mean().item()) for i, h in enumerate(HEADS)}
        best = max(HEADS, key=lambda h: acc[h][1]); bi = HEADS.index(best)
        n = int(clean.sum())
        # router_stats runs batches of 256 images, each through every condition: image id = batch*256 + position
        k = torch.arange(len(right)); nc = len(dict.fromkeys(ts['condition'])); bs = 256
        b, r = k // (bs*nc), k % (bs*nc); size = torch.clamp(n - b*bs, max=bs); img = b*bs + (r % size)
        def paired(a, bb):
            "Mean and standard error over the test images of the per-image corrupted accuracy difference a - bb."
            per = torch.zeros(n).index_add_(0, img[~clean], (a.float() - bb.float())[~clean])/(nc - 1)
            return per.mean().item(), per.std().item()/np.sqrt(n)
        rules, routed_by = {}, {}
        for rule in RULES:
            ch = router.choose(ts, rule=rule); routed = right[torch.arange(len(ch)), ch]; routed_by[rule] = routed
            m, se = paired(routed, right[:, bi])
            rules[rule] = dict(routed=dict(clean=routed[clean].float().mean().item(), corruption=routed[~clean].float().mean().item()),
                               routed_minus_best=m, se=se, routing=routing_report(ts, ch), share_clean_corrupted=(ch[~clean] == 0).float().mean().item())
        m, se = paired(routed_by['gate'], routed_by['thresholds'])
        with torch.no_grad(): c_an = _pass_cpu(router.analyse, xt)
        res['paths'][cp] = dict(thresholds=thr, student_cost=cost, heads={h: dict(clean=a, corruption=c) for h, (a, c) in acc.items()},
                       rules=rules, gate_minus_thresholds=m, gate_minus_thresholds_se=se,
                       oracle=dict(clean=right[clean].any(1).float().mean().item(), corruption=right[~clean].any(1).float().mean().item()),
                       best_head=best, auroc_valid=signal_auroc(vs).to_dict('records'), auroc_test=signal_auroc(ts).to_dict('records'),
                       analyse_cpu_s=c_an)
        log(f"{cp}: {json.dumps({k: v for k, v in res['paths'][cp].items() if k in ('oracle', 'heads', 'thresholds', 'gate_minus_thresholds', 'gate_minus_thresholds_se')})}")
        for rule in RULES: log(f"  {rule}: {json.dumps({k: v for k, v in rules[rule].items() if k != 'routing'})}")
        if out: Path(out).mkdir(parents=True, exist_ok=True); (Path(out)/'clean_path.json').write_text(json.dumps(res, indent=1, default=str))
    return res

@pytest.mark.slow
def test_clean_path_keeps_the_original(tmp_path):
    res = run(tmp_path, n_test=100, severities=(3,))
    o, p = res['original'], res['paths']['original']
    assert abs(p['heads']['clean']['clean'] - o['clean']) < 1e-6 and abs(p['heads']['clean']['corruption'] - o['corruption']) < 1e-6   # the clean head is the original, exactly (one image of the 1,500 corrupted ones: 7e-4)
    assert p['oracle']['corruption'] >= max(h['corruption'] for h in p['heads'].values())
    for rule in p['rules'].values(): assert rule['routed']['clean'] >= o['clean'] - 0.02

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--out', default='clean_path_out'); p.add_argument('--n-test', type=int, default=500)
    p.add_argument('--severities', nargs='*', type=int, default=[1, 2, 3, 4, 5]); p.add_argument('--teacher', default=None)
    p.add_argument('--paths', nargs='*', default=['tuned', 'original'])
    p.add_argument('--valid-only', action='store_true', help="issue 16's validation step only (the four routers of the 'original' path); no test")
    a = p.parse_args()
    torch.set_num_threads(1)
    c0 = time.process_time()
    res = run(a.out, a.n_test, a.severities, teacher_path=a.teacher, paths=a.paths, valid_only=a.valid_only, log=lambda s: print(time.strftime('%H:%M:%S'), s, flush=True))
    print(json.dumps(res, indent=1, default=str)); print(f'total {time.process_time() - c0:.0f} CPU s')
