"""Benchmark: images/s of the torch corruptions vs the reference (imagecorruptions-imaug), same images, same process.

Target on a 2-core CPU at 32 px in batches of 256: >= 20x the reference for the 15-corruption suite as a whole.
Run with `make bench` or `python tests/bench_corruptions.py [--size 224] [--device cuda] [--no-ref] [--ref-images 32]`.
"""
import argparse, torch, pytest
from robustify_nb.corruptions import throughput, suite_throughput

def images(n=256, size=32, device='cpu'):
    from robustify_nb.data import PolyShift
    x = PolyShift(n, 'reference', 'test').tensors()[0]
    if size != 32: x = torch.nn.functional.interpolate(x, size=size, mode='bicubic').clamp(0, 1)
    return x.to(device)

def report(df):
    print(df.round(1).to_string(index=False))
    s = suite_throughput(df)
    print(f"15-corruption suite: ours {s['ours']:.0f} img/s" + (f", reference {s['reference']:.0f} img/s, ratio {s['ratio']:.1f}x" if 'ratio' in s else ''))
    return s

@pytest.mark.slow
def test_suite_speedup_at_32px():
    torch.set_num_threads(2)
    assert report(throughput(images()))['ratio'] >= 20

if __name__ == '__main__':
    ap = argparse.ArgumentParser(); ap.add_argument('--size', type=int, default=32); ap.add_argument('--device', default='cpu')
    ap.add_argument('--n', type=int, default=256); ap.add_argument('--no-ref', action='store_true')
    ap.add_argument('--ref-images', type=int, default=32, help='images the reference is timed on')
    a = ap.parse_args()
    report(throughput(images(a.n, a.size, a.device), reference=not a.no_ref, ref_images=a.ref_images))
