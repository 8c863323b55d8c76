"Bad input to the foundation's public functions: each raises an error naming the argument, the value and what is accepted."
import os, pickle, time
import numpy as np, pytest, torch
from pathlib import Path
from robustify_nb.core import check_images, cache_dir
from robustify_nb.data import PolyShift, ImageDataset, load_npz
from robustify_nb.models import load_model, save_checkpoint, read_weights, load_weights

def test_unknown_model_lists_close_matches():
    with pytest.raises(ValueError, match=r"name='resnet65' is not a known model\. Did you mean 'resnet56'"): load_model('resnet65')

def test_wrong_num_classes_for_checkpoint(tmp_path):
    p = save_checkpoint(load_model('resnet20'), tmp_path/'r20.safetensors')
    with pytest.raises(ValueError, match=r"num_classes=5 does not match .* head has 10 outputs"): load_model('resnet20', p, num_classes=5)
    assert load_model('resnet20', p).num_classes == 10          # None: the checkpoint's class count

def test_missing_and_unexpected_keys_are_named(tmp_path):
    state = load_model('resnet20').state_dict()
    state.pop('backbone.layer3.2.bn2.weight'); state['backbone.extra.weight'] = torch.zeros(1)
    torch.save(state, tmp_path/'bad.pt')
    with pytest.raises(ValueError) as e: load_model('resnet20', tmp_path/'bad.pt')
    assert 'missing keys (1): backbone.layer3.2.bn2.weight' in str(e.value) and 'unexpected keys (1): backbone.extra.weight' in str(e.value)

class _Payload:
    def __reduce__(self): return (os.system, (f"touch {os.environ['PWNED']}",))

def test_non_weights_pickle_is_refused_and_not_executed(tmp_path, monkeypatch):
    flag = tmp_path/'pwned'; monkeypatch.setenv('PWNED', str(flag))
    with open(tmp_path/'evil.th', 'wb') as f: pickle.dump({'state_dict': {'w': _Payload()}}, f)
    with pytest.raises(ValueError, match='refused to load .*nothing in it was executed'): load_model('resnet20', tmp_path/'evil.th')
    assert not flag.exists()

@pytest.mark.parametrize('x, match', [
    (torch.zeros(2, 3, 8, 8, dtype=torch.uint8), 'dtype torch.uint8'),
    (torch.full((2, 3, 8, 8), 2.0), r'values in \[2, 2\]'),
    (torch.zeros(2, 1, 8, 8), '3 colour channels'),
    (torch.zeros(3, 8, 8), r'shape \(3, 8, 8\)'),
    (torch.zeros(0, 3, 8, 8), 'empty batch'),
    (torch.full((1, 3, 8, 8), float('inf')), 'NaN or infinite'),
    (np.zeros((1, 3, 8, 8), np.float32), 'ndarray'),
])
def test_bad_images(x, match):
    with pytest.raises((TypeError, ValueError), match=match): check_images(x)

def test_models_check_their_input():
    with pytest.raises(ValueError, match=r'images has values in'):
        from robustify_nb.models import predict
        predict(load_model('smallcnn'), (torch.full((2, 3, 32, 32), 255.0), torch.zeros(2, dtype=torch.long)))

def test_empty_dataset(tmp_path):
    with pytest.raises(ValueError, match="is empty"): ImageDataset(np.zeros((0, 32, 32, 3), np.uint8), np.zeros(0, int), ['a'])
    np.savez(tmp_path/'e.npz', x=np.zeros((0, 32, 32, 3), np.uint8), y=np.zeros(0, np.int64))
    with pytest.raises(ValueError, match="is empty"): load_npz(tmp_path/'e.npz')

def test_mismatched_labels(tmp_path):
    np.savez(tmp_path/'m.npz', x=np.zeros((4, 32, 32, 3), np.uint8), y=np.zeros(3, np.int64))
    with pytest.raises(ValueError, match=r"4 images but labels of shape \(3,\)"): load_npz(tmp_path/'m.npz')

def test_unknown_style():
    with pytest.raises(ValueError, match=r"style='skecth' is not a known style\. Did you mean 'sketch'"): PolyShift(10, 'skecth')

def test_cache_dir_not_writable(tmp_path, monkeypatch):
    blocker = tmp_path/'a-file'; blocker.write_text('not a directory')
    monkeypatch.setenv('ROBUSTIFY_HOME', str(blocker/'cache'))
    with pytest.raises(PermissionError, match=r"cache directory .* is not writable.*ROBUSTIFY_HOME"): cache_dir('weights')

def test_unknown_tag_offline_fails_fast(monkeypatch):
    import robustify_nb.models as M
    monkeypatch.setattr(M, '_online', lambda *a, **k: False)
    t0 = time.perf_counter()
    with pytest.raises(FileNotFoundError) as e: load_model('resnet32', weights='cifar10')
    assert time.perf_counter() - t0 < 5
    msg = str(e.value)
    assert "'cifar10'" in msg and 'resnet32-d509ac18.th' in msg and 'weights=<path' in msg and 'polyshift' not in msg

def test_unavailable_tag_fails_within_5s_for_real():
    "No patching: whatever the network, asking for a tag that is not cached answers (or fails clearly) quickly."
    t0 = time.perf_counter()
    try: load_model('resnet44', weights='cifar10')
    except FileNotFoundError as e: assert 'looked for' in str(e) or 'failed' in str(e)
    assert time.perf_counter() - t0 < 5 or os.environ.get('ROBUSTIFY_ONLINE')

def test_open_clip_tag_offline_fails_fast(monkeypatch):
    import robustify_nb.models as M
    monkeypatch.setattr(M, '_online', lambda *a, **k: False)
    monkeypatch.setenv('HF_HOME', '/nonexistent-hf-home')
    t0 = time.perf_counter()
    with pytest.raises(FileNotFoundError, match=r"open_clip weights 'ViT-B-32'/'openai' are not available offline"): M.load_clip('ViT-B-32', 'openai')
    assert time.perf_counter() - t0 < 5

def test_bad_weights_type_and_path(tmp_path):
    with pytest.raises(FileNotFoundError, match='no such file'): load_model('resnet20', tmp_path/'nope.pt')
    with pytest.raises(TypeError, match='weights=3'): load_model('resnet20', 3)

# ---- your own model: FILE.py:factory / package.module:factory ----------------------------------------------------------
_FACTORIES = '''
import torch.nn as nn
def good(num_classes=10): return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, num_classes))
def text(): return 'a model'
def pooled(): return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU())         # (N, 4, H, W): not logits
def no_arg(): return good()
'''

@pytest.fixture
def factories(tmp_path):
    (tmp_path/'mine.py').write_text(_FACTORIES); return tmp_path/'mine.py'

def test_factory_file_missing_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"the file '.*gone\.py' does not exist"): load_model(f'{tmp_path}/gone.py:good')

def test_factory_module_missing_names_the_module():
    with pytest.raises(ValueError, match=r"the module 'no_such_pkg\.sub' cannot be imported"): load_model('no_such_pkg.sub:net')

def test_factory_function_missing_names_the_function_and_lists_others(factories):
    with pytest.raises(ValueError, match=r"has no function 'god' \(did you mean 'good'\?\); functions it defines: \['good', 'no_arg', 'pooled', 'text'\]"):
        load_model(f'{factories}:god')
    with pytest.raises(ValueError, match=r"the module 'torchvision\.models' has no function 'resnet_51'"): load_model('torchvision.models:resnet_51')

def test_factory_returning_a_non_module(factories):
    with pytest.raises(TypeError, match='the factory returned a str; accepted: a torch.nn.Module'): load_model(f'{factories}:text')

def test_factory_output_not_logits(factories):
    with pytest.raises(ValueError, match=r"maps a batch of 2 images of size \(32, 32\) to \(2, 4, 32, 32\); accepted: a model whose output is logits of shape \(N, classes\)"):
        load_model(f'{factories}:pooled')

def test_factory_without_num_classes(factories):
    assert load_model(f'{factories}:good', num_classes=3).num_classes == 3
    with pytest.raises(ValueError, match='takes no num_classes argument'): load_model(f'{factories}:no_arg', num_classes=3)

def test_classifier_states_its_normalisation():
    from robustify_nb.models import Classifier
    with pytest.raises(TypeError, match="missing 3 required positional arguments: 'mean', 'std', and 'image_size'"):
        Classifier(torch.nn.Identity(), torch.nn.Linear(3, 2), 3)
    with pytest.raises(ValueError, match=r"image_size=\(224,\) is not accepted"):
        Classifier(torch.nn.Identity(), torch.nn.Linear(3, 2), 3, (0, 0, 0), (1, 1, 1), (224,))

def test_checkpoint_with_other_preprocessing_is_refused(tmp_path):
    from robustify_nb.core import read_json, write_json
    p = save_checkpoint(load_model('resnet20'), tmp_path/'r20.safetensors')
    meta = read_json(tmp_path/'r20.json'); meta['config']['image_size'] = [64, 64]; write_json(tmp_path/'r20.json', meta)
    with pytest.raises(ValueError, match=r"image_size \(64, 64\) vs the model's \(32, 32\)"): load_model('resnet20', p)
