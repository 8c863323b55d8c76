import os, sys, pytest
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
