"""The `cifar` preset against Hendrycks' original CIFAR-10-C generator (../shared/reference/cifar10-c/make_cifar_c.py):
every deterministic corruption, every severity, on real CIFAR-10 test images, stored as the original stores them
(np.uint8 of the result). Measured: mean |difference| at most 0.08/255, never more than 1/255 in a pixel.
Motion blur and snow (ImageMagick's MagickMotionBlurImage in the original, through Wand: `make magick`) are compared
pixel by pixel with the original's random draws replayed (its angle, and snow's noise layer). Measured on 16 images:
motion blur 0.00/255 mean, 1 level max; snow at most 0.51/255 mean, 3 levels max."""
import numpy as np, pytest, torch
from cifar_c_reference import load_generator, reference_cifar, has_magick
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

@pytest.mark.parametrize('name', ['motion_blur', 'snow'])
def test_cifar_motion_blur_and_snow_match_imagemagick(name, generator_and_images):
    "The original's own draws (numpy, seeded per image) replayed into ours: then ours must give ImageMagick's pixels."
    import os
    from robustify_nb.corruptions import _motion_blur, _snow_apply, PARAMS
    ns, xu = generator_and_images
    if not has_magick(ns): pytest.skip("needs Wand and ImageMagick's libmagickwand (make magick)")
    x = torch.from_numpy(xu).permute(0, 3, 1, 2).float()/255
    for s in (1, 3, 5):
        c, ref, noise, angle = PARAMS[name]['cifar'][s - 1], [], [], []
        for i, im in enumerate(xu):
            np.random.seed(10*s + i)
            if name == 'snow': noise.append(np.random.normal(size=(32, 32), loc=c[0], scale=c[1]))
            angle.append(np.random.uniform(-45, 45) if name == 'motion_blur' else np.random.uniform(-135, -45))
            np.random.seed(10*s + i); ref.append(reference_cifar(ns, name, im, s))
        ref, angle = np.stack(ref).astype(np.float64), torch.tensor(angle, dtype=torch.float64)
        if name == 'motion_blur':
            y = _motion_blur(x.reshape(-1, 32, 32), int(c[0]), float(c[1]), angle.repeat_interleave(3)).view(x.shape).clamp(0, 1)
        else:
            y = _snow_apply(x, c, torch.tensor(np.stack(noise), dtype=torch.float32), angle, cifar=True)
        d = np.abs(torch.floor(y*255 + 1e-4).permute(0, 2, 3, 1).numpy() - ref)
        assert d.mean() <= 1 and d.max() <= 4, (name, s, d.mean(), d.max())   # target 2/255 MAD; measured <= 0.51, max 3
        assert np.abs(ref - xu).mean() > 5                                     # the original does corrupt the images
    if name == 'snow':   # the preset passes cifar=True: corrupt() under the cifar preset is the original's layer
        from robustify_nb.corruptions import snow
        c = PARAMS['snow']['cifar'][3]   # severity 4: zoom 2.25, where the central trim moves the layer by a pixel
        a = corrupt(x, 'snow', 4, make_generator(0), preset='cifar')
        assert torch.equal(a, snow(x, c, make_generator(0), cifar=True).clamp(0, 1))
        assert not torch.equal(a, snow(x, c, make_generator(0), cifar=False).clamp(0, 1))
