"""Benchmark: images/s of the torch corruptions vs the reference (imagecorruptions-imaug), same images, same process.

Targets on a 2-core CPU (best of 3 on both sides): the 15-corruption suite >= 20x the reference at 32 px (batches of
256) and >= 10x at 224 px, no corruption below 2x there. The thread count is chosen by `set_threads` (`--threads N`
overrides it) and printed with the figures: on a loaded machine compare at `--threads 1` (the reference is single-threaded)
and with `--clock cpu`, which times both sides by this process's CPU time (with one thread: the wall time of a quiet
machine), so that other jobs on a shared machine do not decide the ratio.
Run with `make bench` or `python tests/bench_corruptions.py [--size 224] [--device cuda] [--threads 1] [--clock cpu] [--no-ref]`.
"""
import argparse, torch, pytest
from robustify_nb.core import set_threads
from robustify_nb.corruptions import throughput, suite_throughput, CORRUPTIONS

def images(n=256, size=32, device='cpu'):
    from robustify_nb.data import PolyShift
    x = PolyShift(n, 'reference', 'test').tensors()[0]
    if size != 32: x = torch.nn.functional.interpolate(x, size=size, mode='bicubic').clamp(0, 1)
    return x.to(device)

def report(df, x=None, clock='wall'):
    print(df.round(1).to_string(index=False))
    s = suite_throughput(df)
    where = '' if x is None else f" ({len(x)} images of {x.shape[-1]} px on {x.device}, {torch.get_num_threads()} torch threads, {clock} clock; the reference: 1 thread)"
    print(f"15-corruption suite{where}: ours {s['ours']:.0f} img/s" + (f", reference {s['reference']:.0f} img/s, ratio {s['ratio']:.1f}x" if 'ratio' in s else ''))
    return s

@pytest.mark.slow
def test_suite_speedup_at_32px():
    set_threads(2)
    x = images()
    assert report(throughput(x), x)['ratio'] >= 20

if __name__ == '__main__':
    ap = argparse.ArgumentParser(); ap.add_argument('--size', type=int, default=32); ap.add_argument('--device', default='cpu')
    ap.add_argument('--n', type=int, default=256); ap.add_argument('--no-ref', action='store_true')
    ap.add_argument('--ref-images', type=int, default=32, help='images the reference is timed on')
    ap.add_argument('--threads', type=int, default=None, help='torch threads (default: chosen by robustify_nb.core.set_threads)')
    ap.add_argument('--corruptions', nargs='*', default=list(CORRUPTIONS), help='a subset to time (the suite figure needs all 15)')
    ap.add_argument('--clock', default='wall', choices=('wall', 'cpu'), help="cpu: this process's CPU time (use with --threads 1 on a shared machine)")
    a = ap.parse_args()
    print(f"torch threads: {set_threads(a.threads)}" + ('' if a.threads else ' (chosen by set_threads)'))
    x = images(a.n, a.size, a.device)
    df = throughput(x, names=a.corruptions, reference=not a.no_ref, ref_images=a.ref_images, clock=a.clock)
    if set(CORRUPTIONS) <= set(df.corruption): report(df, x, a.clock)
    else: print(df.round(1).to_string(index=False))
