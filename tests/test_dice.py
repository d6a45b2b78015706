"""DiCE machinery  and the estimator check against exact derivatives."""

from __future__ import annotations

import json

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad

from pola_nb.sampled import dice, learners
from pola_nb.sampled.dice import dice_objective, gae_advantages, kl_mean, magic_box, value_loss
from pola_nb.sampled.estimator_check import check_estimator, state_values
from pola_nb.sampled.exact_memory_one import exact_objectives
from pola_nb.sampled.policies import log_softmax


def test_magic_box_value_and_derivatives():
    x = np.array([0.3, -1.2])
    assert np.allclose(magic_box(x), 1.0)
    f = lambda x: anp.sum(magic_box(x) * np.array([2.0, 3.0]))  # noqa: E731
    np.testing.assert_allclose(grad(f)(x), [2.0, 3.0])
    # second derivative of MB(x) is MB(x) (d/dx exp(x - c) = exp(x - c))
    g2 = grad(lambda x: grad(lambda y: anp.sum(magic_box(y)))(x)[0])(x)
    np.testing.assert_allclose(g2, [1.0, 0.0])


def test_gae_lambda_one_is_bootstrapped_monte_carlo():
    rng = np.random.default_rng(0)
    T, B, g = 6, 3, 0.9
    r = rng.standard_normal((T, B)).astype(np.float32)
    v = rng.standard_normal((T + 1, B)).astype(np.float32)
    adv = gae_advantages(r, v, g, 1.0)
    for t in range(T):
        mc = sum(g ** (u - t) * r[u] for u in range(t, T)) + g ** (T - t) * v[T] - v[t]
        np.testing.assert_allclose(adv[t], mc, rtol=1e-5, atol=1e-5)
    # lambda = 0: one-step TD errors
    np.testing.assert_allclose(gae_advantages(r, v, g, 0.0), r + g * v[1:] - v[:-1], rtol=1e-5, atol=1e-6)


def test_value_loss_literal():
    rng = np.random.default_rng(1)
    T, B, g = 5, 4, 0.96
    r = rng.standard_normal((T, B)).astype(np.float32)
    v = rng.standard_normal((T + 1, B)).astype(np.float32)
    want = 0.0
    for b in range(B):
        for t in range(T):
            target = sum(g ** (u - t) * r[u, b] for u in range(t, T)) + g ** (T - t) * v[T, b]
            want += (target - v[t, b]) ** 2
    assert value_loss(r, v, g) == pytest.approx(want / B, rel=1e-4)
    # the target is a constant: d/dV_T only through the -V_t terms, i.e. zero for V_T
    gv = grad(lambda vv: value_loss(r, vv, g))(v)
    assert np.all(gv[T] == 0)


def test_dice_objective_stop_gradients():
    """Values carry no policy gradient; the objective depends on both agents' log-probabilities."""
    rng = np.random.default_rng(2)
    T, B = 4, 3
    lp1, lp2 = (np.log(rng.uniform(0.2, 0.9, (T, B))).astype(np.float32) for _ in range(2))
    r = rng.standard_normal((T, B)).astype(np.float32)
    v = rng.standard_normal((T + 1, B)).astype(np.float32)
    f = lambda a, b, vv: dice_objective(a, b, r, vv, 0.96)  # noqa: E731
    assert np.all(grad(f, 2)(lp1, lp2, v) == 0)
    g1, g2 = grad(f, 0)(lp1, lp2, v), grad(f, 1)(lp1, lp2, v)
    np.testing.assert_allclose(g1, g2)  # symmetric dependency sum
    # d J / d logp_u = gamma^u A_u / B  (MB(c_t) - MB(c_{t-1}) telescopes to the step's own term)
    adv = gae_advantages(r, v, 0.96, 1.0) * (0.96 ** np.arange(T))[:, None]
    np.testing.assert_allclose(g1, adv / B, rtol=1e-5)
    # no baseline: d J / d logp_u = sum_{t >= u} gamma^t r_t / B
    g0 = grad(lambda a: dice_objective(a, lp2, r, v, 0.96, baseline=False))(lp1)
    rw = r * (0.96 ** np.arange(T))[:, None]
    np.testing.assert_allclose(g0, np.cumsum(rw[::-1], axis=0)[::-1] / B, rtol=1e-5)


def test_kl_directions():
    rng = np.random.default_rng(3)
    p, q = rng.dirichlet(np.ones(3), (2, 4)), rng.dirichlet(np.ones(3), (2, 4))
    lp, lq = np.log(p), np.log(q)
    np.testing.assert_allclose(kl_mean(lp, lq, "ref-current"), np.mean(np.sum(p * np.log(p / q), -1)))
    np.testing.assert_allclose(kl_mean(lp, lq, "current-ref"), np.mean(np.sum(q * np.log(q / p), -1)))
    assert kl_mean(lp, lp) == pytest.approx(0.0)
    # minimum at the reference, in both directions (through the softmax parameterisation)
    z = rng.standard_normal((2, 4, 3))
    for d in ("ref-current", "current-ref"):
        g = grad(lambda x, d=d: kl_mean(log_softmax(z), log_softmax(x), d))(z)
        assert np.allclose(g, 0.0, atol=1e-12)


def test_exact_dp_matches_closed_form_ipd():
    """With the infinite-horizon values as terminal bootstrap, the T-step DP equals the closed form
    of the exact IPD (pola_nb.exact) for every T."""
    from pola_nb.exact.game import IPDExact, exact_values

    rng = np.random.default_rng(4)
    tables = [rng.standard_normal((5, 2)) for _ in range(2)]
    q = [np.exp(t[:, 1]) / np.exp(t).sum(1) for t in tables]
    v1, v2 = exact_values(IPDExact(cf=1.33, gamma=0.96), q[0], q[1])
    vals = state_values(tables, 1.33, 0.96)
    np.testing.assert_allclose(vals[:, 4], [v1, v2], rtol=1e-10)
    for T in (1, 3, 50):
        np.testing.assert_allclose(exact_objectives(*tables, 1.33, 0.96, T, vals), [v1, v2], rtol=1e-10)


def test_exact_dp_matches_monte_carlo():
    from pola_nb.sampled.games import IPDHistory
    from pola_nb.sampled.policies import MemoryOneTable, PolicySampler
    from pola_nb.sampled.rollout import rollout

    rng = np.random.default_rng(5)
    tables = [(rng.standard_normal((5, 2))).astype(np.float32) for _ in range(2)]
    T, B = 8, 100_000
    players = [PolicySampler(MemoryOneTable(2), {"table": t}) for t in tables]
    traj = rollout(IPDHistory(cf=1.33, steps=T), players[0], players[1], B, seed=rng)
    mc = (traj.rewards * (0.96 ** np.arange(T))[:, None, None]).sum(0).mean(0)
    exact = exact_objectives(*[t.astype(np.float64) for t in tables], 1.33, 0.96, T)
    np.testing.assert_allclose(mc, exact, atol=0.01)


def test_estimator_matches_exact_derivatives():
    res = check_estimator(batch=2000, seed=0)
    assert res["grad_cosine"] >= 0.98
    assert res["lola_term_cosine"] >= 0.9


def test_estimator_check_detects_a_missing_dependency(monkeypatch):
    """Negative control: leaving the other agent's log-probabilities out of the magic box destroys the
    LOLA term (so the check above can fail)."""

    def broken(logp_self, logp_other, *a, **k):
        return dice.dice_objective(logp_self, 0.0 * logp_other, *a, **k)

    monkeypatch.setattr(learners, "dice_objective", broken)
    res = check_estimator(batch=2000, seed=0)
    assert res["grad_cosine"] >= 0.98  # first-order gradients do not need it
    assert not res["lola_term_cosine"] >= 0.5


def test_check_estimator_cli(capsys):
    from pola_nb.cli import main

    with pytest.raises(SystemExit) as e:
        main(["check-estimator", "--batch-size", "1000", "--seed", "1", "--json"])
    assert e.value.code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["grad_cosine"] >= 0.98 and out["lola_term_cosine"] >= 0.9
    with pytest.raises(SystemExit) as e:
        main(["check-estimator", "--batch-size", "-3"])
    assert e.value.code == 2


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(5))
def test_estimator_over_seeds(seed):
    res = check_estimator(batch=4000, seed=seed)
    assert res["grad_cosine"] >= 0.98 and res["lola_term_cosine"] >= 0.9
