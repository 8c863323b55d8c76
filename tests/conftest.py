import json, os, shutil, sys, pytest
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

@pytest.fixture(scope='module')
def browser():
    "Debian's chromium driven by playwright (its own browser download does not work offline), one per test module."
    if not Path(CHROMIUM).exists(): pytest.fail(f"chromium not found at {CHROMIUM}: run `make browsers` (Debian's chromium; CI installs it as root)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=['--no-sandbox'])
        yield b
        b.close()

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
