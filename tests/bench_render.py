"""Benchmark: rendering 50,000 PolyShift images per style (target: under 2 s on a 2-core CPU).

Run with `make bench` (pytest -m slow) or `python tests/bench_render.py`. Besides the absolute time it reports the ratio
to filling a float tensor of the same size with random numbers in the same process, which normalises for the machine.
"""
import time, statistics, torch, pytest
from robustify_nb.data import sample_attributes, render, STYLES

def measure(n=50_000, repeats=3):
    at = sample_attributes(n, 0, 'train')
    def best(f): return min(_t(f) for _ in range(repeats))
    def _t(f): t0 = time.perf_counter(); f(); return time.perf_counter() - t0
    base = best(lambda: torch.rand(n, 3, 32, 32))
    rows = {s: best(lambda s=s: render(at, s)) for s in STYLES}
    rows_u8 = {s: best(lambda s=s: render(at, s, dtype=torch.uint8)) for s in STYLES}
    return base, rows, rows_u8

@pytest.mark.slow
def test_render_50k_under_2s():
    base, rows, rows_u8 = measure()
    print(f"\ntorch.rand of the same size: {base:.3f} s")
    for s in rows: print(f"{s:>9}: float32 {rows[s]:.2f} s ({rows[s]/base:.1f}x rand), uint8 {rows_u8[s]:.2f} s")
    assert rows['reference'] < 2.0

if __name__ == '__main__': test_render_50k_under_2s()
