"""Real data: the knowledge-transfer method on the shared CIFAR-10 files, against its baselines, in one process.

Student: the shared pretrained resnet56; teacher: the shared resnet20, robustified here with AugMix + JSD (half of the
views held-out training shifts: the 'augmix+shifts' recipe) on the shared training images (3,600 for training, 400 held
out to fit the router); test: the shared 1,000 test images under the
15 corruptions. Baselines: original student, full AugMix fine-tuning of the student, WiSE-FT (alpha 0.5), teacher
alone, each head alone. Skips without ../shared/data.

Run with `make bench` (pytest -m slow: all 5 severities) or, quicker on a CPU,
`python tests/bench_robustify_cifar.py --severities 3 --out cifar_out` (568 s wall on one CPU thread at load about 2, 7 Dec 2026; 1,258-2,006 s at load 2-8).
Beside the tables it keeps the per-image record of the student (`per_image.npz` in `--out`: for every test image ×
condition row, whether each head is right, the routed choice, the image index and the condition) and prints the paired
differences (over the 1,000 test images) of routed − best single head and routed − clean head (the original model,
exactly, since issue 16's fix; before it, the original through the heads' Monte Carlo dropout) under corruption, and routed − clean head on the clean images, each with its SE.
Then issue 16's diagnostic, `signal_auroc` (how well the clean head's entropy and MI and the KL clean ‖ robust separate
"only the robust head is right" from "the clean head is right") on the test images and on the 400 validation images under
the training shifts (`signals.json`), with the router's statistics of both (`stats_test.npz`, `stats_valid.npz`).
"""
import argparse, json, sys, time
from pathlib import Path
import numpy as np, pytest, torch

def run(shared, out, severities=(1, 2, 3, 4, 5), teacher_epochs=3, student_epochs=1, full_epochs=2, seed=0, log=print, teacher_recipe='augmix+shifts'):
    from robustify_nb.core import seed_everything
    from robustify_nb.data import load_npz
    from robustify_nb.models import load_model
    from robustify_nb.robustify import run_experiment
    w = shared/'cifar10-resnets'
    student = load_model('resnet56', weights=w/'resnet56-4bfd9763.th')
    teacher = load_model('resnet20', weights=w/'resnet20-12fca82f.th')
    full = load_npz(shared/'cifar10-5k'/'train_4000.npz')
    train, valid, test = full.subset(slice(0, 3600)), full.subset(slice(3600, 4000)), load_npz(shared/'cifar10-5k'/'test_1000.npz')
    seed_everything(seed)
    return run_experiment(student, teacher, train, valid, test, teacher_recipe=teacher_recipe, teacher_epochs=teacher_epochs, student_epochs=student_epochs,
                          full_epochs=full_epochs, severities=tuple(severities), seed=seed, out_dir=out, probe=False, log=log)

def paired_record(res, out=None) -> dict:
    "The student's per-image record (saved to `out/per_image.npz`) and the paired differences with their SEs."
    from robustify_nb.router import paired_difference
    from robustify_nb.student import HEADS
    st, router = res['test_stats'], res['router']
    ch = router.choose(st); right = st['probs'].argmax(-1) == st['y'][:, None]
    clean = st['condition'] == 'clean'
    acc = {h: right[torch.as_tensor(~clean), i].float().mean().item() for i, h in enumerate(HEADS)}
    best = max(HEADS, key=acc.get)
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
        np.savez_compressed(Path(out)/'per_image.npz', right=right.numpy(), choice=ch.numpy(), image=st['image'].numpy(), condition=st['condition'], heads=np.array(HEADS))
    return dict(best_head=best, routed_minus_best_head=paired_difference(st, ch, HEADS.index(best)), routed_minus_clean_head=paired_difference(st, ch, 0),
                clean_routed_minus_clean_head=paired_difference(st, ch, 0, rows='clean'))

def signal_record(res, valid, out=None, seed=0) -> dict:
    "Issue 16's diagnostic (`signal_auroc`) on the test images and on `valid` under the training shifts; the router's statistics of both saved to `out/stats_{test,valid}.npz` (no pickle)."
    from robustify_nb.router import router_stats, signal_auroc
    from robustify_nb.teacher import heldout_shift
    st, vs = res['test_stats'], router_stats(res['router'], valid, shift=heldout_shift, seed=seed)
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
        for name, s in (('test', st), ('valid', vs)):
            np.savez_compressed(Path(out)/f'stats_{name}.npz', **{k: (v.numpy() if isinstance(v, torch.Tensor) else np.asarray(v)) for k, v in s.items()})
    return dict(auroc_test=signal_auroc(st).to_dict('records'), auroc_valid=signal_auroc(vs).to_dict('records'))

@pytest.mark.slow
def test_real_data_cifar10(shared, tmp_path):
    res = run(shared, tmp_path)
    print(res['table'].to_string(index=False)); print(res['routing'])
    t = res['table'].set_index('model')
    assert t.loc['original', 'clean_acc'] > 0.85
    assert t.loc['oracle', 'mean_corruption_acc'] >= t.loc['ours (routed)', 'mean_corruption_acc']
    pr = paired_record(res, tmp_path)
    assert pr['routed_minus_best_head']['n_images'] == len(res['test_stats']['y'][res['test_stats']['condition'] == 'clean']) and (tmp_path/'per_image.npz').exists()

if __name__ == '__main__':
    from robustify_nb.core import shared_data
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--out', default='cifar_robustify_out'); p.add_argument('--severities', nargs='*', type=int, default=[1, 2, 3, 4, 5])
    p.add_argument('--teacher-epochs', type=int, default=3); p.add_argument('--teacher-recipe', default='augmix+shifts'); p.add_argument('--epochs', type=int, default=1); p.add_argument('--full-epochs', type=int, default=2)
    a = p.parse_args()
    shared = shared_data()
    if shared is None: sys.exit('shared/data not found beside the checkout (or $ROBUSTIFY_SHARED_DATA); nothing to run.')
    t0 = time.time()
    torch.set_num_threads(1)
    res = run(shared, a.out, a.severities, a.teacher_epochs, a.epochs, a.full_epochs, log=lambda s: print(time.strftime('%H:%M:%S'), s, flush=True),
              teacher_recipe=a.teacher_recipe)
    from robustify_nb.robustify import robustify_targets, corruption_table
    print(res['table'].to_string(index=False)); print(robustify_targets(res).to_string(index=False))
    print(corruption_table(res['grid']).round(3).to_string()); print(json.dumps(res['routing'], indent=1)); print(json.dumps(res['config']))
    pr = paired_record(res, a.out); print(json.dumps(pr, indent=1))
    (Path(a.out)/'paired.json').write_text(json.dumps(pr, indent=1))
    from robustify_nb.data import load_npz
    sr = signal_record(res, load_npz(shared/'cifar10-5k'/'train_4000.npz').subset(slice(3600, 4000)), a.out); print(json.dumps(sr, indent=1))
    (Path(a.out)/'signals.json').write_text(json.dumps(sr, indent=1))
    print(f'total {time.time() - t0:.0f} s')
