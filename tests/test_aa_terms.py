"""Advantage Alignment terms against explicit loops and closed-form PPO / policy gradients."""

from __future__ import annotations

import itertools

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad
from autograd.tracer import getval

from pola_nb.sampled.aa_terms import aa_advantages, aa_terms, approx_kl, mean_entropy, normalise, ppo_loss

F32 = np.float32


def _softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _taken_logp(logits, actions):
    s = logits - np.max(getval(logits), axis=-1, keepdims=True)
    lp = s - anp.log(anp.sum(anp.exp(s), axis=-1, keepdims=True))
    return anp.sum(lp * np.eye(logits.shape[-1])[actions], axis=-1)


def _advs(seed, T=6, B=4):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((T, B)).astype(F32), rng.standard_normal((T, B)).astype(F32)


def test_aa_terms_match_explicit_double_loop():
    a1, a2 = _advs(0)
    T, B = a1.shape
    gamma = 0.9
    disc, run = np.zeros((T, B)), np.zeros((T, B))
    for b, t in itertools.product(range(B), range(T)):
        for k in range(t):
            disc[t, b] += gamma * gamma ** (t - k) * a1[k, b] * a2[t, b]
            run[t, b] += a1[k, b] * a2[t, b] / t
    np.testing.assert_allclose(aa_terms(a1, a2, gamma, "discounted"), disc, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(aa_terms(a1, a2, gamma, "running-mean"), run, rtol=1e-5, atol=1e-6)
    assert np.all(aa_terms(a1, a2, gamma, "running-mean")[0] == 0)
    with pytest.raises(ValueError):
        aa_terms(a1, a2, gamma, "cumulative")  # type: ignore[arg-type]


def test_aa_advantages_and_normalisation():
    a1, a2 = _advs(1)
    gamma, beta = 0.95, 0.7
    n1 = (a1 - a1.mean()) / (np.sqrt(((a1 - a1.mean()) ** 2).sum() / (a1.size - 1)) + 1e-8)
    np.testing.assert_allclose(normalise(a1), n1, rtol=1e-5, atol=1e-6)
    assert normalise(a1).mean() == pytest.approx(0.0, abs=1e-6)
    n2 = normalise(a2)
    for form in ("discounted", "running-mean"):
        np.testing.assert_allclose(aa_advantages(a1, a2, beta, gamma, form),
                                   a1 + beta * aa_terms(a1, a2, gamma, form), rtol=1e-6)
        np.testing.assert_allclose(aa_advantages(a1, a2, beta, gamma, form, normalise=True),
                                   n1 + beta * aa_terms(n1, n2, gamma, form), rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(aa_advantages(a1, a2, 0.0, gamma, form), a1)


def _ppo_grad_reference(logp, logp_old, adv, clip):
    """d/dlogp of -mean min(rho A, clip(rho) A): -rho A / n unless the clipped branch is the active minimum."""
    rho = np.exp(logp - logp_old)
    clipped_active = ((adv > 0) & (rho > 1 + clip)) | ((adv < 0) & (rho < 1 - clip))
    return np.where(clipped_active, 0.0, -rho * adv / adv.size)


@pytest.mark.parametrize("form", ["discounted", "running-mean"])
def test_beta_zero_is_plain_ppo(form):
    rng = np.random.default_rng(2)
    a1, a2 = _advs(3)
    logp_old = np.log(rng.uniform(0.1, 0.9, a1.shape))
    logp = logp_old + rng.normal(0.0, 0.3, a1.shape)  # ratios on both sides of the clip range
    clip = 0.1
    ref = _ppo_grad_reference(logp, logp_old, a1, clip)
    assert np.any(ref == 0) and np.any(ref != 0)
    adv0 = aa_advantages(a1, a2, 0.0, 0.96, form)
    g0 = grad(lambda x: ppo_loss(x, logp_old, adv0, clip))(logp)
    np.testing.assert_allclose(g0, ref, rtol=1e-5, atol=1e-8)
    # beta > 0 changes it
    adv1 = aa_advantages(a1, a2, 1.0, 0.96, form)
    assert not np.allclose(grad(lambda x: ppo_loss(x, logp_old, adv1, clip))(logp), ref)
    # value: -mean min(rho A, clip(rho) A)
    rho = np.exp(logp - logp_old)
    want = -np.mean(np.minimum(rho * a1, np.clip(rho, 1 - clip, 1 + clip) * a1))
    assert ppo_loss(logp, logp_old, adv0, clip) == pytest.approx(want, rel=1e-5)


def test_log_ratio_clamp():
    """rho = exp(clamp(logp - logp_old, +-10)): beyond the clamp the ratio is e^10 and carries no gradient."""
    logp_old = np.log(np.array([[0.5, 0.5]]))
    logp = logp_old + np.array([[12.0, 3.0]])
    adv = np.array([[-1.0, -1.0]], F32)
    assert ppo_loss(logp, logp_old, adv, 0.2) == pytest.approx((np.exp(10.0) + np.exp(3.0)) / 2, rel=1e-5)
    np.testing.assert_allclose(grad(lambda x: ppo_loss(x, logp_old, adv, 0.2))(logp), [[0.0, np.exp(3.0) / 2]],
                               rtol=1e-5)


def test_ratio_one_gives_the_vanilla_policy_gradient():
    rng = np.random.default_rng(4)
    T, B, A = 5, 3, 4
    logits = rng.standard_normal((T, B, A))
    acts = rng.integers(0, A, (T, B))
    a1, a2 = _advs(5, T, B)
    adv = aa_advantages(a1, a2, 0.8, 0.9, "discounted", normalise=True)
    logp_old = _taken_logp(logits, acts)  # epoch one: old log-probs are the current values
    g = grad(lambda lg: ppo_loss(_taken_logp(lg, acts), logp_old, adv, 0.1))(logits)
    # vanilla policy gradient of -mean A* log pi(a): -(A* / n) (onehot(a) - pi)
    want = -(adv / adv.size)[..., None] * (np.eye(A)[acts] - _softmax(logits))
    np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("form", ["discounted", "running-mean"])
def test_sign_aligned_past_raises_the_probability_of_the_next_action(form):
    """A^1_0 > 0 and A^2_1 > 0: the aligned gradient raises log pi(a_1) more than the plain one."""
    a1 = np.array([[1.0], [0.2]], F32)
    a2 = np.array([[-0.3], [0.5]], F32)
    logp = np.log(np.array([[0.4], [0.6]]))

    def ascent(beta):  # -dL/dlogp: the change in log pi a gradient step makes
        adv = aa_advantages(a1, a2, beta, 0.9, form)
        return -grad(lambda x: ppo_loss(x, logp, adv, 0.2))(logp)

    assert ascent(1.0)[1, 0] > ascent(0.0)[1, 0] > 0
    assert ascent(1.0)[0, 0] == ascent(0.0)[0, 0]  # no past at t = 0


def test_approx_kl_and_entropy():
    old = np.log(np.array([[0.5, 0.2], [0.3, 0.9]]))
    new = np.log(np.array([[0.4, 0.25], [0.3, 0.8]]))
    assert approx_kl(old, new) == pytest.approx(np.mean(old - new))
    tab = np.log(np.array([[[0.5, 0.5], [0.9, 0.1]]]))
    assert mean_entropy(tab) == pytest.approx((np.log(2) - 0.9 * np.log(0.9) - 0.1 * np.log(0.1)) / 2)
