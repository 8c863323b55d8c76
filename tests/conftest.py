import json, os, shutil, socket, subprocess, sys, time, urllib.request, pytest
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    "Every test gets its own cache directory: nothing reads or writes the user's ~/.cache."
    monkeypatch.setenv('ROBUSTIFY_HOME', str(tmp_path/'cache'))

@pytest.fixture
def shared():
    "The development data folder `shared/data`, or a skip saying where it was looked for."
    from robustify_nb.core import shared_data
    p = shared_data()
    if p is None: pytest.skip("shared/data not found beside the checkout (or $ROBUSTIFY_SHARED_DATA): real-data test skipped")
    return p

def robustify_exe():
    exe = Path(sys.executable).parent/'robustify'
    return [str(exe)] if exe.exists() else [sys.executable, '-c', 'import sys; from robustify_nb.cli import main; sys.exit(main())']

CHROMIUM = shutil.which('chromium') or '/usr/bin/chromium'

@contextmanager
def chromium():
    "Debian's chromium driven by playwright (its own browser download does not work offline); closed on exit."
    if not Path(CHROMIUM).exists(): raise RuntimeError(f"chromium not found at {CHROMIUM}: run `make browsers` (Debian's chromium; CI installs it as root)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=['--no-sandbox'])
        try: yield b
        finally: b.close()

@pytest.fixture(scope='module')
def browser():
    "`chromium()`, one per test module."
    if not Path(CHROMIUM).exists(): pytest.fail(f"chromium not found at {CHROMIUM}: run `make browsers` (Debian's chromium; CI installs it as root)")
    with chromium() as b: yield b

def _free_port():
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

@contextmanager
def jupyter_lab(root:Path, **env):
    """JupyterLab 4 serving `root` on 127.0.0.1 (no token, settings and workspaces under `root`, every cell kept in the
    page), the kernels' environment `os.environ` + `env` with this checkout first on PYTHONPATH; yields `(url, process)`
    and stops the server and its kernels on exit. The server's log is `root`/lab.log."""
    root = Path(root)
    tracker = root/'.settings'/'@jupyterlab'/'notebook-extension'/'tracker.jupyterlab-settings'
    tracker.parent.mkdir(parents=True, exist_ok=True); tracker.write_text(json.dumps({'windowingMode': 'none'}))   # every cell in the page
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1', JUPYTER_CONFIG_DIR=str(root/'.jupyter'), JUPYTERLAB_SETTINGS_DIR=str(root/'.settings'),
               JUPYTERLAB_WORKSPACES_DIR=str(root/'.workspaces'), **env)
    cmd = [str(Path(sys.executable).parent/'jupyter'), 'lab', '--no-browser', '--allow-root', f'--ServerApp.port={port}', '--ServerApp.ip=127.0.0.1',
           "--IdentityProvider.token=", '--ServerApp.password=', f'--ServerApp.root_dir={root}', '--LabApp.news_url=None',
           '--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate']
    log = open(root/'lab.log', 'w')
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f'http://127.0.0.1:{port}'
    try:
        for _ in range(120):
            try: urllib.request.urlopen(f'{url}/api/status', timeout=1); break
            except Exception: time.sleep(0.5)
        else: raise RuntimeError(f"JupyterLab did not start: {(root/'lab.log').read_text()[-2000:]}")
        yield url, proc
    finally:
        os.killpg(proc.pid, 15)
        try: proc.wait(20)
        except subprocess.TimeoutExpired: os.killpg(proc.pid, 9)
        log.close()

@pytest.fixture(scope='session')
def browser_out(tmp_path_factory) -> Path:
    """Where the browser tests leave their record: `$ROBUSTIFY_BROWSER_OUT` when set (latency.json and a screenshot of
    each widget after a change), else a folder under pytest's tmp dir (latency.json only)."""
    d = Path(os.environ['ROBUSTIFY_BROWSER_OUT']) if os.environ.get('ROBUSTIFY_BROWSER_OUT') else tmp_path_factory.mktemp('browser_out')
    d.mkdir(parents=True, exist_ok=True)
    return d

def record_latency(out:Path, widget:str, control:str, seconds:float):
    "Append one measured latency (seconds from an input event to the updated page) to `out`/latency.json (atomic write)."
    from robustify_nb.core import write_json
    f = Path(out)/'latency.json'
    d = json.loads(f.read_text()) if f.exists() else {}
    d.setdefault(widget, {}).setdefault(control, []).append(round(seconds, 3))
    write_json(f, d)

def screenshots_wanted() -> bool: return bool(os.environ.get('ROBUSTIFY_BROWSER_OUT'))
