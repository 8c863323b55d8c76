"Fidelity of the torch corruptions against the reference implementation (imagecorruptions-imaug), and bad input."
import numpy as np, pytest, torch
from robustify_nb.core import make_generator
from robustify_nb.corruptions import corrupt, CORRUPTIONS, EXTRA_CORRUPTIONS, reference_corrupt, DETERMINISTIC, fidelity

def _images(shared, n=32, size=32):
    from robustify_nb.data import load_npz, PolyShift
    if shared is None: x = PolyShift(n, 'reference', 'test').tensors()[0]
    else: x = load_npz(shared/'cifar10-5k/test_1000.npz').tensors(slice(0, n))[0]
    if size != 32: x = torch.nn.functional.interpolate(x, size=size, mode='bicubic', align_corners=False).clamp(0, 1)
    return x

@pytest.fixture
def maybe_shared():
    from robustify_nb.core import shared_data
    return shared_data()

@pytest.mark.parametrize('name', DETERMINISTIC)
@pytest.mark.parametrize('size', [32, 224])
def test_deterministic_corruptions_match_the_reference(name, size, maybe_shared):
    x = _images(maybe_shared, 16 if size == 32 else 3, size)
    for s in (1, 3, 5):
        ours = corrupt(x, name, s, make_generator(0), preset='imagenet')
        ref = reference_corrupt(x, name, s)
        mad = (ours - ref).abs().mean().item()
        assert mad <= 2/255, f"{name} severity {s} at {size} px: mean |ours - reference| = {255*mad:.2f}/255"

def test_reference_wrapper_roundtrip():
    x = torch.rand(2, 3, 32, 32)
    y = reference_corrupt(x, 'brightness', 1)
    assert y.shape == x.shape and y.dtype == x.dtype

@pytest.mark.parametrize('bad, match', [
    (dict(name='fogg'), "Did you mean 'fog'"), (dict(severity=0), 'severity=0'), (dict(severity='3'), "severity='3'"),
    (dict(preset='mnist'), "preset='mnist'"), (dict(generator=42), 'generator has type int')])
def test_bad_arguments(bad, match):
    kw = dict(name='fog', severity=1) | bad
    with pytest.raises((ValueError, TypeError), match=match): corrupt(torch.rand(2, 3, 32, 32), **kw)

@pytest.mark.parametrize('x, match', [(torch.rand(2, 3, 16, 16), '>= 32'), (torch.full((1, 3, 32, 32), float('nan')), 'NaN'),
                                      (torch.randint(0, 255, (1, 3, 32, 32), dtype=torch.uint8), 'dtype torch.uint8')])
def test_bad_images(x, match):
    with pytest.raises((ValueError, TypeError), match=match): corrupt(x, 'contrast', 1)

@pytest.mark.slow
@pytest.mark.parametrize('name', CORRUPTIONS + EXTRA_CORRUPTIONS)
def test_resnet56_accuracy_agrees_with_the_reference(name, shared):
    """Accuracy (%) of the shared resnet56 on the 1,000 shared test images under ours vs the reference, every severity;
    random corruptions are averaged over four draws on each side (one draw alone moves accuracy by 1-2 points; with two, impulse noise at severity 1 once differed by 2.4 points, with eight by 0.45)."""
    from robustify_nb.data import load_npz
    from robustify_nb.models import load_model
    x, y = load_npz(shared/'cifar10-5k/test_1000.npz').tensors()
    m = load_model('resnet56', shared/'cifar10-resnets/resnet56-4bfd9763.th')
    df = fidelity(x, y, m, names=[name], severities=(1, 2, 3, 4, 5), draws=4)
    print('\n' + df.round(2).to_string(index=False, header=False))
    bad = df[df.difference.abs() > 2]
    assert bad.empty, f"ours and the reference differ by more than 2 points:\n{bad}"
