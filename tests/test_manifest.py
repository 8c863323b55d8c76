"The weights shipped inside the package: listed, hashed, small, and reproducing their recorded metrics."
import json
from pathlib import Path
import pytest
from robustify_nb.core import sha256_file
from robustify_nb.models import WEIGHTS_DIR, embedded_manifest, load_model, num_params, MODELS

def test_manifest_lists_every_file_with_its_hash():
    man = embedded_manifest()
    assert man, f"no manifest.json in {WEIGHTS_DIR}"
    files = {p.name for p in WEIGHTS_DIR.glob('*.safetensors')}
    assert files == {e['file'] for e in man.values()}, 'every shipped file has a manifest entry, and vice versa'
    for key, e in man.items():
        assert sha256_file(WEIGHTS_DIR/e['file']) == e['sha256'], key
        for field in ('config', 'seed', 'metrics', 'training', 'params'): assert field in e, (key, field)
        sidecar = json.loads((WEIGHTS_DIR/e['file']).with_suffix('.json').read_text())
        assert sidecar['sha256'] == e['sha256'] and sidecar['config'] == e['config']

def test_shipped_weights_are_small():
    total = sum(p.stat().st_size for p in WEIGHTS_DIR.glob('*.safetensors'))
    assert total <= 20*2**20, f"{total/2**20:.1f} MiB of shipped weights > 20 MiB"

def test_student_is_ten_times_the_teacher():
    student = load_model('resnet20', weights='polyshift')
    assert num_params(student) >= 10*num_params(MODELS['smallcnn'].build(10))

def test_student_reproduces_its_recorded_accuracy():
    from robustify_nb.train import evaluate_styles
    e = embedded_manifest()['resnet20-polyshift']
    df = evaluate_styles(load_model('resnet20', weights='polyshift'), n=2000, seed=e['seed'], styles=['reference', 'sketch'])
    for r in df.itertuples(): assert abs(r.accuracy - e['metrics'][f'test_acc_{r.style}']) <= 0.005, (r, e['metrics'])
    m = e['metrics']
    assert m['test_acc_reference'] - max(m['test_acc_sketch'], m['test_acc_cartoon'], m['test_acc_clutter']) >= 0.05, 'the shifts must hurt'

def test_shipped_sources_match_their_records():
    """The transfer chapter's shipped source models (`robustify pretrain sources`): each weights file beside its JSON
    sidecar (hash, settings, metrics), small, loaded by `source_model` at the quick size without training, reproducing
    its recorded clean accuracy, and the robust one more robust than the standard one."""
    from robustify_nb.core import cache_dir
    from robustify_nb.models import accuracy
    from robustify_nb.transfer import SHIPPED_SOURCES, SHIPPED_EPS, source_model, source_metrics, source_settings, source_data
    files = sorted(SHIPPED_SOURCES.glob('*.safetensors'))
    assert len(files) == len(SHIPPED_EPS), files
    for f in files:
        side = json.loads(f.with_suffix('.json').read_text())
        assert sha256_file(f) == side['sha256'] and f.stat().st_size < 200_000, f
    std, rob = (source_model(e, 'l2', **source_settings(False)) for e in SHIPPED_EPS)
    assert {Path(m.config['weights']).parent for m in (std, rob)} == {SHIPPED_SOURCES}, 'loaded from the package'
    assert not list((cache_dir('transfer', 'sources')).glob('*.safetensors')), 'nothing was trained'
    test = source_data(1000, 'test')
    for m in (std, rob): assert abs(accuracy(m, test) - source_metrics(m)['clean_acc']) <= 0.005, source_metrics(m)
    assert source_metrics(rob)['adv_acc_l2_0.5'] > source_metrics(std)['adv_acc_l2_0.5'] + 0.1, (source_metrics(std), source_metrics(rob))
