"""resnet56 accuracy under the `cifar` preset vs under Hendrycks' original CIFAR-10-C generator, same images, severities
1, 3, 5, one draw per side (`--draws` to average more); motion blur and snow need ImageMagick (Wand, `make magick`) and are
left out without it.
  python tests/bench_cifar_preset.py [--n 300] [--draws 1] [--out cifar_preset_accuracy.csv]
Needs ../shared/data (CIFAR-10 test images, resnet56) and ../shared/reference/cifar10-c."""
import argparse, os, sys, time
from pathlib import Path
import numpy as np, pandas as pd, torch
sys.path.insert(0, str(Path(__file__).parent))
from cifar_c_reference import load_generator, reference_cifar, has_magick
from robustify_nb.core import set_threads, shared_data, make_generator
from robustify_nb.corruptions import corrupt, CORRUPTIONS
from robustify_nb.models import load_model, accuracy

if __name__ == '__main__':
    ap = argparse.ArgumentParser(); ap.add_argument('--n', type=int, default=300); ap.add_argument('--draws', type=int, default=1)
    ap.add_argument('--out', default='cifar_preset_accuracy.csv'); ap.add_argument('--severities', nargs='*', type=int, default=[1, 3, 5])
    ap.add_argument('--corruptions', nargs='*', default=None, help='default: all 15 (without ImageMagick: all but motion blur and snow)')
    a = ap.parse_args()
    print(f"torch threads: {set_threads(1)}", flush=True)
    ns = load_generator(); assert ns is not None, 'needs ../shared/reference/cifar10-c/make_cifar_c.py'
    if a.corruptions is None: a.corruptions = [c for c in CORRUPTIONS if has_magick(ns) or c not in ('motion_blur', 'snow')]
    if not has_magick(ns) and {'motion_blur', 'snow'} & set(a.corruptions): sys.exit('motion_blur and snow need Wand and libmagickwand: make magick')
    a.out = str(Path(a.out).resolve())
    os.chdir(shared_data() / '..' / 'reference' / 'cifar10-c')          # the original reads ./frost*.png
    z = np.load(shared_data('cifar10-5k/test_1000.npz')); xu, y = z['x'][:a.n], torch.as_tensor(z['y'][:a.n])
    x = torch.from_numpy(xu).permute(0, 3, 1, 2).float()/255
    net = load_model('resnet56', shared_data('cifar10-resnets/resnet56-4bfd9763.th'))
    print(f"clean: {100*accuracy(net, (x, y)):.1f}%", flush=True)
    rows = []
    for name in a.corruptions:
        for s in a.severities:
            t0 = time.perf_counter(); acc_o, acc_r = [], []
            for d in range(a.draws):
                np.random.seed(1000*d + 10*s)
                xr = torch.from_numpy(np.stack([reference_cifar(ns, name, im, s) for im in xu])).permute(0, 3, 1, 2).float()/255
                xo = torch.floor(corrupt(x, name, s, make_generator(1000*d + 10*s), preset='cifar')*255 + 1e-4)/255   # stored as uint8
                acc_o.append(accuracy(net, (xo, y))); acc_r.append(accuracy(net, (xr, y)))
            rows.append(dict(corruption=name, severity=s, ours=100*np.mean(acc_o), original=100*np.mean(acc_r)))
            rows[-1]['difference'] = rows[-1]['ours'] - rows[-1]['original']
            print(f"{name} {s}: ours {rows[-1]['ours']:.1f}, original {rows[-1]['original']:.1f}, difference {rows[-1]['difference']:+.1f} ({time.perf_counter() - t0:.0f} s)", flush=True)
            pd.DataFrame(rows).to_csv(a.out, index=False)
    df = pd.DataFrame(rows)
    print(df.pivot(index='corruption', columns='severity', values='difference').round(1).to_string())
    print(f"largest |difference|: {df.difference.abs().max():.1f} points over {a.n} images, {a.draws} draw(s)")
