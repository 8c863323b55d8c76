"""Several processes on this CPU (gloo), launched as the training chapter documents it (torchrun), and the GPU check's CPU paths.

Each process gets one thread (OMP_NUM_THREADS=1), as documented: the machine's cores are shared.
"""
import json, os, re, shlex, subprocess, sys, time
from pathlib import Path
import pytest, torch
from safetensors.torch import load_file
from conftest import ROOT, robustify_exe

SCRIPT = '''
import os, sys, json, torch
from pathlib import Path
from safetensors.torch import save_file
from robustify_nb.core import seed_everything
from robustify_nb.data import PolyShift
from robustify_nb.models import load_model
from robustify_nb.train import Learner, Callback
out, die_at, stop_at, every = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
class Die(Callback):          # a process that dies (die_at > 0) or hangs (die_at < 0) mid-epoch, without any goodbye
    def after_batch(self, learn):
        if learn.rank == 1 and learn.step == abs(die_at):
            if die_at > 0: os._exit(3)
            import time; time.sleep(300)
class Stop(Callback):
    def after_batch(self, learn): learn.stop = learn.step >= stop_at > 0
seed_everything(0)
L = Learner(load_model('smallcnn'), PolyShift(2000, 'reference', 'train', 0), valid=PolyShift(301, 'reference', 'valid', 0),
            lr=0.05, batch_size=64, seed=0, ckpt_dir=out/'ckpt', ckpt_every=every, progress=False, callbacks=[Die(), Stop()])
h = L.fit(1)
save_file({k: v.contiguous() for k, v in L.raw_model.state_dict().items()}, str(out/f'rank{L.rank}.safetensors'))
(out/f'rank{L.rank}.json').write_text(json.dumps(dict(step=L.step, world=L.world, dist=L.accelerator.distributed_type.value, history=h.to_dict('records'))))
'''

def _env():
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1', PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get('PYTHONPATH', '')]))
    for k in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT'): env.pop(k, None)
    return env

def torchrun(n:int, *cmd, timeout=240):
    return subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', str(n), *map(str, cmd)],
                          capture_output=True, text=True, timeout=timeout, env=_env(), cwd=ROOT)

def script(tmp_path, n:int, die_at=0, stop_at=0, every=4, timeout=240):
    "Train smallcnn on 2,000 images in batches of 64 for one epoch in `n` processes (see SCRIPT)."
    (tmp_path/'script.py').write_text(SCRIPT)
    args = [tmp_path/'script.py', tmp_path, die_at, stop_at, every]
    if n == 1: return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, timeout=timeout, env=_env(), cwd=ROOT)
    return torchrun(n, *args, timeout=timeout)

def documented_cpu_command() -> list[str]:
    "The chapter's command line for N CPU processes, as a list to run here (N=2, torchrun as `python -m torch.distributed.run`)."
    nb = json.loads((ROOT/'nbs'/'04_train.ipynb').read_text())
    text = ''.join(''.join(c['source']) for c in nb['cells'] if c['cell_type'] == 'markdown')
    cmd = re.search(r'`(OMP_NUM_THREADS=1 torchrun [^`]*)`', text)
    assert cmd, 'the training chapter documents no `OMP_NUM_THREADS=1 torchrun ...` command for N CPU processes'
    words = shlex.split(cmd.group(1))
    assert words[:2] == ['OMP_NUM_THREADS=1', 'torchrun'] and words[-3:] == ['robustify', 'train', 'out/'], words
    return [sys.executable, '-m', 'torch.distributed.run', *('2' if w == 'N' else w for w in words[2:-3]), *robustify_exe(), 'train']

def test_documented_cpu_route_two_processes_then_resume_with_one(tmp_path):
    from robustify_nb.models import load_model, load_weights, read_weights
    from robustify_nb.train import evaluate_styles
    out, args = tmp_path/'out', ['--epochs', '1', '--n-train', '2000', '--batch-size', '64', '--ckpt-every', '100']
    t0 = time.perf_counter()
    r = subprocess.run(documented_cpu_command() + [str(out), *args], capture_output=True, text=True, timeout=240, env=_env(), cwd=ROOT)
    wall = time.perf_counter() - t0
    assert r.returncode == 0, r.stderr[-3000:]
    lines = r.stdout.splitlines()
    assert sum('train_loss' in l for l in lines) == 1 and sum(l.startswith('{') for l in lines) == 1, r.stdout     # printed once
    assert re.match(r'2 processes on cpu(:\d+)? \(MULTI_CPU\), 15 steps per process per epoch', lines[0]), r.stdout         # 31 batches of 64, split
    meta = json.loads((out/'trainer.json').read_text())
    assert (meta['processes'], meta['step'], meta['epoch']) == (2, 15, 1)
    assert sorted(p.name for p in out.iterdir()) == sorted(['final.safetensors', 'final.json', 'trainer.json', 'step-00000015.safetensors',
                                                           'step-00000015.json', 'step-00000015-state.safetensors']), list(out.iterdir())
    # the gathered per-style accuracies equal a single-process evaluation of the saved weights
    m = load_model('smallcnn'); load_weights(m, read_weights(out/'final.safetensors'))
    single = {r_.style: round(r_.accuracy, 4) for r_ in evaluate_styles(m).itertuples()}
    assert json.loads(lines[-1]) == single, (lines[-1], single)
    print(f'2-process CLI run: {wall:.1f} s wall')
    # resume in ONE process from the 2-process checkpoint: the second epoch runs 31 steps
    r = subprocess.run(robustify_exe() + ['train', str(out), *args[2:], '--epochs', '2'], capture_output=True, text=True, timeout=240, env=_env(), cwd=ROOT)
    assert r.returncode == 0, r.stderr[-3000:]
    meta = json.loads((out/'trainer.json').read_text())
    assert (meta['processes'], meta['step'], meta['epoch']) == (1, 62, 2) and [h['step'] for h in meta['history']] == [15, 62], meta['history']
    assert r.stdout.startswith('1 process on cpu (NO), 31 steps per process per epoch'), r.stdout

def test_two_processes_hold_identical_weights_and_gathered_accuracy(tmp_path):
    from robustify_nb.data import PolyShift
    from robustify_nb.models import load_model, accuracy
    r = script(tmp_path, 2)
    assert r.returncode == 0, r.stderr[-3000:]
    s0, s1 = load_file(tmp_path/'rank0.safetensors'), load_file(tmp_path/'rank1.safetensors')
    assert any('running_mean' in k for k in s0)
    for k in s0: assert torch.equal(s0[k], s1[k]), k                                   # weights and BatchNorm buffers
    m0, m1 = (json.loads((tmp_path/f'rank{i}.json').read_text()) for i in (0, 1))
    assert m0['dist'] == 'MULTI_CPU' and m0['world'] == 2 and m0['step'] == m1['step'] == 15      # half of the 31 batches each
    assert m0['history'] == m1['history']                                              # same loss and accuracy on every rank
    m = load_model('smallcnn'); m.load_state_dict(s0)
    assert m0['history'][0]['valid_acc'] == accuracy(m, PolyShift(301, 'reference', 'valid', 0))   # 301 images: padded shards
    ckpt = load_file(tmp_path/'ckpt'/'step-00000015.safetensors')
    for k in s0: assert torch.equal(s0[k], ckpt[k]), k
    assert len(list((tmp_path/'ckpt').glob('step-*.safetensors'))) == 2                # weights + state, one copy

JOBS = """
import sys, json, hashlib, torch
from pathlib import Path
from robustify_nb.core import seed_everything
from robustify_nb.data import PolyShift
from robustify_nb.models import load_model
out = Path(sys.argv[1]); res = {}
def digest(m): return hashlib.sha256(b''.join(v.detach().cpu().contiguous().numpy().tobytes() for v in m.state_dict().values())).hexdigest()[:16]
train, test = PolyShift(256, 'reference', 'train', 0), PolyShift(64, 'reference', 'test', 0)
seed_everything(0)
from robustify_nb.teacher import train_teacher
teacher, cost = train_teacher(train, 'smallcnn', recipe='augmix', epochs=1, batch_size=32, progress=False)
res['teacher'] = dict(digest=digest(teacher), steps=cost['steps'])
from robustify_nb.student import distill_student
st, cost = distill_student(load_model('resnet20', weights='polyshift'), teacher, train.subset(slice(0, 128)), mc_passes=2, batch_size=32, progress=False)
res['student'] = dict(digest=digest(st), steps=cost['steps'])
from robustify_nb.transfer import adversarial_train, finetune, linear_probe
L = adversarial_train(load_model('smallcnn'), train.subset(slice(0, 128)), eps=0.1, norm='l2', steps=1, epochs=1, batch_size=32, progress=False)
res['adversarial'] = dict(digest=digest(L.raw_model), steps=L.step)
res['finetune'] = dict(digest=str(finetune(teacher, train.subset(slice(0, 128)), test, epochs=1, batch_size=32)))
from robustify_nb.wiseft import zeroshot_classifier, finetune_e2e, finetune_lc
zs = zeroshot_classifier()
res['wiseft_e2e'] = dict(digest=digest(finetune_e2e(zs, train.subset(slice(0, 128)), epochs=1, batch_size=32, progress=False)))
res['wiseft_lc'] = dict(digest=digest(finetune_lc(zs, train.subset(slice(0, 128)), epochs=1, batch_size=32, progress=False)))
import os
(out/f"jobs{os.environ.get('RANK', 0)}.json").write_text(json.dumps(res))
"""

def test_every_training_job_is_data_parallel(tmp_path):
    "Teacher, student distillation, adversarial training, full fine-tuning, WiSE-FT (E2E and LC): the same weights on both ranks, half the steps each."
    (tmp_path/'jobs.py').write_text(JOBS)
    r = torchrun(2, tmp_path/'jobs.py', tmp_path, timeout=400)
    assert r.returncode == 0, r.stderr[-3000:]
    j0, j1 = (json.loads((tmp_path/f'jobs{i}.json').read_text()) for i in (0, 1))
    assert j0 == j1, (j0, j1)                     # gradients averaged: identical weights (a rank training alone would diverge)
    assert (j0['teacher']['steps'], j0['student']['steps'], j0['adversarial']['steps']) == (4, 2, 2)   # 256/32/2, 128/32/2

def _intact(ckpt, step):
    "The checkpoint folder names one complete checkpoint at `step`, written by 2 processes, that loads."
    from robustify_nb.models import read_weights
    meta = json.loads((ckpt/'trainer.json').read_text())
    assert (meta['step'], meta['processes'], meta['step_in_epoch']) == (step, 2, step), meta
    assert len(read_weights(ckpt/meta['weights'])) > 0 and len(load_file(ckpt/meta['state'])) > 0

def test_dead_process_stops_the_other_and_the_checkpoint_survives(tmp_path):
    t0 = time.perf_counter()
    r = script(tmp_path, 2, die_at=6, timeout=180)
    assert r.returncode != 0 and time.perf_counter() - t0 < 150
    assert re.search(r'Root Cause.*\n(.*\n){2,3}\s*rank\s*: 1 .*\n\s*exitcode\s*: 3', r.stderr), r.stderr[-3000:]   # torchrun names the dead rank
    _intact(tmp_path/'ckpt', 4)

def test_hung_process_times_out_with_a_clear_message_then_resumes_with_one(tmp_path, monkeypatch):
    from robustify_nb.data import PolyShift
    from robustify_nb.models import load_model
    from robustify_nb.train import Learner
    monkeypatch.setenv('ROBUSTIFY_DIST_TIMEOUT', '10')
    t0 = time.perf_counter()
    r = script(tmp_path, 2, die_at=-6, timeout=180)           # rank 1 sleeps at step 6; rank 0 waits 10 s in its next all-reduce
    assert r.returncode != 0 and time.perf_counter() - t0 < 150
    assert re.search(r"process 0 of 2 stopped at step 6 \(epoch 0\): a collective operation failed, another process has probably died or hung "
                     r"longer than 10 s; the last complete checkpoint in '[^']*ckpt' is at step 4; rerun the same command to resume", r.stderr), r.stderr[-3000:]
    _intact(tmp_path/'ckpt', 4)
    # resume it in ONE process: the 8 global batches done are re-split; the epoch's other 23 batches follow
    L = Learner(load_model('smallcnn'), PolyShift(2000, 'reference', 'train', 0), lr=0.05, batch_size=64, seed=0, ckpt_dir=tmp_path/'ckpt', progress=False)
    L.fit(1)
    assert L.step == 31 and L.history[-1]['step'] == 31 and not list((tmp_path/'ckpt').glob('.*.tmp'))

def test_bad_launches_say_why(tmp_path, capsys):
    from robustify_nb.cli import main
    from robustify_nb.data import PolyShift
    from robustify_nb.models import load_model
    from robustify_nb.train import Learner, Callback
    # more processes than batches
    r = torchrun(2, '--no-python', *robustify_exe(), 'train', tmp_path/'a', '--epochs', '1', '--n-train', '100', '--batch-size', '64')
    assert r.returncode != 0 and '2 processes but only 1 batch of 64 in the 100 training examples' in r.stderr, r.stderr[-2000:]
    assert not (tmp_path/'a'/'trainer.json').exists()
    # a mid-epoch checkpoint of one process after 3 batches cannot be split over 2
    class Stop(Callback):
        def after_batch(self, learn): learn.stop = learn.step >= 3
    Learner(load_model('smallcnn'), PolyShift(2000, 'reference', 'train', 0), lr=0.05, batch_size=64, seed=0, ckpt_dir=tmp_path/'ckpt', ckpt_every=3,
            progress=False, callbacks=[Stop()]).fit(1)
    before = (tmp_path/'ckpt'/'trainer.json').read_text()
    assert json.loads(before)['step'] == 3
    r = script(tmp_path, 2)
    assert r.returncode != 0 and 'written by 1 process after 3 batches of epoch 0, which 2 processes cannot split evenly' in r.stderr, r.stderr[-2000:]
    assert (tmp_path/'ckpt'/'trainer.json').read_text() == before                      # nothing overwritten
    # fp16 on a CPU: refused (Accelerate would silently train in fp32)
    if not torch.cuda.is_available():
        assert main(['train', str(tmp_path/'b'), '--mixed-precision', 'fp16', '--epochs', '1', '--n-train', '200']) == 2
        assert "mixed_precision='fp16' needs a CUDA device" in capsys.readouterr().err

def test_nothing_assumes_a_cuda_device_number():
    pat = re.compile(r"\.cuda\(|cuda:0|device_ids=\[0\]|set_device\(0\)|device\(0\)")
    hits = [f'{p.name}:{i}: {l.strip()}' for p in (ROOT/'robustify_nb').glob('*.py') for i, l in enumerate(p.read_text().splitlines(), 1)
            if pat.search(l) and 'accepted:' not in l]                                 # error messages may name 'cuda:0' as an example
    assert not hits, hits

def test_check_gpu_without_cuda_is_one_line(tmp_path):
    if torch.cuda.is_available(): pytest.skip('this machine has CUDA: the one-line message is for machines without')
    r = subprocess.run([sys.executable, str(ROOT/'tests'/'gpu_check.py'), '--out', str(tmp_path/'g.json')], capture_output=True, text=True, timeout=120, env=_env())
    assert r.returncode == 0 and len(r.stdout.strip().splitlines()) == 1 and r.stdout.startswith('check-gpu: no CUDA GPU'), (r.stdout, r.stderr)
    assert not (tmp_path/'g.json').exists()

def test_check_gpu_dry_run_on_the_cpu_runs_every_check(tmp_path):
    r = subprocess.run(robustify_exe() + ['check-gpu', '--device', 'cpu', '--force', '--quick', '--notebooks', '00_core', '--out', str(tmp_path/'g.json')],
                       capture_output=True, text=True, timeout=400, env=_env(), cwd=ROOT)
    assert r.returncode == 0, (r.stdout[-3000:], r.stderr[-3000:])
    res = json.loads((tmp_path/'g.json').read_text())
    assert res['device'] == 'cpu' and res['quick'] is True
    rows = {row['check']: row for row in res['rows']}
    assert list(rows) == ['notebook 00_core', 'mixed-precision epoch', 'corruption throughput 224 px', 'alpha change tiny-vit'], list(rows)
    assert all(row['ok'] for row in rows.values()), rows
    assert 'logits bfloat16' in rows['mixed-precision epoch']['detail'] and rows['mixed-precision epoch']['value'] > 0
    assert rows['corruption throughput 224 px']['value'] > 0 and rows['alpha change tiny-vit']['value'] > 0
    assert 'alpha change tiny-vit' in r.stdout and 'checks passed' in r.stdout

def test_default_device_is_this_process_gpu_under_a_launcher(monkeypatch):
    from robustify_nb.core import default_device
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True); monkeypatch.setattr(torch.cuda, 'device_count', lambda: 2)
    monkeypatch.setenv('LOCAL_RANK', '1'); assert default_device() == torch.device('cuda', 1)      # not GPU 0 for every process
    monkeypatch.setenv('LOCAL_RANK', '3'); assert default_device() == torch.device('cuda', 1)      # 2 GPUs, 4 processes per node
    monkeypatch.delenv('LOCAL_RANK'); assert default_device() == torch.device('cuda')
