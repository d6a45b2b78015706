"""The whole-sequence GRU primitive against a step-by-step recurrence and finite differences."""

from __future__ import annotations

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad
from autograd.test_util import check_grads

from pola_nb.sampled.scan import gru_scan


def _sig(x):
    return 1.0 / (1.0 + anp.exp(-x))


def _loop(xw, bi, wh, bn):
    """The GRU recurrence one operation at a time (autograd differentiates it to any order)."""
    H = wh.shape[0]
    ai = xw + bi
    h = anp.zeros((ai.shape[1], H))
    hs = []
    for t in range(ai.shape[0]):
        gh = anp.dot(h, wh)
        r = _sig(ai[t, :, :H] + gh[:, :H])
        z = _sig(ai[t, :, H:2 * H] + gh[:, H:2 * H])
        n = anp.tanh(ai[t, :, 2 * H:] + r * (gh[:, 2 * H:] + bn))
        h = (1 - z) * n + z * h
        hs.append(h)
    return anp.stack(hs)


def _inputs(seed, T=5, B=3, H=4):
    """``(xw, bi, wh, bn, w)``: GRU inputs and a weighting ``w`` ``(T, B, H)`` of its outputs."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((T, B, 3 * H)), rng.standard_normal(3 * H), 0.6 * rng.standard_normal((H, 3 * H)),
            rng.standard_normal(H), rng.standard_normal((T, B, H)))


def test_values_equal_the_loop():
    xw, bi, wh, bn, _ = _inputs(0)
    np.testing.assert_allclose(gru_scan(xw, bi, wh, bn), _loop(xw, bi, wh, bn), rtol=1e-12, atol=1e-14)


def test_first_and_second_derivatives_against_finite_differences():
    xw, bi, wh, bn, w = _inputs(1)
    # one tuple argument: check_grads differentiates only its first argument
    check_grads(lambda args: anp.sum(anp.tanh(gru_scan(*args)) * w), modes=["rev"], order=2)((xw, bi, wh, bn))


def nested(scan, xw, bi, wh, bn, w, x, lr=0.3):
    """A LOLA-like nested derivative: the value and d/dx of ``f(x, wh - lr * d/dwh g(x, wh))``, with the
    input side and its bias depending on ``x`` in both."""

    def inner(x, v):
        return anp.sum(w * scan(xw * x, bi * x, v, bn) ** 2)

    def outer(x):
        v1 = wh - lr * grad(inner, 1)(x, wh)
        return anp.sum(anp.sin(scan(xw + x, bi - x, v1, bn)) * w)

    return outer(x), grad(outer)(x)


def test_nested_derivative_equals_the_loop():
    args = _inputs(2)
    x0 = np.random.default_rng(3).standard_normal(args[0].shape[-1])
    np.testing.assert_allclose(nested(gru_scan, *args, x0)[1], nested(_loop, *args, x0)[1], rtol=1e-10, atol=1e-12)


def test_float32_in_float32_out():
    xw, bi, wh, bn, w = (a.astype(np.float32) for a in _inputs(4))

    def f(v):
        return anp.sum(gru_scan(xw, bi, v, bn) * w)

    def g(v):
        return f(v - 0.1 * grad(f)(v))

    assert gru_scan(xw, bi, wh, bn).dtype == np.float32
    assert grad(g)(wh).dtype == np.float32


def test_third_order_is_refused_with_a_clear_error():
    xw, bi, wh, bn, w = _inputs(5)

    def f(v):
        return anp.sum(gru_scan(xw, bi, v, bn) * w)

    def second(v):
        return anp.sum(grad(lambda u: anp.sum(grad(f)(u) ** 2))(v) ** 2)

    with pytest.raises(NotImplementedError, match="second order"):
        grad(second)(wh)


def test_single_step_primitive_equals_the_loop_to_third_order():
    """``fused.gru_gates`` (one cell step; its VJP's VJP shares ``_forward``/``_cell_adjoint`` with the
    scan) against one step of the literal loop: values, and derivatives up to third order by finite
    differences."""
    from pola_nb.sampled.fused import gru_gates

    xw, bi, wh, bn, w = _inputs(6, T=2)
    ai = xw + bi
    h = np.random.default_rng(7).standard_normal((ai.shape[1], wh.shape[0]))

    def step(a, v, c, h0):
        return gru_gates(a, anp.dot(h0, v), h0, c)

    ref = _loop(xw, bi, wh, bn)
    np.testing.assert_allclose(step(ai[1], wh, bn, ref[0]), ref[1], rtol=1e-12, atol=1e-14)
    check_grads(lambda args: anp.sum(anp.tanh(step(*args)) * w[0]), modes=["rev"], order=3)((ai[0], wh, bn, h))
