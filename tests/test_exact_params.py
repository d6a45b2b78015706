"""Parameterisation facts: Figure 1's nets start at 0.5, pre-conditioning keeps the policy set, init ranges."""

import numpy as np
import pytest
from autograd.test_util import check_grads

from pola_nb.exact.params import PRECOND_A, NeuralNet, Precond, Tabular, kl_sum, probs
from pola_nb.generics import init_params, logits, n_params


@pytest.mark.parametrize("net", ["nn1", "nn2"])
def test_figure1_nets_start_at_one_half(net):
    fam = NeuralNet(2, init=net)
    q = probs(fam, init_params(fam, np.random.default_rng(0), 2))
    # NN2's published constants are rounded to ~1e-9, which leaves 3e-7 at the start state.
    np.testing.assert_allclose(q, 0.5, atol=1e-6)


def test_nn1_and_nn2_are_different_parameterisations():
    t1 = init_params(NeuralNet(2, init="nn1"), np.random.default_rng(0), 1)
    t2 = init_params(NeuralNet(2, init="nn2"), np.random.default_rng(0), 1)
    assert t1.shape == t2.shape == (1, 17)
    assert not np.allclose(t1, t2)


def test_precond_spans_the_same_policies():
    rng = np.random.default_rng(1)
    target = rng.normal(scale=3, size=(10, 5))
    theta = np.linalg.solve(PRECOND_A, target.T).T
    np.testing.assert_allclose(logits(Precond(), theta), target, atol=1e-12)
    # and the map is the documented one: logit(DD) = theta_0, others theta_s - 2 theta_0
    th = rng.normal(size=5)
    expected = np.r_[th[0], th[1:] - 2 * th[0]]
    np.testing.assert_allclose(logits(Precond(), th), expected)


def test_nn_matches_a_plain_loop():
    fam = NeuralNet(3, extra_layers=1)
    theta = init_params(fam, np.random.default_rng(2), 1)[0]
    w1, b1, w2, b2, wo, bo = fam.unpack(theta)
    x = np.array([[1, 0, 0, 1, 0, 0], [1, 0, 0, 0, 1, 0], [0, 1, 0, 1, 0, 0], [0, 1, 0, 0, 1, 0], [0, 0, 1, 0, 0, 1]])
    for s in range(5):
        h = np.tanh(w1 @ x[s] + b1)
        h = np.tanh(w2 @ h + b2)
        assert logits(fam, theta)[s] == pytest.approx(wo @ h + bo)


def test_random_nn_init_ranges():
    fam = NeuralNet(16)
    th = init_params(fam, np.random.default_rng(3), 200)
    assert th.shape == (200, n_params(fam)) == (200, 16 * 6 + 16 + 16 + 1)
    w_in, b_in, w_out, b_out = fam.unpack(th)
    assert np.abs(w_in).max() <= 1 / np.sqrt(6) and np.abs(w_in).max() > 0.9 / np.sqrt(6)
    assert np.abs(w_out).max() <= 0.25 and np.abs(b_out).max() <= 0.25


def test_tabular_init_std():
    th = init_params(Tabular(), np.random.default_rng(4), 4000)
    assert th.std() == pytest.approx(0.1, rel=0.05)


def test_kl_sum_against_direct_formula_and_saturation():
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    p, q = 1 / (1 + np.exp(-a)), 1 / (1 + np.exp(-b))
    direct = (p * np.log(p / q) + (1 - p) * np.log((1 - p) / (1 - q))).sum(-1)
    np.testing.assert_allclose(kl_sum(a, b), direct, rtol=1e-10)
    assert np.isfinite(kl_sum(np.full(5, 60.0), np.full(5, -60.0)))  # saturated: no NaN/inf trap
    check_grads(lambda x: np.sum(kl_sum(a, x)), modes=["rev"], order=2)(b)


@pytest.mark.parametrize("fam", [Tabular(), Precond(), NeuralNet(4), NeuralNet(3, extra_layers=2)])
def test_logits_vjp_matches_autograd(fam):
    from autograd import grad

    from pola_nb.generics import logits_vjp

    rng = np.random.default_rng(6)
    theta = init_params(fam, rng, 3) + 0.1 * rng.normal(size=(3, n_params(fam)))
    g = rng.normal(size=(3, 5))
    expected = grad(lambda th: np.sum(g * logits(fam, th)))(theta)
    np.testing.assert_allclose(logits_vjp(fam, theta, g), expected, rtol=1e-10, atol=1e-12)
