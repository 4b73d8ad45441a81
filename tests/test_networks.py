import jax
import numpy as np
import pytest

from bpgrade import networks


def rng_arrays(*shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in shapes]


def test_linear_is_x_w_plus_b():
    x, w, b = rng_arrays((4, 3), (3, 2), (2,))
    with jax.enable_x64(True):
        out = networks.linear({"w": w, "b": b}, x)
    assert out.shape == (4, 2) and out.dtype == np.float64
    np.testing.assert_allclose(out, x @ w + b, rtol=1e-14)


def test_activations():
    u = np.array([-2.0, -0.5, 0.5, 3.0])
    with jax.enable_x64(True):
        np.testing.assert_array_equal(networks.relu(u), [0.0, 0.0, 0.5, 3.0])
        np.testing.assert_allclose(networks.sigmoid(u), 1 / (1 + np.exp(-u)), rtol=1e-14)


def test_losses():
    pred, y = rng_arrays((5, 2), (5, 2))
    with jax.enable_x64(True):
        assert float(networks.mse(pred, y)) == pytest.approx(np.mean((pred - y) ** 2), rel=1e-14)
        assert float(networks.quadratic(pred, y)) == pytest.approx(np.sum((pred - y) ** 2) / 10, rel=1e-14)
        # One sample, one output: C = (a - y)^2 / 2.
        assert float(networks.quadratic(np.array([[0.7]]), np.array([[0.2]]))) == pytest.approx(0.125)


def test_init_linear_shapes_dtype_and_determinism():
    with jax.enable_x64(True):
        key = jax.random.key(3)
        p = networks.init_linear(key, 400, 3)
        again = networks.init_linear(key, 400, 3)
        other = networks.init_linear(jax.random.key(4), 400, 3)
    assert p["w"].shape == (400, 3) and p["b"].shape == (3,)
    assert p["w"].dtype == np.float64
    np.testing.assert_array_equal(p["w"], again["w"])
    assert not np.array_equal(p["w"], other["w"])
    # LeCun normal: variance 1 / n_in.
    assert np.var(np.asarray(p["w"])) * 400 == pytest.approx(1.0, rel=0.15)


def test_init_mlp_chains_sizes():
    with jax.enable_x64(True):
        layers = networks.init_mlp(jax.random.key(0), [4, 6, 5, 1])
    assert [(l["w"].shape, l["b"].shape) for l in layers] == [((4, 6), (6,)), ((6, 5), (5,)), ((5, 1), (1,))]


def test_forward_and_loss_of_a_network_over_named_tensors():
    net = networks.Network("x", "y", (networks.Layer("linear", "w1", "b1"), networks.Layer("relu"),
                                      networks.Layer("linear", "w2", "b2")), "mse")
    x, y, w1, b1, w2, b2 = rng_arrays((3, 2), (3, 1), (2, 4), (4,), (4, 1), (1,))
    t = dict(x=x, y=y, w1=w1, b1=b1, w2=w2, b2=b2)
    with jax.enable_x64(True):
        out, acts = networks.forward(net, t)
        loss = networks.loss(net, t)
    u1 = x @ w1 + b1
    np.testing.assert_allclose(acts[0], u1, rtol=1e-14)
    np.testing.assert_allclose(out, np.maximum(u1, 0) @ w2 + b2, rtol=1e-14)
    assert float(loss) == pytest.approx(np.mean((np.maximum(u1, 0) @ w2 + b2 - y) ** 2), rel=1e-14)
    assert [l.weight for l in net.linear_layers()] == ["w1", "w2"]
