"""Benchmark: the size crossovers of the corruption filters' two ways, which chapter 02's size constants (`_SHIFT_MIN`,
`_GAUSS_FFT_MIN`, `_DEFOCUS_FFT_MIN`, `_MOTION_VIEWS_MIN`, `_REFLECT_BANDED_MIN`) encode. Per image of s x s px
(3 channels) on a block of about 2 MB (as `_blockwise` gives them), one thread, CPU clock, best of 7: ms per image of
each way, side by side. Run with `OMP_NUM_THREADS=1 python tests/bench_crossover.py [--sizes 40,48,56,64,224]`.
"""
import argparse, time, torch, numpy as np
from robustify_nb import corruptions as Cm

def ms(f, n, r=7):
    f(); ts = []
    for _ in range(r): t = time.process_time(); f(); ts.append(time.process_time() - t)
    return min(ts) / n * 1e3

def row(s):
    n = max(1, (2 << 20) // (3 * s * s * 4))
    x, r = torch.rand(n, 3, s, s), {}
    for sig in (1.0, 3.0):   # 9 taps (glass blur's), 25 taps (gaussian_blur's)
        k = Cm._gauss_kernel1d(sig)
        r[f'gauss {len(k)} taps: dense'] = ms(lambda: Cm._sep_apply(x, *(Cm._blur_matrix(s, sig, x.device, x.dtype),) * 2), n)
        large = (lambda: Cm._shift_adds(x, k)) if len(k) <= Cm._SHIFT_TAPS else (lambda: Cm._fft_filter2d(x, np.outer(k, k), 'replicate'))
        r[f'gauss {len(k)} taps: ' + ('shifts' if len(k) <= Cm._SHIFT_TAPS else 'fft')] = ms(large, n)
    c = (6, 0.5)
    U, V, rk = Cm._defocus_mats(c, s, s, x.device, x.dtype)
    r['defocus r6: svd'] = ms(lambda: torch.matmul(U, torch.matmul(x.reshape(n * 3 * s, s), V).view(n * 3, s * rk, s)), n)
    r['defocus r6: fft'] = ms(lambda: Cm._fft_filter2d(x, Cm._disk(*c).astype(np.float64), 'reflect'), n)
    a, xm = torch.rand(n, dtype=torch.float64) * 90 - 45, x.reshape(-1, s, s)
    for v in (False, True):
        r['motion r15: ' + ('views' if v else 'index')] = ms(lambda: Cm._motion_blur(xm, 15, 8.0, a, views=v, group=3), n)
    u, sg = torch.rand(2 * n, s, s), s * 0.01
    def dense():
        v = torch.matmul(u, Cm._blur_matrix(s, sg, u.device, u.dtype, 'reflect', 3.0).T)
        return torch.matmul(Cm._blur_matrix(s, sg, u.device, u.dtype, 'reflect', 3.0), v)
    def banded():
        t = Cm._band_mm(u.reshape(len(u) * s, s).t(), sg, 3.0)
        return Cm._band_mm(t.contiguous().view(s * len(u), s).t(), sg, 3.0)
    r['elastic smooth: dense'], r['elastic smooth: banded'] = ms(dense, n), ms(banded, n)
    return r

if __name__ == '__main__':
    import pandas as pd
    ap = argparse.ArgumentParser(); ap.add_argument('--sizes', default='32,40,44,48,52,56,60,64,96,128,160,224')
    a = ap.parse_args()
    torch.set_num_threads(1)
    rows = {}
    for s in [int(v) for v in a.sizes.split(',')]: rows[s] = row(s); print(s, 'px done', flush=True)
    print('ms per image (1 thread, CPU clock, best of 7):')
    print(pd.DataFrame(rows).T.round(4).to_string())
