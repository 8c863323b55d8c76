"""The `cifar` preset against Hendrycks' original CIFAR-10-C generator (../shared/reference/cifar10-c/make_cifar_c.py):
every deterministic corruption, every severity, on real CIFAR-10 test images, stored as the original stores them
(np.uint8 of the result). Measured: mean |difference| at most 0.08/255, never more than 1/255 in a pixel."""
import numpy as np, pytest, torch
from cifar_c_reference import load_generator, reference_cifar
from robustify_nb.core import shared_data, make_generator
from robustify_nb.corruptions import corrupt

CIFAR_DETERMINISTIC = ('gaussian_blur', 'defocus_blur', 'zoom_blur', 'contrast', 'brightness', 'saturate', 'jpeg_compression', 'pixelate')

@pytest.fixture(scope='module')
def generator_and_images():
    ns = load_generator()
    if ns is None or shared_data() is None or not shared_data('cifar10-5k/test_1000.npz').exists():
        pytest.skip('needs ../shared/reference/cifar10-c/make_cifar_c.py and ../shared/data/cifar10-5k (development data, not in the project)')
    return ns, np.load(shared_data('cifar10-5k/test_1000.npz'))['x'][:8]

@pytest.mark.parametrize('name', CIFAR_DETERMINISTIC)
def test_cifar_preset_matches_the_original_generator(name, generator_and_images):
    ns, xu = generator_and_images
    x = torch.from_numpy(xu).permute(0, 3, 1, 2).float()/255
    for s in range(1, 6):
        ref = np.stack([reference_cifar(ns, name, im, s) for im in xu]).astype(np.float64)
        ours = torch.floor(corrupt(x, name, s, make_generator(0), preset='cifar')*255 + 1e-4).permute(0, 2, 3, 1).numpy()
        d = np.abs(ours - ref)
        assert d.mean() <= 2 and d.max() <= 1, (name, s, d.mean(), d.max())     # target 2/255 MAD; measured <= 0.08, max 1
        assert (ref != xu).any()                                                # the original does corrupt the images
