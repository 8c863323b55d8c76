"WiSE-FT: interpolate over state dicts and modules, its checks, and the bad inputs of the chapter's functions."
import math
import pytest, torch, torch.nn as nn
from robustify_nb.wiseft import interpolate, check_alpha

def net(width=4):
    torch.manual_seed(width)
    return nn.Sequential(nn.Conv2d(3, width, 3), nn.BatchNorm2d(width), nn.Flatten(), nn.LazyLinear(2) if False else nn.Linear(width, 2))

def test_endpoints_and_midpoint_of_every_floating_tensor():
    a, b = net(), net()
    with torch.no_grad():
        for p in b.parameters(): p.add_(1.0)
        b[1].running_mean.add_(2.0); b[1].running_var.mul_(3.0)
    for alpha in (0, 0.3, 1):
        s = interpolate(a, b, alpha)
        for k, v in a.state_dict().items():
            if v.is_floating_point(): torch.testing.assert_close(s[k], (1 - alpha)*v + alpha*b.state_dict()[k])
    s = interpolate(a.state_dict(), b.state_dict(), 0)
    assert all(torch.equal(s[k], v) for k, v in a.state_dict().items())

def test_integer_buffers_take_the_nearer_endpoint_and_keep_dtype():
    a, b = net(), net()
    b[1].num_batches_tracked.fill_(10)
    assert interpolate(a, b, 0.4)['1.num_batches_tracked'].item() == 0
    s = interpolate(a, b, 0.6)
    assert s['1.num_batches_tracked'].item() == 10 and s['1.num_batches_tracked'].dtype == torch.long

def test_result_is_a_copy():
    a, b = net(), net()
    s = interpolate(a, b, 0.0); s['0.weight'].add_(1)
    assert not torch.equal(s['0.weight'], a[0].weight)

def test_half_precision_stays_half():
    a, b = net().half(), net().half()
    assert interpolate(a, b, 0.5)['0.weight'].dtype == torch.float16

def test_loads_back_into_the_architecture():
    a, b = net(), net()
    c = net(); c.load_state_dict(interpolate(a, b, 0.5))
    x = torch.randn(2, 3, 3, 3); c.eval(); assert c(x).shape == (2, 2)

@pytest.mark.parametrize('alpha, err, msg', [
    ('0.5', TypeError, "alpha='0.5' has type str"), (None, TypeError, 'has type NoneType'), (True, TypeError, 'has type bool'),
    (-0.1, ValueError, 'outside [0, 1]'), (1.01, ValueError, 'extrapolate=True'), (math.inf, ValueError, 'not finite')])
def test_bad_alpha(alpha, err, msg):
    with pytest.raises(err, match=None) as e: interpolate(net(), net(), alpha)
    assert msg in str(e.value)

def test_extrapolation_needs_opt_in():
    a, b = net(), net()
    s = interpolate(a, b, -0.5, extrapolate=True)
    torch.testing.assert_close(s['3.bias'], 1.5*a[3].bias - 0.5*b[3].bias)
    assert check_alpha(torch.tensor(0.25)) == 0.25 and check_alpha(1) == 1.0

def test_different_architectures_are_named():
    with pytest.raises(ValueError) as e: interpolate(net(4), net(5), 0.5)
    assert 'not the same architecture' in str(e.value) and '0.weight: (4, 3, 3, 3) vs (5, 3, 3, 3)' in str(e.value)
    with pytest.raises(ValueError) as e: interpolate(net(), nn.Sequential(nn.Conv2d(3, 4, 3)), 0.5)
    assert 'keys only in theta0' in str(e.value) and '1.running_mean' in str(e.value)
    with pytest.raises(ValueError) as e: interpolate({'w': torch.zeros(2)}, {'w': torch.zeros(2, dtype=torch.long)}, 0.5)
    assert 'floating vs integer' in str(e.value)

def test_not_a_state_dict():
    with pytest.raises(TypeError) as e: interpolate(net(), {'w': [1.0]}, 0.5)
    assert "theta1 holds non-tensor values under ['w']" in str(e.value)
    with pytest.raises(TypeError) as e: interpolate('model.pt', net(), 0.5)
    assert 'theta0 has type str' in str(e.value)
