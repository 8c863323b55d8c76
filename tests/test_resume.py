"Killing training with SIGKILL mid-epoch and resuming ends with exactly the weights of an uninterrupted run."
import json, os, signal, subprocess, sys, time
from pathlib import Path
import pytest, torch

SCRIPT = r'''
import sys, time, torch
from robustify_nb.core import seed_everything
from robustify_nb.data import PolyShift
from robustify_nb.models import load_model, save_checkpoint
from robustify_nb.train import Learner, Callback
class Slow(Callback):            # slows steps down so the parent can kill us mid-epoch
    def after_batch(self, learn): time.sleep(float(sys.argv[3]))
seed_everything(0)
learn = Learner(load_model('smallcnn'), PolyShift(1280, split='train'), lr=0.05, batch_size=64, seed=0,
                ckpt_dir=sys.argv[1], ckpt_every=3, callbacks=[Slow()], progress=False)
learn.fit(2)
save_checkpoint(learn.raw_model, sys.argv[2])
'''

def _train(ckpt, out, delay, **kw):
    return subprocess.Popen([sys.executable, '-c', SCRIPT, str(ckpt), str(out), str(delay)], **kw)

def test_kill_and_resume(tmp_path):
    from safetensors.torch import load_file
    ref = tmp_path/'ref.safetensors'
    assert _train(tmp_path/'ref-ckpt', ref, 0).wait(timeout=300) == 0
    ckpt, out = tmp_path/'ckpt', tmp_path/'resumed.safetensors'
    p = _train(ckpt, out, 0.15)
    deadline = time.time() + 240
    while time.time() < deadline:                      # wait for a mid-epoch checkpoint past the first few steps
        try: step = json.loads((ckpt/'trainer.json').read_text())['step']
        except (FileNotFoundError, json.JSONDecodeError): step = 0
        if step >= 6: break
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL); p.wait()
    state = json.loads((ckpt/'trainer.json').read_text())
    assert 0 < state['step'] < 40 and state['step_in_epoch'] > 0, state     # killed mid-run, mid-epoch
    assert (ckpt/state['weights']).exists() and (ckpt/state['state']).exists()
    assert _train(ckpt, out, 0).wait(timeout=300) == 0                     # the same command resumes
    a, b = load_file(str(ref)), load_file(str(out))
    assert a.keys() == b.keys()
    for k in a: assert torch.equal(a[k], b[k]), k
    assert not list(ckpt.glob('.*.tmp'))                                   # leftovers of the killed write are gone
    assert json.loads((ckpt/'trainer.json').read_text())['step'] == 40
