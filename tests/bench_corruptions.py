"""Benchmark: images/s of the torch corruptions vs the reference (imagecorruptions-imaug), same images, same process.

Target on a 2-core CPU at 32 px in batches of 256: >= 20x the reference for the 15-corruption suite as a whole.
Run with `make bench` or `python tests/bench_corruptions.py [--size 224] [--device cuda]`.
"""
import argparse, time, torch, pytest
from robustify_nb.core import make_generator
from robustify_nb.corruptions import corrupt, CORRUPTIONS, EXTRA_CORRUPTIONS, reference_corrupt

def measure(n=256, size=32, device='cpu', names=CORRUPTIONS + EXTRA_CORRUPTIONS, ref=True, severity=3):
    from robustify_nb.data import PolyShift
    x = PolyShift(n, 'reference', 'test').tensors()[0]
    if size != 32: x = torch.nn.functional.interpolate(x, size=size, mode='bicubic').clamp(0, 1)
    xd = x.to(device)
    rows = []
    for name in names:
        corrupt(xd[:8], name, severity, make_generator(0, device))                # warm-up
        if device != 'cpu': torch.cuda.synchronize()
        t0 = time.perf_counter(); corrupt(xd, name, severity, make_generator(0, device))
        if device != 'cpu': torch.cuda.synchronize()
        ours = time.perf_counter() - t0
        theirs = None
        if ref:
            k = max(8, n//8)                                                       # the reference is slow: time a subset
            reference_corrupt(x[:2], name, severity)                                # warm-up (numba compiles glass_blur)
            t0 = time.perf_counter(); reference_corrupt(x[:k], name, severity); theirs = (time.perf_counter() - t0)*n/k
        rows.append((name, n/ours, n/theirs if theirs else None))
    return rows

def report(rows, names=CORRUPTIONS):
    print(f"{'corruption':>18} {'ours img/s':>11} {'ref img/s':>10} {'ratio':>7}")
    for name, o, r in rows: print(f"{name:>18} {o:11.0f} {r or float('nan'):10.0f} {o/r if r else float('nan'):7.1f}")
    suite = [r for r in rows if r[0] in names]
    t_ours = sum(1/o for _, o, _ in suite); t_ref = sum(1/r for _, _, r in suite if r)
    print(f"15-corruption suite: ours {1/t_ours:.0f} img/s (all 15 applied), reference {1/t_ref:.0f} img/s, ratio {t_ref/t_ours:.1f}x")
    return t_ref/t_ours

@pytest.mark.slow
def test_suite_speedup_at_32px():
    torch.set_num_threads(2)
    assert report(measure()) >= 20

if __name__ == '__main__':
    ap = argparse.ArgumentParser(); ap.add_argument('--size', type=int, default=32); ap.add_argument('--device', default='cpu')
    ap.add_argument('--n', type=int, default=256); ap.add_argument('--no-ref', action='store_true')
    a = ap.parse_args()
    rows = measure(a.n, a.size, a.device, ref=not a.no_ref)
    report(rows) if not a.no_ref else [print(f"{n:>18} {o:9.0f} img/s") for n, o, _ in rows]
