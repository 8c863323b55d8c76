"""The GPU check from a checkout: `python tests/gpu_check.py [--device cuda:N] [--out FILE]`, the same as `robustify check-gpu`.

On a CUDA machine it runs the chapters' quick cells on the GPU, a mixed-precision epoch, corruption throughput at 224 px
and the ViT-B-32 α latency, prints one table and writes it as JSON; without CUDA it says so in one line and exits 0.
CI never depends on it (pytest does not collect this file); tests/test_distributed.py dry-runs it on the CPU.
"""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))     # this checkout's package, not another install

if __name__ == '__main__':
    from robustify_nb.cli import main
    sys.exit(main(['check-gpu', *sys.argv[1:]]))
