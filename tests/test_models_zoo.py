"The zoo beyond the CIFAR ResNets: torchvision students and open_clip models, loaded without downloads."
import time, pytest, torch
from robustify_nb.models import load_model, num_params, MODELS

def test_torchvision_checkpoint_layout_loads(tmp_path):
    "A state dict in torchvision's own layout (fc.* head) loads through the key map and gives the same logits."
    import torchvision
    torch.manual_seed(0)
    tv = torchvision.models.resnet18(weights=None, num_classes=7).eval()
    torch.save(tv.state_dict(), tmp_path/'r18.pth')
    m = load_model('tv_resnet18', tmp_path/'r18.pth')
    assert m.num_classes == 7 and m.num_features == 512
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad(): torch.testing.assert_close(m(x), tv(m.preprocess(x)))

def test_torchvision_tags_offline(monkeypatch):
    import robustify_nb.models as M
    monkeypatch.setattr(M, '_online', lambda *a, **k: False)
    monkeypatch.setattr(torch.hub, 'get_dir', lambda: '/nonexistent-hub')
    assert 'IMAGENET1K_V1' in MODELS['tv_resnet50'].tags
    t0 = time.perf_counter()
    with pytest.raises(FileNotFoundError, match="weights tag 'IMAGENET1K_V1' of 'tv_resnet50' is not available offline"):
        load_model('tv_resnet50', weights='IMAGENET1K_V1')
    assert time.perf_counter() - t0 < 5

def test_vit_student_builds_with_features_and_head():
    m = load_model('tv_vit_b_16', num_classes=10)
    assert m.num_features == 768 and m.head.out_features == 10

def test_tiny_clip_offline():
    m = load_model('clip:tiny-vit', num_classes=10)
    with torch.no_grad(): f = m.features(torch.rand(3, 3, 32, 32))
    torch.testing.assert_close(f.norm(dim=-1), torch.ones(3))
    assert m(torch.rand(1, 3, 32, 32)).shape == (1, 10)
    toks = m.tokenizer(['a photo of a star'])
    assert toks.shape[0] == 1

def test_shared_cifar_resnets_load_exactly_and_score(shared):
    "The reference CIFAR-10 checkpoints (foreign .th files) load strictly and classify the shared test images."
    from robustify_nb.data import load_npz
    from robustify_nb.models import accuracy
    test1k = load_npz(shared/'cifar10-5k/test_1000.npz')
    acc = {n: accuracy(load_model(n, shared/f'cifar10-resnets/{f}'), test1k)
           for n, f in (('resnet20', 'resnet20-12fca82f.th'), ('resnet56', 'resnet56-4bfd9763.th'))}
    print(acc)
    assert acc['resnet20'] >= 0.91 and acc['resnet56'] >= 0.92 and acc['resnet56'] > acc['resnet20'], acc
