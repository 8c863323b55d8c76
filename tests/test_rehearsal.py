"""Rehearsal of the real-scale path on CPU: real architectures (open_clip ViT-B-32, torchvision ResNet-50) at their native
resolution, with random weights saved to local files and loaded the way a downloaded checkpoint is, through the library
and through the CLI jobs with model strings (FILE.py:factory). A handful of images each: shapes, finite outputs, reports
written, resumption. Not slow-marked: it runs in the suite. The big models are built once per module (fixtures)."""
import json, os, subprocess, sys
from pathlib import Path
import numpy as np, pandas as pd, pytest, torch
from conftest import robustify_exe, ROOT
from robustify_nb.core import make_generator
from robustify_nb.data import PolyShift, CLASSES, image_folder
from robustify_nb.models import load_model, load_clip, Classifier, IMAGENET_MEAN

ENV = {**os.environ, 'PYTHONPATH': str(ROOT)}   # the CLI subprocesses import this checkout's package

USER_MODELS = '''
"A user's own model file: nothing here comes from robustify_nb."
import torch, torch.nn as nn, torch.nn.functional as F

class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout)
        self.conv2, self.bn2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout)
        self.pad = (cout - cin)//2 if stride != 1 or cin != cout else 0
    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        sc = F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad)) if self.pad else x
        return F.relu(out + sc)

class CifarResNet(nn.Module):
    "He et al.'s CIFAR ResNet (option-A shortcuts), normalising its [0, 1] input itself; 32 px native."
    image_size = 32
    def __init__(self, depth=20, num_classes=10):
        super().__init__()
        n = (depth - 2)//6
        self.register_buffer('mean', torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer('std', torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)
        self.conv1, self.bn1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16)
        cin, layers = 16, []
        for i, c in enumerate((16, 32, 64)):
            blocks = []
            for j in range(n): blocks.append(Block(cin, c, 2 if j == 0 and i > 0 else 1)); cin = c
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.linear = nn.Linear(64, num_classes)
    def forward(self, x):
        x = F.relu(self.bn1(self.conv1((x - self.mean)/self.std)))
        return self.linear(self.layer3(self.layer2(self.layer1(x))).mean((2, 3)))

def resnet20(num_classes=10): return CifarResNet(20, num_classes)

def tiny(num_classes=10):
    "Two residual stages of 8 channels: cheap enough to train in a test."
    net = CifarResNet(8, num_classes)
    return net

def resnet50(num_classes=10):
    "torchvision's ResNet-50 as a plain module that normalises itself, 224 px native."
    import torchvision
    net = torchvision.models.resnet50(weights=None, num_classes=num_classes)
    class Normalised(nn.Module):
        image_size = 224
        def __init__(self):
            super().__init__(); self.net = net
            self.register_buffer('mean', torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
            self.register_buffer('std', torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)
        def forward(self, x): return self.net((x - self.mean)/self.std)
    return Normalised()
'''

def cli(*args, timeout=400):
    r = subprocess.run(robustify_exe() + [str(a) for a in args], capture_output=True, text=True, timeout=timeout, env=ENV)
    assert r.returncode == 0, f"robustify {' '.join(map(str, args))} failed:\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}"
    return r

@pytest.fixture(scope='module')
def work(tmp_path_factory):
    d = tmp_path_factory.mktemp('rehearsal')
    (d/'my_models.py').write_text(USER_MODELS)
    return d

@pytest.fixture(scope='module')
def vit_file(work):
    "ViT-B-32 with random weights, written as open_clip's checkpoint file (what a download leaves in the cache)."
    torch.manual_seed(0)
    clip, _ = load_clip('ViT-B-32', None)
    p = work/'open_clip_pytorch_model.bin'
    torch.save(clip.state_dict(), p)
    return p

@pytest.fixture(scope='module')
def zs(vit_file):
    "The zero-shot ViT-B-32 loaded from that file, its head built with the real tokenizer and templates."
    from robustify_nb.wiseft import zeroshot_classifier, TEMPLATES
    return zeroshot_classifier('ViT-B-32', vit_file, classnames=CLASSES, templates=TEMPLATES[:4])

@pytest.fixture(scope='module')
def r50(work):
    "torchvision ResNet-50 (10 classes, random weights), saved in torchvision's own layout and loaded through the key map."
    import torchvision
    torch.manual_seed(0)
    p = work/'resnet50-random.pth'
    torch.save(torchvision.models.resnet50(weights=None, num_classes=10).state_dict(), p)
    return load_model('tv_resnet50', p)

@pytest.fixture(scope='module')
def folder224(work):
    "A small class-per-folder tree of 224 px PNGs (PolyShift images upsampled), as a real dataset comes."
    from PIL import Image
    ds, root = PolyShift(8, 'reference', 'test', 0), work/'folder224'
    x = torch.nn.functional.interpolate(ds.images.float()/255, size=224, mode='bilinear', antialias=True)
    for i, (img, y) in enumerate(zip(x, ds.labels)):
        (root/CLASSES[int(y)]).mkdir(parents=True, exist_ok=True)
        Image.fromarray((img.permute(1, 2, 0)*255).round().byte().numpy()).save(root/CLASSES[int(y)]/f'{i}.png')
    return root

def _finite(t): return bool(torch.as_tensor(t).float().isfinite().all())

# ---- open_clip ViT-B-32 ---------------------------------------------------------------------------------------------
def test_vit_b_32_takes_any_resolution(zs):
    assert isinstance(zs, Classifier) and zs.image_size == (224, 224) and zs.config['resize'] == 'bicubic'
    assert 'image_size=(224, 224)' in repr(zs) and 'mean=(0.4815' in repr(zs)
    assert zs.head.weight.shape == (10, 512) and list(zs.classes) == list(CLASSES)
    with torch.no_grad():
        for s in (32, 96, 224):
            out = zs(torch.rand(2, 3, s, s))
            assert out.shape == (2, 10) and _finite(out)
        torch.testing.assert_close(zs.features(torch.rand(2, 3, 32, 32)).norm(dim=-1), torch.ones(2))

@pytest.fixture(scope='module')
def finetuned(zs, work):
    "E2E and LC fine-tuning of the ViT-B-32 zero-shot model, one step each (8 images); the E2E model saved as a checkpoint."
    from robustify_nb.wiseft import finetune_e2e, finetune_lc
    from robustify_nb.models import save_checkpoint
    train = PolyShift(8, 'reference', 'train', 0)
    fts = dict(E2E=finetune_e2e(zs, train, epochs=1, batch_size=8, progress=False), LC=finetune_lc(zs, train, epochs=1, batch_size=8, progress=False))
    save_checkpoint(fts['E2E'], work/'vit-e2e.safetensors')
    return fts

def test_vit_b_32_wiseft_e2e_lc_sweep_and_widget(zs, finetuned):
    from robustify_nb.wiseft import make_domains, sweep, wiseft_table, wiseft_explorer, WiseEnsemble
    domains = make_domains(4, styles=['sketch'], corruptions=['fog'])            # held-out reference, one style, one corruption
    sweeps = {k: sweep(WiseEnsemble(zs, m), domains, alphas=(0, 0.5, 1), output_space=False) for k, m in finetuned.items()}
    for k, df in sweeps.items():
        assert sorted(df.alpha.unique()) == [0, 0.5, 1] and df.accuracy.between(0, 1).all() and len(df) == 9, df
    with torch.no_grad(): zs_acc = {n: (zs(x).argmax(1) == y).float().mean().item() for n, (x, y) in domains.items()}
    at0 = sweeps['E2E'][sweeps['E2E'].alpha == 0].set_index('domain').accuracy
    for n, a in zs_acc.items(): assert abs(at0[n] - a) < 1e-6, (n, at0[n], a)                # alpha = 0 is the zero-shot model
    assert wiseft_table(sweeps).notna().any().any()
    e2e = finetuned['E2E']
    assert e2e.image_size == (224, 224)
    changed = [k for k, v in e2e.state_dict().items() if not torch.equal(v, zs.state_dict()[k])]
    assert any(k.startswith('backbone.clip.visual') for k in changed)                      # E2E moved the image tower
    zsb = zs.backbone.state_dict()
    assert all(torch.equal(v, zsb[k]) for k, v in finetuned['LC'].backbone.state_dict().items())   # LC: the tower is untouched
    w = wiseft_explorer(WiseEnsemble(zs, e2e), n=4, step=0.5)          # the widget scores every alpha of its slider: 0, 0.5, 1
    w.controls['alpha'].value = 1.0
    assert w.alpha == 1.0 and len(w.scores) == 3 and all(0 <= v <= 100 for v in w.scores.values()) and len(w.curve) == 3

def test_vit_b_32_multihead_student_with_small_teacher(zs, work):
    from robustify_nb.robustify import run_experiment
    from robustify_nb.student import list_blocks
    assert len(list_blocks(zs)) == 12 and list_blocks(zs)[-1] == 'backbone.clip.visual.transformer.resblocks.11'
    res = run_experiment(zs, load_model('smallcnn', 'polyshift'), n_train=8, n_valid=8, n_test=8, teacher_epochs=0, baselines=False,
                         corruptions=['fog'], severities=[1], mc_passes=2, tune=1, student_fraction=1.0, student_batch_size=8,
                         student_opt='adamw', probe=False, out_dir=work/'mh-vit', log=lambda s: None)
    t = res['table']
    assert len(t) and t.select_dtypes('number').apply(np.isfinite).all().all(), t
    assert (work/'mh-vit'/'student.safetensors').exists()

# ---- torchvision ResNet-50 -----------------------------------------------------------------------------------------
def test_resnet50_bench_on_a_224px_folder(r50, folder224):
    from robustify_nb.benchmark import evaluate_corruptions
    assert r50.image_size == (224, 224) and r50.num_classes == 10
    ds = image_folder(folder224, image_size=224)
    assert len(ds) == 8 and tuple(ds[0][0].shape) == (3, 224, 224)
    grid = evaluate_corruptions(r50, ds, ['fog', 'gaussian_noise'], severities=[1])
    assert len(grid) == 3 and grid.accuracy.between(0, 1).all() and (grid.n == 8).all()

def test_resnet50_pgd_transfer_and_captum_at_the_datas_resolution(r50):
    from robustify_nb.transfer import pgd, linear_probe, task_data
    from robustify_nb.explain import attribute
    x, y = PolyShift(4, 'reference', 'test', 0).tensors()             # 32 px images; the model resizes them to 224 inside
    xa = pgd(r50, x, y, 2/255, 'linf', steps=2)
    assert xa.shape == x.shape and (xa - x).abs().max() <= 2/255 + 1e-6 and xa.min() >= 0 and xa.max() <= 1
    acc = linear_probe(r50, task_data('family', 'train', 16), task_data('family', 'test', 8), epochs=1)
    assert 0 <= acc <= 1
    maps = attribute(r50, x[:2], method='saliency')
    assert maps.shape == (2, 32, 32) and _finite(maps) and maps.sum() > 0

def test_resnet50_multihead_student_with_small_teacher(r50, work):
    from robustify_nb.robustify import run_experiment
    res = run_experiment(r50, load_model('smallcnn', 'polyshift'), n_train=8, n_valid=8, n_test=8, teacher_epochs=0, baselines=False,
                         corruptions=['fog'], severities=[1], mc_passes=2, tune=1, student_fraction=1.0, student_batch_size=8,
                         probe=False, out_dir=work/'mh-r50', log=lambda s: None)
    assert res['table'].select_dtypes('number').apply(np.isfinite).all().all()
    assert (work/'mh-r50'/'student.safetensors').exists()

# ---- every CLI job that takes a model, with a model string ------------------------------------------------------------
def test_cli_eval_with_a_factory_on_the_shared_cifar_data(work, shared):
    r = cli('eval', '--model', f'{work}/my_models.py:resnet20', '--weights', shared/'cifar10-resnets/resnet20-12fca82f.th',
            '--data', shared/'cifar10-5k/test_1000.npz', '--json')
    acc = json.loads(r.stdout)['test_1000']
    assert acc >= 0.9, acc                  # the reference checkpoint, in the user's own architecture, through the CLI

def test_cli_bench_resnet50_factory_on_the_224px_folder(work, folder224):
    out = work/'bench-r50'
    cli('bench', '--model', f'{work}/my_models.py:resnet50', '--data', folder224, '--corruptions', 'fog', '--severities', '1', '--out', out)
    grid = pd.read_csv(out/'grid.csv')
    assert len(grid) == 2 and grid.accuracy.between(0, 1).all() and (out/'report.html').stat().st_size > 100_000

def test_cli_train_with_a_factory(work):
    out = work/'train-tiny'
    cli('train', out, '--model', f'{work}/my_models.py:tiny', '--epochs', '1', '--n-train', '64', '--batch-size', '32')
    meta = json.loads((out/'final.json').read_text())
    assert meta['config']['arch'].endswith('my_models.py:tiny') and meta['config']['image_size'] == [32, 32]
    assert set(meta['metrics']) == {'reference', 'sketch', 'cartoon', 'clutter'} and json.loads((out/'trainer.json').read_text())['step'] == 2

def test_cli_robustify_with_factory_student_and_teacher_resumes(work):
    out = work/'robustify-cli'
    args = ('robustify', '--student', f'{work}/my_models.py:resnet20', '--teacher', 'smallcnn:polyshift', '--out', out,
            '--n-train', '16', '--n-valid', '8', '--n-test', '8', '--teacher-epochs', '0', '--corruptions', 'fog', '--severities', '1',
            '--passes', '2', '--tune', '1', '--student-fraction', '1', '--batch-size', '8')
    cli(*args)
    assert (out/'student.safetensors').exists() and (out/'report.html').exists()
    from robustify_nb.student import load_student
    st = load_student(out/'student.safetensors')                    # rebuilt from the factory string in its config
    assert st.config['base']['arch'].endswith('my_models.py:resnet20') and st.config['tune'] == ['backbone.layer3.2']
    with torch.no_grad(): assert st(torch.rand(2, 3, 32, 32)).shape == (2, 10)
    ck = next(out.rglob('trainer.json')); stamp = ck.stat().st_mtime_ns
    cli(*args)
    assert ck.stat().st_mtime_ns == stamp                          # rerun: the distillation resumed from its finished checkpoint

def test_cli_wiseft_with_a_local_vit_b_32_checkpoint(work, vit_file, finetuned):
    out = work/'wiseft-cli'
    cli('wiseft', '--zero-shot', f'ViT-B-32:{vit_file}', '--finetuned', work/'vit-e2e.safetensors', '--alphas', '0.5', '--n-train', '8', '--n', '4',
        '--corruptions', 'fog', '--out', out)
    sw = pd.read_csv(out/'sweep.csv')
    assert list(sw.alpha.unique()) == [0.5] and sw.accuracy.between(0, 1).all() and (out/'report.html').exists() and (out/'table.csv').exists()

def test_cli_bad_model_strings_say_which_part(work, capsys):
    from robustify_nb.cli import main
    assert main(['eval', '--model', f'{work}/nope.py:resnet20', '--data', 'polyshift', '--n', '8']) == 2
    assert main(['robustify', '--student', f'{work}/my_models.py:resnet2', '--out', str(work/'x')]) == 2
    assert main(['robustify', '--teacher', 'no_such_pkg:net', '--out', str(work/'x')]) == 2
    err = capsys.readouterr().err
    assert "the file" in err and "has no function 'resnet2'" in err and "--teacher 'no_such_pkg:net'" in err and "the module 'no_such_pkg' cannot be imported" in err, err
