"""Benchmark: one α change of WiSE-FT (re-interpolate the weights in place + re-score 1,000 images) with the tiny CLIP.

Target (issue 4): median <= 300 ms on the development CPU. Measured for E2E fine-tuning (the whole image tower moves,
so the 1,000 images go through the network again), for LC fine-tuning (only the head moves: cached features, one
matrix product), and for the live widget (3 sets of 334 images). Run with
`python tests/bench_wiseft.py [--threads N] [--repeats 15]` from the checkout, or `pytest -m slow tests/bench_wiseft.py`.
"""
import argparse, statistics, sys, time, torch, pytest
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))     # this checkout's package, not another install

def measure(repeats:int=15, n:int=1000, seed:int=0):
    from robustify_nb.data import PolyShift
    from robustify_nb.wiseft import zeroshot_classifier, finetune_e2e, finetune_lc, WiseEnsemble, wiseft_explorer
    zs = zeroshot_classifier()
    train = PolyShift(1000, 'reference', 'train', seed)
    fts = {'E2E': finetune_e2e(zs, train, epochs=1, progress=False), 'LC': finetune_lc(zs, train, epochs=2, progress=False)}
    x, y = PolyShift(n, 'sketch', 'test', seed).tensors()
    alphas = [round(0.05 + 0.9*i/(repeats - 1), 3) for i in range(repeats)]
    out = {}
    for k, ft in fts.items():
        ens = WiseEnsemble(zs, ft)
        (ens.logits(0.5, x, 'x').argmax(1) == y).float().mean()                  # warm-up (and LC's one feature pass)
        ts = []
        for a in alphas:
            t0 = time.perf_counter(); acc = (ens.logits(a, x, 'x').argmax(1) == y).float().mean().item(); ts.append(time.perf_counter() - t0)
        out[k] = 1000*statistics.median(ts)
    w = wiseft_explorer(WiseEnsemble(zs, fts['E2E']), n=n//3 + 1)
    ts = []
    for a in [0.05*i for i in range(1, 20)][:repeats]:
        w.controls['alpha'].value = round(a, 2); ts.append(w.last_ms)
    out['widget E2E (3 x %d images)' % (n//3 + 1)] = statistics.median(ts)
    return out

@pytest.mark.slow
def test_alpha_change_benchmark():
    res = measure(repeats=9)
    print(res)
    assert res['LC'] <= 300, res           # the E2E figure depends on the machine's load: reported, not asserted

if __name__ == '__main__':
    p = argparse.ArgumentParser(); p.add_argument('--threads', type=int, default=None); p.add_argument('--repeats', type=int, default=15)
    a = p.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    print(f'torch threads: {torch.get_num_threads()}')
    for k, v in measure(a.repeats).items(): print(f'{k:>30}: median {v:.0f} ms per alpha change (target <= 300 ms)')
