"""Issue 12, data side: every CLI job on data in the layout it ships in, as a user types it (image folders at native size,
ImageNet-C trees written and read back, own data for robustify and wiseft), and the bad input of those layouts."""
import os, subprocess, json
from pathlib import Path
import numpy as np, pandas as pd, pytest, torch
from PIL import Image
from conftest import robustify_exe

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, 'PYTHONPATH': str(ROOT)}   # the subprocess imports this checkout's package

def run(*args, timeout=600):
    return subprocess.run(robustify_exe() + [str(a) for a in args], capture_output=True, text=True, timeout=timeout, env=ENV)

def polyshift_folder(root:Path, n:int, style='reference', split='test'):
    "PolyShift images written as a class-per-folder tree of 32 px PNGs (class folders named by class)."
    from robustify_nb.data import PolyShift, CLASSES
    ds = PolyShift(n, style, split)
    for i in range(n):
        d = root/CLASSES[int(ds.labels[i])]; d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(ds.images[i].permute(1, 2, 0).numpy()).save(d/f'{i:04d}.png')
    return ds

def test_bench_on_a_folder_of_32px_pngs_reads_them_pixel_for_pixel(shared, tmp_path):
    "The shared resnet20 on CIFAR-10 PNGs in class folders: the CLI's clean accuracy is the .npz's, to the image."
    from robustify_nb.data import load_npz, CIFAR10_CLASSES
    from robustify_nb.models import load_model, accuracy
    z = load_npz(shared/'cifar10-5k'/'test_1000.npz').subset(slice(0, 200))
    for i in range(len(z)):
        d = tmp_path/'png'/CIFAR10_CLASSES[int(z.labels[i])]; d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(z.images[i].permute(1, 2, 0).numpy()).save(d/f'{i:04d}.png')
    w = shared/'cifar10-resnets'/'resnet20-12fca82f.th'
    r = run('bench', '--model', 'resnet20', '--weights', w, '--data', tmp_path/'png', '--corruptions', 'fog', '--severities', '1', '--out', tmp_path/'b')
    assert r.returncode == 0, r.stderr[-2000:]
    clean = pd.read_csv(tmp_path/'b'/'summary.csv', index_col=0)['value']['clean_acc']
    expect = accuracy(load_model('resnet20', str(w)), z)
    assert abs(clean - expect) < 1e-6 and clean > 0.8, (clean, expect)   # one image is 0.005

def test_eval_on_an_image_folder(tmp_path):
    from robustify_nb.data import load_dataset
    from robustify_nb.models import load_model, accuracy
    ds = polyshift_folder(tmp_path/'f', 50)
    r = run('eval', '--model', 'resnet20', '--weights', 'polyshift', '--data', tmp_path/'f', '--json')
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads(r.stdout.strip().splitlines()[-1]) == {'f': round(accuracy(load_model('resnet20', 'polyshift'), ds), 4)}

def test_corrupt_writes_an_imagenet_c_tree_resumably_and_bench_reads_it(tmp_path):
    from robustify_nb.models import load_model, accuracy
    ps = polyshift_folder(tmp_path/'src', 12)
    out = tmp_path/'inc'
    r = run('corrupt', tmp_path/'src', out, '--corruptions', 'fog', 'contrast', '--severities', '1', '3')
    assert r.returncode == 0, r.stderr[-2000:]
    assert 'wrote 48 images (0 already there)' in r.stdout and 'images/s' in r.stdout, r.stdout
    files = sorted(out.rglob('*.JPEG'))
    assert len(files) == 48 and {f.relative_to(out).parts[:2] for f in files} == {('fog', '1'), ('fog', '3'), ('contrast', '1'), ('contrast', '3')}
    assert Image.open(files[0]).size == (32, 32)                                 # the folder's own size
    gone = files[5]; data = gone.read_bytes(); gone.unlink()                     # a run killed before this file
    r = run('corrupt', tmp_path/'src', out, '--corruptions', 'fog', 'contrast', '--severities', '1', '3')
    assert r.returncode == 0 and 'wrote 1 images (47 already there)' in r.stdout, r.stdout + r.stderr[-1000:]
    assert gone.read_bytes() == data                                             # the same bytes as the first run
    r = run('bench', '--model', 'resnet20', '--weights', 'polyshift', '--data', out, '--clean', tmp_path/'src', '--out', tmp_path/'b')
    assert r.returncode == 0, r.stderr[-2000:]
    grid = pd.read_csv(tmp_path/'b'/'grid.csv')
    assert sorted(zip(grid.corruption, grid.severity)) == [('clean', 0), ('contrast', 1), ('contrast', 3), ('fog', 1), ('fog', 3)]
    assert (grid.n == 12).all() and grid.accuracy.between(0, 1).all()
    assert abs(grid.accuracy[grid.corruption == 'clean'].item() - accuracy(load_model('resnet20', 'polyshift'), ps)) < 1e-6   # folders follow the model's class order

def test_robustify_on_image_folders(tmp_path):
    polyshift_folder(tmp_path/'train', 160, split='train'); polyshift_folder(tmp_path/'test', 32)
    r = run('robustify', '--data', tmp_path/'train', '--test', tmp_path/'test', '--out', tmp_path/'o', '--teacher', 'smallcnn',
            '--n-train', '128', '--n-valid', '16', '--n-test', '32', '--teacher-epochs', '1', '--corruptions', 'gaussian_noise', '--severities', '3', '--passes', '2')
    assert r.returncode == 0, r.stderr[-2000:]
    rep = json.loads((tmp_path/'o'/'report.json').read_text())
    assert {'ours (routed)', 'original'} <= {row['model'] for row in rep['table']}

def test_wiseft_on_own_folders_with_named_templates(tmp_path):
    "WiSE-FT flags as the authors' scripts spell them; the zero-shot row equals the in-process zero-shot accuracy."
    from robustify_nb.wiseft import zeroshot_classifier, get_templates
    from robustify_nb.data import load_dataset
    from robustify_nb.models import accuracy
    polyshift_folder(tmp_path/'train', 120, split='train'); polyshift_folder(tmp_path/'ref', 40); polyshift_folder(tmp_path/'sketch', 40, 'sketch')
    r = run('wiseft', '--train-dataset', tmp_path/'train', '--eval-datasets', f"{tmp_path/'ref'},{tmp_path/'sketch'}", '--template', 'openai_imagenet_template',
            '--finetuned', 'lc', '--n-train', '120', '--n', '40', '--alpha', '0', '1', '--out', tmp_path/'o')
    assert r.returncode == 0, r.stderr[-2000:]
    t = pd.read_csv(tmp_path/'o'/'table.csv', index_col=[0, 1])
    assert {'reference', 'sketch'} <= set(t.columns)
    zs = zeroshot_classifier('tiny-cnn', 'polyshift', classnames=load_dataset(tmp_path/'train').classes, templates=get_templates('openai_imagenet'))
    for col, folder in (('reference', 'ref'), ('sketch', 'sketch')):
        assert abs(t.loc[('LC', 'zero-shot'), col] - round(100*accuracy(zs, load_dataset(tmp_path/folder)), 1)) < 0.051, col

def test_transfer_on_an_own_task_from_folders(tmp_path):
    polyshift_folder(tmp_path/'tr', 60, split='valid'); polyshift_folder(tmp_path/'te', 60)
    r = run('transfer', '--norm', 'l2', '--eps', '0', '--tasks', 'mine', '--task-data', f"mine={tmp_path/'tr'},{tmp_path/'te'}", '--modes', 'fixed',
            '--n-source', '300', '--source-epochs', '1', '--steps', '1', '--probe-epochs', '2', '--n-task', '60', '--n-test', '60', '--out', tmp_path/'o')
    assert r.returncode == 0, r.stderr[-2000:]
    sw = pd.read_csv(tmp_path/'o'/'sweep.csv')
    assert sw.task.tolist() == ['mine'] and sw.accuracy.between(0, 1).all() and sw.classes.iloc[0] == len(list((tmp_path/'tr').iterdir()))

@pytest.fixture
def folders(tmp_path):
    polyshift_folder(tmp_path/'ok', 6)
    (tmp_path/'empty'/'cat').mkdir(parents=True)
    polyshift_folder(tmp_path/'mixed', 4); Image.fromarray(np.zeros((40, 50, 3), np.uint8)).save(next((tmp_path/'mixed').iterdir())/'big.png')
    polyshift_folder(tmp_path/'broken', 4); (next((tmp_path/'broken').iterdir())/'bad.jpg').write_bytes(b'not a jpeg')
    (tmp_path/'ir'/'n01440764').mkdir(parents=True)                              # tench: not one of ImageNet-R's 200 classes
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path/'ir'/'n01440764'/'a.JPEG')
    (tmp_path/'notemplate.txt').write_text('a photo of a {}\na photo of something\n')
    return tmp_path

@pytest.mark.parametrize('args, msg', [
    (['bench', '--model', 'smallcnn', '--data', '{t}/empty'], "holds no images: its 1 sub-folders hold no image files"),
    (['bench', '--model', 'smallcnn', '--data', '{t}/mixed'], "holds images of 2 sizes"),
    (['bench', '--model', 'smallcnn', '--data', '{t}/mixed'], "big.png"),
    (['bench', '--model', 'smallcnn', '--data', '{t}/broken'], "bad.jpg"),
    (['bench', '--model', 'smallcnn', '--data', 'imagenet-r:{t}/ir'], "outside the 200-class subset of imagenet-r"),
    (['bench', '--model', 'smallcnn', '--data', '{t}/ok', '--classes', 'cifar10'], "that are not among the model's 10 classes"),
    (['corrupt', '{t}/nowhere', '{t}/out'], "looked for"),
    (['wiseft', '--train-dataset', '{t}/ok', '--eval-datasets', '{t}/ok,{t}/ok', '--classnames', 'a,b'], "classnames has 2 names"),
    (['wiseft', '--train-dataset', '{t}/ok', '--eval-datasets', '{t}/ok,{t}/ok', '--template', '{t}/notemplate.txt'], "'a photo of something' has no '{}' slot"),
    (['wiseft', '--train-dataset', '{t}/ok', '--eval-datasets', '{t}/ok'], "at least one shifted set"),
    (['wiseft', '--train-dataset', 'ImageNet', '--eval-datasets', 'ImageNet,ImageNetR'], "needs a data location"),
    (['transfer', '--norm', 'l2', '--tasks', 'mine', '--task-data', 'mine={t}/ok'], "accepted: NAME=TRAIN,TEST"),
])
def test_bad_data_exits_2_naming_the_problem(folders, args, msg):
    r = run(*[a.replace('{t}', str(folders)) for a in args], timeout=300)
    assert r.returncode == 2 and msg in r.stderr, r.stderr[-2000:]
