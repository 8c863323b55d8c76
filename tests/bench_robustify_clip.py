"""The knowledge-transfer method with the tiny CLIP of the WiSE-FT chapter as the student, in one process.

Student: the embedded tiny CLIP (`clip:tiny-cnn`, tag polyshift) as a zero-shot classifier (its image tower and the
zero-shot head built from PolyShift's class names); the tuned part is the first two of the four stages of its
convolutional image tower plus the three heads (`backbone_chain` knows the tower; the robustify chapter's default
`(0, 1, -1)` would tune 43% of the model here, since the tower's last stage holds 70% of its weights). The student
is tuned with AdamW at lr 1e-3: its zero-shot head multiplies L2-normalised features by a logit scale of about 31, the
first SGD step sees a gradient norm of about 70, and SGD at the robustify chapter's lr 0.01 (or 1e-3) diverges to
chance. Teacher: the embedded smallcnn:polyshift robustified with 'augmix+shifts', as in the robustify chapter. Data: PolyShift reference images
(3,000 training, 500 validation for the router, `--n-test` test images) under the 15 evaluation corruptions.
Baselines: original (zero-shot) student, full AugMix fine-tuning of its image tower, WiSE-FT (alpha 0.5), teacher
alone, each head alone. Needs no shared data: everything is embedded.

Run with `python tests/bench_robustify_clip.py --out clip_robustify_out` (about 5 minutes on one CPU thread with
the defaults: 200 test images, severities 1, 3, 5) or `pytest -m slow tests/bench_robustify_clip.py`.
"""
import argparse, json, sys, time
import pytest, torch

def run(out=None, n_test=200, severities=(1, 3, 5), seed=0, log=print, tune=(0, 1), student_opt='adamw', student_lr=1e-3, **kw):
    from robustify_nb.core import seed_everything
    from robustify_nb.wiseft import zeroshot_classifier
    from robustify_nb.robustify import run_experiment
    zs = zeroshot_classifier()
    seed_everything(seed)
    return run_experiment(base=zs, n_test=n_test, severities=tuple(severities), seed=seed, out_dir=out, probe=False, log=log, tune=tune, student_opt=student_opt, student_lr=student_lr, **kw)

@pytest.mark.slow
def test_clip_student(tmp_path):
    res = run(tmp_path, n_test=100, severities=(3,))
    print(res['table'].to_string(index=False)); print(res['routing'])
    t = res['table'].set_index('model')
    assert res['config']['tune'] == ['backbone.clip.visual.body.0', 'backbone.clip.visual.body.4']
    assert res['student_cost']['tuned_fraction'] < 0.1
    assert t.loc['original', 'clean_acc'] > 0.6                       # the zero-shot model reads the reference style
    assert t.loc['oracle', 'mean_corruption_acc'] >= t.loc['ours (routed)', 'mean_corruption_acc']

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--out', default='clip_robustify_out'); p.add_argument('--n-test', type=int, default=200)
    p.add_argument('--severities', nargs='*', type=int, default=[1, 3, 5]); p.add_argument('--thaw-bn', action='store_true', help='let the tuned stages\' BatchNorm statistics follow the batches (freeze_bn=False)'); p.add_argument('--lr', type=float, default=None, help='student learning rate (default 1e-3)'); p.add_argument('--opt', default='adamw', help='student optimiser: adamw (default) or sgd'); p.add_argument('--tune', default='0,1', help='stage indices or names, comma-separated (default 0,1), or k for the last k stages (0: the heads only)')
    a = p.parse_args()
    t0 = time.time()
    torch.set_num_threads(1)
    from robustify_nb.cli import parse_tune
    kw = dict(**({} if a.lr is None else dict(student_lr=a.lr)), student_opt=a.opt, freeze_bn=not a.thaw_bn, tune=parse_tune(a.tune))
    res = run(a.out, a.n_test, a.severities, log=lambda s: print(time.strftime('%H:%M:%S'), s, flush=True), **kw)
    from robustify_nb.robustify import robustify_targets, corruption_table
    print(res['table'].to_string(index=False)); print(robustify_targets(res).to_string(index=False))
    print(corruption_table(res['grid']).round(3).to_string()); print(json.dumps(res['routing'], indent=1)); print(json.dumps(res['config']))
    print(f'total {time.time() - t0:.0f} s')
