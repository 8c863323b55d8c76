"""Benchmark figures of the corruption grid (05_benchmark), one thread, printed with their settings:

  python tests/bench_grid.py multi        3 CIFAR ResNets scored in one pass vs 3 separate runs (200 shared test images)
  python tests/bench_grid.py imagenet-c   CPU time per image of the 15 corruptions at 224 px and of resnet18/50, and
                                          the time of an ImageNet-C-size grid (50,000 x 15 x 5 + clean) they imply
  python tests/bench_grid.py quantize     float vs uint8 vs jpeg85 grids on 200 shared CIFAR-10 and 200 PolyShift images

Needs the development data (../shared/data or $ROBUSTIFY_SHARED_DATA) for `multi` and `quantize`.
"""
import sys, time, torch, pandas as pd
from pathlib import Path
from robustify_nb.core import set_threads, shared_data, make_generator
from robustify_nb.data import load_npz, PolyShift
from robustify_nb.models import load_model
from robustify_nb.corruptions import corrupt, CORRUPTIONS
from robustify_nb.benchmark import evaluate_corruptions, summarize

def cpu_best(f, k=2):
    ts = []
    for _ in range(k): t0 = time.process_time(); f(); ts.append(time.process_time() - t0)
    return min(ts)

def multi():
    data = load_npz(shared_data('cifar10-5k/test_1000.npz')).tensors(slice(0, 200))
    nets = {'resnet20': load_model('resnet20', shared_data('cifar10-resnets/resnet20-12fca82f.th')),
            'resnet56': load_model('resnet56', shared_data('cifar10-resnets/resnet56-4bfd9763.th')),
            'resnet20-polyshift': load_model('resnet20', weights='polyshift')}
    kw = dict(severities=(1, 3, 5), batch_size=100, seed=0)
    t0 = time.perf_counter(); one = evaluate_corruptions(nets, data, **kw); t1 = time.perf_counter() - t0
    t0 = time.perf_counter(); sep = {k: evaluate_corruptions(m, data, **kw) for k, m in nets.items()}; t3 = time.perf_counter() - t0
    for k in nets: assert sep[k].equals(one[one.model == k].drop(columns='model').reset_index(drop=True))
    print(f"3 models, 200 CIFAR images, 15 corruptions x severities 1,3,5 (+clean): one pass {t1:.1f} s, three separate runs {t3:.1f} s, "
          f"ratio {t3/t1:.2f}x; tables identical")

def imagenet_c():
    import torchvision
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_corruptions import images
    x = images(16, 224)
    tot = {}
    for sev in (1, 3, 5):
        t = 0
        for n in CORRUPTIONS:
            corrupt(x[:2], n, sev, make_generator(0)); t += cpu_best(lambda: corrupt(x, n, sev, make_generator(0))) / 16
        tot[sev] = t
        print(f"224 px, severity {sev}: all 15 corruptions take {t*1000:.0f} ms of CPU time per image")
    for name in ('resnet18', 'resnet50'):
        m = getattr(torchvision.models, name)().eval()
        with torch.inference_mode():
            m(x[:2]); t = cpu_best(lambda: m(x)) / 16
        corr_s, model_s = 50_000*sum(tot.values())/3*5, 50_000*76*t     # severities 1, 3, 5 stand for 1..5
        print(f"{name} forward at 224 px, batch 16: {t*1000:.0f} ms of CPU time per image; ImageNet-C size on one core: "
              f"corruptions {corr_s/3600:.1f} h + model {model_s/3600:.1f} h = {(corr_s + model_s)/3600:.1f} h")

def quantize():
    for dname, data, net in (('CIFAR-10 (200 shared test images), resnet20', load_npz(shared_data('cifar10-5k/test_1000.npz')).tensors(slice(0, 200)),
                              load_model('resnet20', shared_data('cifar10-resnets/resnet20-12fca82f.th'))),
                             ('PolyShift (200 reference test images), resnet20 polyshift', PolyShift(200, 'reference', 'test').tensors(),
                              load_model('resnet20', weights='polyshift'))):
        grids = {q: evaluate_corruptions(net, data, severities=(1, 3, 5), batch_size=200, seed=0, quantize=q) for q in (None, 'uint8', 'jpeg85')}
        tab = pd.DataFrame({str(q): g.set_index(['corruption', 'severity']).accuracy*100 for q, g in grids.items()})
        tab['uint8-float'] = tab['uint8'] - tab['None']; tab['jpeg85-float'] = tab['jpeg85'] - tab['None']
        print('==', dname); print(tab.round(1).to_string())
        print('mean corruption accuracy:', {str(q): round(100*summarize(g, None)['mean_corruption_acc'], 2) for q, g in grids.items()},
              ' max |uint8-float|', round(tab['uint8-float'].abs().max(), 1), ' max |jpeg85-float|', round(tab['jpeg85-float'].abs().max(), 1))

if __name__ == '__main__':
    jobs = {'multi': multi, 'imagenet-c': imagenet_c, 'quantize': quantize}
    if len(sys.argv) != 2 or sys.argv[1] not in jobs: sys.exit(f"usage: python tests/bench_grid.py {{{'|'.join(jobs)}}}")
    print(f"torch threads: {set_threads(1)}", flush=True)
    jobs[sys.argv[1]]()
