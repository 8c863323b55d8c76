"Killing the corruption grid with SIGKILL and running it again ends with exactly the table of an uninterrupted run."
import json, signal, subprocess, sys, time
import pandas as pd

SCRIPT = r'''
import sys, time, torch
from robustify_nb.benchmark import evaluate_corruptions
from robustify_nb.data import PolyShift
from robustify_nb.models import load_model
class Slow(torch.nn.Module):               # slows the grid down so the parent can kill it between batches
    def __init__(self, m, delay): super().__init__(); self.m, self.delay = m, delay
    def forward(self, x): time.sleep(self.delay); return self.m(x)
torch.set_num_threads(1); torch.manual_seed(0)      # smallcnn is randomly initialised: the same weights in every run
models = {'resnet20': Slow(load_model('resnet20', weights='polyshift'), float(sys.argv[3])), 'smallcnn': load_model('smallcnn')}
state = None if sys.argv[1] == '-' else sys.argv[1]
g = evaluate_corruptions(models, PolyShift(80, 'reference', 'test'), ['gaussian_noise', 'snow'], (2, 4), batch_size=10, seed=5, state=state)
g.to_csv(sys.argv[2], index=False)
'''

def _grid(state, out, delay): return subprocess.Popen([sys.executable, '-c', SCRIPT, str(state), str(out), str(delay)])

def test_kill_and_resume_grid(tmp_path):
    assert _grid('-', tmp_path/'ref.csv', 0).wait(timeout=300) == 0
    state, out = tmp_path/'grid.json', tmp_path/'resumed.csv'
    p = _grid(state, out, 0.1)
    deadline = time.time() + 240
    while time.time() < deadline:                        # wait until a few of the 8 batches are done
        try: done = json.loads(state.read_text())['batches']
        except (FileNotFoundError, json.JSONDecodeError): done = 0
        if done >= 3: break
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL); p.wait()
    killed_at = json.loads(state.read_text())['batches']
    assert 3 <= killed_at < 8 and not out.exists(), killed_at          # killed mid-grid
    assert _grid(state, out, 0).wait(timeout=300) == 0                 # the same command continues
    assert json.loads(state.read_text())['batches'] == 8
    assert pd.read_csv(out).equals(pd.read_csv(tmp_path/'ref.csv'))
    assert not list(tmp_path.glob('.*.tmp'))                           # no leftover of an interrupted write
