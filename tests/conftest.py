import os, shutil, sys, pytest
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
