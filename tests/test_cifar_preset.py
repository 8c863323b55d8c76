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

def test_cifar_frost_uses_the_original_pictures_at_a_fifth_of_their_size(generator_and_images):
    "The original shrinks the frost pictures with cv2.resize(fx=fy=0.2) and picks one of the first 5; ours does the same."
    import cv2
    from pathlib import Path
    from robustify_nb.corruptions import _frost_stack, _frost_apply, PARAMS
    ns, xu = generator_and_images
    ref_dir = Path(shared_data()) / '..' / 'reference' / 'cifar10-c'
    files = ['frost1.png', 'frost2.png', 'frost3.png', 'frost4.jpg', 'frost5.jpg']
    stack, sizes = _frost_stack('cpu', 32, 32, 0.2)
    pics = [cv2.resize(cv2.imread(str(ref_dir/f)), (0, 0), fx=0.2, fy=0.2)[..., [2, 1, 0]] for f in files]
    for i, fr in enumerate(pics): assert (stack[i, :, :sizes[i, 0], :sizes[i, 1]].permute(1, 2, 0).numpy() == fr).all(), files[i]
    x = torch.from_numpy(xu[:5]).permute(0, 3, 1, 2).float()/255
    idx, xs, ys = torch.arange(5), torch.tensor([3, 10, 20, 7, 30]), torch.tensor([5, 0, 40, 33, 60])
    for s in range(1, 6):
        c = PARAMS['frost']['cifar'][s - 1]
        ours = torch.floor(_frost_apply(x, c, idx, xs, ys, 0.2)*255 + 1e-4).permute(0, 2, 3, 1).numpy()
        for n in range(5):   # the original's blend of the same crop, stored as uint8
            ref = np.uint8(np.clip(c[0]*xu[n] + c[1]*pics[n][xs[n]:xs[n] + 32, ys[n]:ys[n] + 32], 0, 255))
            assert np.abs(ours[n] - ref).max() <= 1, (s, n)
    y = corrupt(x, 'frost', 3, make_generator(0), preset='cifar')
    assert y.shape == x.shape and not torch.equal(y, corrupt(x, 'frost', 3, make_generator(0), preset='imagenet'))
