"""Learners on the exact IPD against finite differences and invariances."""

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad
from autograd.test_util import check_grads

from pola_nb import IPDExact, exact_values
from pola_nb.exact.learners import ExactLearner, Side, fit_model, lola, naive, outer_objective, outer_pola, update
from pola_nb.exact.params import NeuralNet, Tabular, probs
from pola_nb.exact.run import run_exact, tft_like
from pola_nb.generics import init_params, logits

GAME = IPDExact(cf=1.33)
SIG = lambda x: 1 / (1 + anp.exp(-x))  # noqa: E731


def v(th1, th2, k):
    return exact_values(GAME, SIG(th1), SIG(th2))[k]


def fd_grad(f, x, eps=1e-6):
    out = np.zeros_like(x)
    for i in range(x.size):
        d = np.zeros_like(x)
        d.flat[i] = eps
        out.flat[i] = (f(x + d) - f(x - d)) / (2 * eps)
    return out


def stacked_update(learner, th1, th2, family=Tabular()):
    theta = np.stack([th1, th2])
    opp = Side(family, theta[::-1].copy())
    new, it = update(learner, IPDExact(cf=np.full(2, 1.33)), Side(family, theta), opp, np.array([False, True]))
    return new[0], new[1], it


def test_lola_update_matches_finite_differences_through_the_lookahead():
    rng = np.random.default_rng(0)
    th1, th2 = rng.normal(size=5), rng.normal(size=5)
    eta, alpha = 0.7, 0.3
    # Reference: opponent lookahead with autograd's first-order gradient, learner gradient by finite
    # differences of the looked-ahead loss (so the dependence of the lookahead on the learner is included).
    look2 = lambda a, b: b - eta * grad(lambda y: -v(a, y, 1))(b)  # noqa: E731
    look1 = lambda b, a: a - eta * grad(lambda y: -v(y, b, 0))(a)  # noqa: E731
    ref1 = th1 - alpha * fd_grad(lambda x: -v(x, look2(x, th2), 0), th1)
    ref2 = th2 - alpha * fd_grad(lambda y: -v(look1(y, th1), y, 1), th2)
    new1, new2, _ = stacked_update(lola(eta, alpha), th1, th2)
    np.testing.assert_allclose(new1, ref1, atol=1e-7)
    np.testing.assert_allclose(new2, ref2, atol=1e-7)
    # the shaping term matters: naive learning gives a different step
    naive1 = th1 - alpha * fd_grad(lambda x: -v(x, th2, 0), th1)
    assert np.abs(naive1 - ref1).max() > 1e-3
    np.testing.assert_allclose(stacked_update(naive(alpha), th1, th2)[0], naive1, atol=1e-7)


def test_inner_steps_chain_with_kl():
    rng = np.random.default_rng(1)
    th1, th2 = rng.normal(size=5), rng.normal(size=5)
    eta, beta, alpha = 0.4, 2.0, 0.2
    ref_logits = th2.copy()

    def kl(a, b):
        p, q = SIG(a), SIG(b)
        return anp.sum(p * anp.log(p / q) + (1 - p) * anp.log((1 - p) / (1 - q)))

    def lookahead_ref(x):  # three chained, KL-penalised steps of agent 2, written out directly
        y = th2
        for _ in range(3):
            y = y - eta * grad(lambda z: -v(x, z, 1) + beta * kl(ref_logits, z))(y)
        return y

    ref1 = th1 - alpha * fd_grad(lambda x: -v(x, lookahead_ref(x), 0), th1, eps=1e-5)
    learner = ExactLearner(lr_out=alpha, lr_in=eta, lookahead_steps=3, beta_in=beta)
    np.testing.assert_allclose(stacked_update(learner, th1, th2)[0], ref1, atol=1e-6)


def test_outer_objective_second_order_gradients():
    rng = np.random.default_rng(2)
    fam = NeuralNet(3)
    th = init_params(fam, rng, 2)
    learner = ExactLearner(lr_out=0.1, lr_in=0.3, lookahead_steps=2, beta_in=1.0, beta_out=2.0).rows(2)
    me = Side(fam, th)
    obj = outer_objective(learner, IPDExact(cf=np.full(2, 1.4)), me, Side(fam, th[::-1].copy()),
                          np.array([False, True]))
    check_grads(obj, modes=["rev"], order=2)(th + 0.1)


def test_agent_swap_symmetry():
    """Relabelling the agents (and swapping states DC <-> CD) must mirror the update exactly."""
    rng = np.random.default_rng(3)
    th1, th2 = rng.normal(size=5), rng.normal(size=5)
    perm = [0, 2, 1, 3, 4]
    for learner in (lola(1.0, 0.5), outer_pola(1.0, 0.3, 0.1)):
        a1, a2, _ = stacked_update(learner, th1, th2)
        b1, b2, _ = stacked_update(learner, th2[perm], th1[perm])
        np.testing.assert_allclose(b1, a2[perm], atol=1e-10)
        np.testing.assert_allclose(b2, a1[perm], atol=1e-10)


def test_outer_pola_solves_the_proximal_problem():
    rng = np.random.default_rng(4)
    th1, th2 = rng.normal(size=5), rng.normal(size=5)
    learner = outer_pola(2.0, 0.2, 0.5)
    new1, new2, iters = stacked_update(learner, th1, th2)
    assert (iters > 10).all() and (iters < 5000).all()
    start = np.stack([th1, th2])
    obj = outer_objective(learner.rows(2), IPDExact(cf=np.full(2, 1.33)), Side(Tabular(), start),
                          Side(Tabular(), start[::-1].copy()), np.array([False, True]))
    g_start = np.abs(grad(obj)(start)).max()
    g_end = np.abs(grad(obj)(np.stack([new1, new2]))).max()
    # The stopping rule (KL between consecutive iterates < 1e-8, step = lr * g) leaves a gradient of
    # order sqrt(8e-8) / lr / sqrt(p (1 - p)) ~ 1e-3 per coordinate; far below the starting gradient.
    assert g_end < 5e-3 < 1e-2 * g_start


def test_figure1_claim_pola_is_parameterisation_invariant_lola_is_not():
    out = {}
    for net in ("nn1", "nn2"):
        fam = NeuralNet(2, init=net)
        th = init_params(fam, np.random.default_rng(0), 1)
        for name, learner in (("lola", lola(0.2, 0.05)), ("pola", outer_pola(0.2, 0.005, 5.0))):
            out[name, net] = run_exact(GAME, fam, learner, 1, th, th.copy()).probs[-1, 0]
    assert np.abs(out["pola", "nn1"] - out["pola", "nn2"]).max() < 0.03
    assert np.abs(out["lola", "nn1"] - out["lola", "nn2"]).max() > 0.03
    q1 = out["pola", "nn1"][0]  # reciprocity: cooperate less after agent 2 defected (DD, CD)
    assert max(q1[0], q1[2]) < 0.4 and min(q1[1], q1[3]) > 0.5


def test_lola_tabular_large_steps_stay_finite_and_find_tft():
    """The NaN trap of the official code (KL term with beta 0 on saturated policies) must not occur."""
    fam = Tabular()
    rng = np.random.default_rng(1)
    th1, th2 = init_params(fam, rng, 5), init_params(fam, rng, 5)
    hist = run_exact(IPDExact(cf=1.6), fam, lola(3, 25), 30, th1, th2)
    assert np.isfinite(hist.probs).all()
    assert hist.found_tft.all()


def test_fit_model_reaches_tolerance():
    rng = np.random.default_rng(5)
    target = rng.normal(size=(3, 5))
    for fam in (Tabular(), NeuralNet(8)):
        theta, iters = fit_model(Side(fam, init_params(fam, rng, 3)), target, lr=0.2, tol=1e-7)
        p, q = SIG(target), probs(fam, theta)
        kl = (p * np.log(p / q) + (1 - p) * np.log((1 - p) / (1 - q))).sum(-1)
        assert (kl <= 1e-7).all() and (iters > 0).all()


def test_exact_tabular_opponent_model_reproduces_plain_lola():
    rng = np.random.default_rng(6)
    fam = Tabular()
    th1, th2 = init_params(fam, rng, 3), init_params(fam, rng, 3)
    om = init_params(fam, rng, 6)
    plain = run_exact(GAME, fam, lola(1.0, 0.5), 3, th1, th2)
    with_om = run_exact(GAME, fam, lola(1.0, 0.5), 3, th1, th2, om_family=fam, om_theta=om)
    np.testing.assert_allclose(with_om.probs, plain.probs, atol=1e-3)
    assert (with_om.om_iterations[0] > 0).all()


def test_tft_criterion_on_hand_built_policies():
    g = IPDExact(cf=1.33)
    tft1 = np.array([0.0, 1.0, 0.0, 1.0, 1.0])  # agent 1 copies agent 2's last action
    tft2 = np.array([0.0, 0.0, 1.0, 1.0, 1.0])  # agent 2 copies agent 1's last action
    allc = np.ones(5)
    for q1, q2, expected in ((tft1, tft2, True), (allc, allc, False), (tft1, tft1, False)):
        v1, v2 = exact_values(g, q1, q2)
        assert bool(tft_like(q1, q2, v1, v2, g.max_value)) is expected


def test_logits_dispatch_rejects_unknown_family():
    with pytest.raises(Exception, match="logits"):
        logits(object(), np.zeros(5))
