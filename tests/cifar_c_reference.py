"""Load Hendrycks' original CIFAR-10-C generator (../shared/reference/cifar10-c/make_cifar_c.py, not part of the project)
for comparisons: only its functions are executed (not the dataset-writing script at its end), and four names that newer
numpy/scipy/skimage renamed are mapped to their current ones (np.float_, np.fromstring, map_coordinates,
gaussian(multichannel=)).
motion_blur and snow call ImageMagick's MagickMotionBlurImage through Wand: with Wand and Debian's libmagickwand
installed (`make magick`, part of `make test`) they run as in the original; without them Wand is stubbed and
`has_magick(ns)` is False (the other corruptions still load)."""
import sys, types
from pathlib import Path
import numpy as np

def magick_available() -> bool:
    "Whether Wand and ImageMagick's MagickWand library load (`make magick` installs them)."
    try:
        import wand.image, wand.api  # noqa: F401  (loading wand.api opens libMagickWand)
        return hasattr(wand.api.library, 'MagickMotionBlurImage')
    except ImportError: return False

def has_magick(ns) -> bool:
    "Whether this loaded generator calls the real ImageMagick (motion_blur and snow work)."
    return bool(ns and ns.get('_magick'))

def load_generator(path=None):
    from robustify_nb.core import shared_data
    path = Path(path) if path else (shared_data() / '..' / 'reference' / 'cifar10-c' / 'make_cifar_c.py' if shared_data() else None)
    if path is None or not path.exists(): return None
    src = path.read_text()
    src = src[:src.index('import collections')]                        # the functions only, not the generation script
    src = src.replace('from scipy.ndimage.interpolation import map_coordinates', 'from scipy.ndimage import map_coordinates')
    src = src.replace('np.float_)', 'np.float64)')                     # removed in NumPy 2
    src = src.replace('np.fromstring(', 'np.frombuffer(')               # binary fromstring: removed in NumPy 2
    magick = magick_available()
    wand = types.ModuleType('wand'); api = types.ModuleType('wand.api'); img = types.ModuleType('wand.image'); col = types.ModuleType('wand.color')
    class _Lib:                                                         # attribute assignments of the script succeed, calls fail
        def __getattr__(self, k): return types.SimpleNamespace(argtypes=None)
    api.library = _Lib(); img.Image = object
    mods = {} if magick else {'wand': wand, 'wand.api': api, 'wand.image': img, 'wand.color': col}
    saved = {k: sys.modules.get(k) for k in mods}
    sys.modules.update(mods)
    try:
        ns = {'__name__': 'make_cifar_c'}
        exec(compile(src, str(path), 'exec'), ns)
    finally:
        for k, v in saved.items():
            if v is None: sys.modules.pop(k, None)
            else: sys.modules[k] = v
    g = ns['gaussian']
    def gaussian(*a, multichannel=None, **kw):                          # skimage >= 0.19: channel_axis
        if multichannel: kw['channel_axis'] = -1
        return g(*a, **kw)
    ns['gaussian'] = gaussian
    ns['_magick'] = magick
    return ns

def reference_cifar(ns, name, x_uint8_hwc, severity):
    "The original generator on one uint8 (32, 32, 3) image, stored as CIFAR-10-C stores it: np.uint8 of the result."
    from PIL import Image
    out = ns[name](Image.fromarray(x_uint8_hwc), severity)
    return np.uint8(np.asarray(out, dtype=np.float64) if not isinstance(out, Image.Image) else np.asarray(out))
