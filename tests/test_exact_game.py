"""Exact IPD values against independent computations and known closed forms."""

import autograd.numpy as anp
import numpy as np
import pytest
from autograd.test_util import check_grads

from pola_nb import IPDExact, exact_values
from pola_nb.errors import PolaUsageError


def values_by_power_series(cf, gamma, q1, q2, horizon=2000):
    """Sum gamma^t E[r_t] by stepping the joint-state distribution, built element by element."""
    r1 = {(0, 0): 0.0, (0, 1): cf / 2, (1, 0): cf / 2 - 1, (1, 1): cf - 1}
    r2 = {(a1, a2): r1[(a2, a1)] for (a1, a2) in r1}

    def p_act(q, a):
        return q if a == 1 else 1 - q

    dist = {(a1, a2): p_act(q1[4], a1) * p_act(q2[4], a2) for a1 in (0, 1) for a2 in (0, 1)}
    v1 = v2 = 0.0
    for t in range(horizon):
        v1 += gamma**t * sum(p * r1[s] for s, p in dist.items())
        v2 += gamma**t * sum(p * r2[s] for s, p in dist.items())
        nxt = {s: 0.0 for s in dist}
        for (b1, b2), p in dist.items():
            idx = 2 * b1 + b2  # state index: agent 1's action is the high bit
            for a1 in (0, 1):
                for a2 in (0, 1):
                    nxt[(a1, a2)] += p * p_act(q1[idx], a1) * p_act(q2[idx], a2)
        dist = nxt
    return v1, v2


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_values_match_power_series(seed):
    rng = np.random.default_rng(seed)
    q1, q2 = rng.uniform(size=5), rng.uniform(size=5)
    cf = rng.uniform(1.05, 1.95)
    v1, v2 = exact_values(IPDExact(cf=cf, gamma=0.96), q1, q2)
    r1, r2 = values_by_power_series(cf, 0.96, q1, q2)
    assert v1 == pytest.approx(r1, abs=1e-9)
    assert v2 == pytest.approx(r2, abs=1e-9)


def test_closed_forms():
    g = IPDExact(cf=1.33, gamma=0.96)
    one, zero = np.ones(5), np.zeros(5)
    assert exact_values(g, zero, zero) == pytest.approx((0.0, 0.0), abs=1e-12)
    assert exact_values(g, one, one) == pytest.approx((0.33 / 0.04, 0.33 / 0.04))
    assert g.max_value == pytest.approx(8.25)
    # ALLD against ALLC: temptation 0.665 and sucker -0.335 forever.
    assert exact_values(g, zero, one) == pytest.approx((0.665 / 0.04, -0.335 / 0.04))


def test_batched_values_and_per_row_cf():
    rng = np.random.default_rng(3)
    q1, q2 = rng.uniform(size=(4, 3, 5)), rng.uniform(size=(4, 3, 5))
    cf = rng.uniform(1.1, 1.9, size=(4, 3))
    v1, v2 = exact_values(IPDExact(cf=cf), q1, q2)
    assert v1.shape == (4, 3)
    for i in range(4):
        for j in range(3):
            w1, w2 = exact_values(IPDExact(cf=cf[i, j]), q1[i, j], q2[i, j])
            assert (v1[i, j], v2[i, j]) == pytest.approx((float(w1), float(w2)))


def test_value_gradients_second_order():
    rng = np.random.default_rng(4)
    q2 = rng.uniform(0.1, 0.9, size=(3, 5))
    g = IPDExact(cf=1.4)

    def f(logit1):
        v1, v2 = exact_values(g, 1 / (1 + anp.exp(-logit1)), q2)
        return anp.sum(v1 * v2)

    check_grads(f, modes=["rev"], order=2)(rng.normal(size=(3, 5)))


@pytest.mark.parametrize("cf,gamma", [(1.0, 0.96), (2.0, 0.96), (1.33, 0.0), (1.33, 1.0)])
def test_invalid_game(cf, gamma):
    with pytest.raises(PolaUsageError):
        IPDExact(cf=cf, gamma=gamma)


def test_fused_values_match_composite_twin_to_second_order():
    from autograd import grad, hessian

    from pola_nb.exact.game import values_composite, values_fused

    rng = np.random.default_rng(5)
    q = rng.uniform(0.05, 0.95, size=(3, 2, 5))
    r = np.stack(IPDExact(cf=np.array([1.1, 1.4, 1.8])).rewards, axis=-2)
    w = rng.normal(size=(3, 2))
    np.testing.assert_allclose(values_fused(q, r, 0.96), values_composite(q, r, 0.96), rtol=1e-12)
    f = lambda x: anp.sum(w * values_fused(x, r, 0.96))  # noqa: E731
    f_twin = lambda x: anp.sum(w * values_composite(x, r, 0.96))  # noqa: E731
    np.testing.assert_allclose(grad(f)(q), grad(f_twin)(q), rtol=1e-9)
    np.testing.assert_allclose(hessian(f)(q), hessian(f_twin)(q), rtol=1e-7, atol=1e-9)
    check_grads(f, modes=["rev"], order=2)(q)
