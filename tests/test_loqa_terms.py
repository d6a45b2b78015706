"""LOQA loss terms against independent references: closed-form gradients, finite differences, exact
enumeration of a small IPD, and the exact Bellman solution of a frozen IPD pair."""

from __future__ import annotations

import itertools

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad
from autograd.tracer import getval

from pola_nb.sampled import tree
from pola_nb.sampled.loqa_terms import (
    OpponentBatch,
    actor_loss,
    argmax_targets,
    huber,
    opponent_model_log_prob,
    opponent_q_hat,
    opponent_return,
    policy_values,
    q_loss,
    sarsa_targets,
    shaping_loss,
    td0_advantages,
)

F32 = np.float32


def _softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _log_softmax(x):
    """Differentiable log-softmax written here (independent of the package)."""
    s = x - np.max(getval(x), axis=-1, keepdims=True)
    return s - anp.log(anp.sum(anp.exp(s), axis=-1, keepdims=True))


def _taken(table, actions):
    return anp.sum(table * np.eye(table.shape[-1], dtype=table.dtype)[actions], axis=-1)


def _rtg(r, gamma):
    """Reward-to-go by explicit double loop."""
    T = r.shape[0]
    return np.array([sum(gamma ** (u - t) * r[u] for u in range(t, T)) for t in range(T)])


def _random_batch(seed, T=6, B=3, A=3):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((T, B, A))
    actions = rng.integers(0, A, (T, B))
    G = rng.standard_normal((T, B)).astype(F32)
    V = rng.standard_normal((T, B)).astype(F32)
    return logits, actions, G, V


# ----------------------------------------------------------------------------------------------
# 1. the differentiable opponent return


def test_opponent_return_value_and_gradient_closed_form():
    gamma, lam = 0.9, 0.7
    logits, actions, G, V = _random_batch(0)
    T, B, A = logits.shape
    r_tilde = opponent_return(_taken(_log_softmax(logits), actions), G, V, gamma, lam)
    np.testing.assert_array_equal(np.asarray(r_tilde, F32), G)  # every d_k is exactly 0
    pi = _softmax(logits)
    score = np.eye(A)[actions] - pi  # d log pi(a_k) / d logits_k
    for t, b in itertools.product(range(T), range(B)):
        f = lambda lg, t=t, b=b: opponent_return(_taken(_log_softmax(lg), actions), G, V, gamma, lam)[t, b]  # noqa: E731
        want = np.zeros_like(logits)
        for k in range(t, T):
            want[k, b] = (gamma * lam) ** (k - t) * (G[k, b] - V[k, b]) * score[k, b]
        np.testing.assert_allclose(grad(f)(logits), want, rtol=1e-5, atol=1e-6)


def test_q_hat_value_and_no_gradient_through_the_simultaneous_action():
    gamma, lam = 0.95, 0.9
    rng = np.random.default_rng(1)
    T, B = 5, 4
    r = rng.standard_normal((T, B)).astype(F32)
    G = _rtg(r, gamma).astype(F32)
    V = rng.standard_normal((T, B)).astype(F32)
    lp = np.log(rng.uniform(0.1, 0.9, (T, B)))

    def q_hat(lp_, current=False):
        return opponent_q_hat(opponent_return(lp_, G, V, gamma, lam), r, gamma, current)

    np.testing.assert_allclose(np.asarray(q_hat(lp)), G, rtol=1e-5, atol=1e-5)  # forward value is G
    for t, b in itertools.product(range(T), range(B)):
        g = grad(lambda x, t=t, b=b: q_hat(x)[t, b])(lp)
        assert abs(g[t, b]) < 1e-6  # the agent's simultaneous action a_t (zero up to telescoping round-off)
        want = np.zeros((T, B))
        for k in range(t + 1, T):  # d Q^_t / d logp_k = gamma (gamma lam)^(k-t-1) (G_k - V_k)
            want[k, b] = gamma * (gamma * lam) ** (k - t - 1) * (G[k, b] - V[k, b])
        np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-6)
        if t == T - 1:
            assert np.all(np.abs(g) < 1e-6)
        # current_reward=True: Q^_t = R~_t includes the step's own action
        g_cur = grad(lambda x, t=t, b=b: q_hat(x, True)[t, b])(lp)
        assert g_cur[t, b] == pytest.approx(G[t, b] - V[t, b], rel=1e-5)


# ----------------------------------------------------------------------------------------------
# 2. the opponent model's softmax factor


@pytest.mark.parametrize("tau", [1.0, 0.6])
def test_opponent_model_softmax_factor_finite_differences(tau):
    rng = np.random.default_rng(2)
    T, B, A = 3, 2, 4
    q_opp = rng.standard_normal((T, B, A)).astype(F32)
    acts = rng.integers(0, A, (T, B))
    q_hat = rng.standard_normal((T, B))
    # the reference model: overwrite the taken logit, softmax at temperature tau
    z = q_opp.astype(np.float64).copy()
    z[np.arange(T)[:, None], np.arange(B)[None], acts] = q_hat
    pi_hat = _softmax(z / tau)
    p_taken = np.take_along_axis(pi_hat, acts[..., None], -1)[..., 0]
    for stop in (False, True):
        np.testing.assert_allclose(opponent_model_log_prob(q_opp, q_hat, acts, tau, stop), np.log(p_taken), rtol=1e-5)

    # central differences of the forward function, one entry of Q^ at a time
    h = 1e-5
    fd = np.zeros((T, B))
    for t, b in itertools.product(range(T), range(B)):
        e = np.zeros((T, B))
        e[t, b] = h
        up = opponent_model_log_prob(q_opp, q_hat + e, acts, tau)
        dn = opponent_model_log_prob(q_opp, q_hat - e, acts, tau)
        fd[t, b] = (up[t, b] - dn[t, b]) / (2 * h)
        # the derivative is diagonal: other entries do not move
        np.testing.assert_array_equal(np.delete(up.ravel(), t * B + b), np.delete(dn.ravel(), t * B + b))
    np.testing.assert_allclose(fd, (1.0 - p_taken) / tau, rtol=1e-4)
    # the normaliser log sum exp(z / tau) = Q^ / tau - log pi^(b) has slope pi^(b) / tau ...
    fd_norm = 1.0 / tau - fd
    np.testing.assert_allclose(fd_norm, p_taken / tau, rtol=1e-4)

    def g(stop):
        return grad(lambda q: anp.sum(opponent_model_log_prob(q_opp, q, acts, tau, stop)))(q_hat)

    np.testing.assert_allclose(g(False), fd, rtol=1e-4)
    # ... and stopping it adds that slope back: d/dQ^ = 1 / tau
    np.testing.assert_allclose(g(True), fd + fd_norm, rtol=1e-4)
    np.testing.assert_allclose(g(True), 1.0 / tau, rtol=1e-6)


# ----------------------------------------------------------------------------------------------
# small pieces against hand computations


def test_td0_policy_values_actor_loss_by_hand():
    rng = np.random.default_rng(4)
    T, B, A, gamma, beta = 4, 3, 2, 0.9, 0.3
    logits = rng.standard_normal((T + 1, B, A))
    q = rng.standard_normal((T + 1, B, A))
    r = rng.standard_normal((T, B)).astype(F32)
    acts = rng.integers(0, A, (T, B))
    pi = _softmax(logits)
    v_ref = (pi * q).sum(-1)
    np.testing.assert_allclose(policy_values(np.log(pi), q), v_ref, rtol=1e-6)
    adv_ref = np.array([[r[t, b] + gamma * v_ref[t + 1, b] - v_ref[t, b] for b in range(B)] for t in range(T)])
    np.testing.assert_allclose(td0_advantages(r, v_ref, gamma), adv_ref, rtol=1e-5, atol=1e-6)

    # loss value: -mean log pi(a) A - beta mean H
    lp = np.log(pi[:T])
    want = 0.0
    for t, b in itertools.product(range(T), range(B)):
        want += -lp[t, b, acts[t, b]] * adv_ref[t, b] + beta * np.sum(pi[t, b] * lp[t, b])
    assert actor_loss(lp, acts, adv_ref, beta) == pytest.approx(want / (T * B), rel=1e-5)

    def loss(lg, stop):
        lpt = _log_softmax(lg)
        adv = td0_advantages(r, policy_values(lpt, q), gamma, stop_gradient=stop)
        return actor_loss(lpt[:T], acts, adv, beta)

    # with the stop, the gradient w.r.t. the step-T logits is zero (they only enter V_T); without it
    # d/dlogits_T = -(1/TB) log pi(a_{T-1}) gamma dV_T, dV_T = pi (q - V_T)
    g_stop, g_live = grad(loss)(logits, True), grad(loss)(logits, False)
    assert np.all(g_stop[T] == 0)
    dv_T = pi[T] * (q[T] - v_ref[T][:, None])
    lp_last = np.take_along_axis(lp[T - 1], acts[T - 1][:, None], -1)
    np.testing.assert_allclose(g_live[T], -lp_last * gamma * dv_T / (T * B), rtol=1e-4, atol=1e-7)


def test_huber_q_loss_and_targets_by_hand():
    x = np.array([-3.0, -1.0, -0.5, 0.0, 0.2, 1.0, 2.5])
    np.testing.assert_allclose(huber(x), [2.5, 0.5, 0.125, 0.0, 0.02, 0.5, 2.0])
    np.testing.assert_allclose(huber(x, 2.0), [4.0, 0.5, 0.125, 0.0, 0.02, 0.5, 3.0])
    q, y = np.array([[1.0, -2.0], [0.5, 3.0]]), np.array([[0.0, 0.0], [0.0, 0.0]])
    assert q_loss(q, y) == pytest.approx((0.5 + 1.5 + 0.125 + 2.5) / 4)
    # targets are constants: the gradient w.r.t. y is zero, w.r.t. q it is clip(q - y, +-1) / n
    with pytest.warns(UserWarning, match="independent of input"):
        assert np.all(grad(lambda yy: q_loss(q, yy))(y) == 0)
    np.testing.assert_allclose(grad(lambda qq: q_loss(qq, y))(q), np.clip(q - y, -1, 1) / 4)

    r = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], F32)
    q_next = np.array([[10.0, 20.0], [30.0, 40.0]], F32)
    v_last = np.array([100.0, 200.0], F32)
    np.testing.assert_allclose(sarsa_targets(r, q_next, v_last, 0.5),
                               [[6.0, 12.0], [18.0, 24.0], [55.0, 106.0]])
    with pytest.raises(ValueError):
        sarsa_targets(r, r, v_last, 0.5)
    tab = np.array([[[1.0, 3.0], [2.0, -1.0]], [[0.0, 0.0], [5.0, 4.0]], [[-1.0, -2.0], [7.0, 8.0]]], F32)
    np.testing.assert_allclose(argmax_targets(r, tab, 0.5), [[2.5, 3.0], [3.0, 6.5], [4.5, 10.0]])


def test_clip_by_global_norm_and_ema_by_hand():
    t = {"a": np.array([3.0, 0.0], F32), "b": {"c": np.array([[4.0]], F32)}}
    clipped, norm = tree.clip_by_global_norm(t, 1.0)
    assert norm == pytest.approx(5.0)
    np.testing.assert_allclose(clipped["a"], [0.6, 0.0], rtol=1e-6)
    np.testing.assert_allclose(clipped["b"]["c"], [[0.8]], rtol=1e-6)
    same, norm = tree.clip_by_global_norm(t, 10.0)
    assert norm == pytest.approx(5.0)
    np.testing.assert_array_equal(same["a"], t["a"])
    np.testing.assert_array_equal(same["b"]["c"], t["b"]["c"])
    assert same["a"].dtype == np.float32
    online = {"a": np.array([1.0, 2.0], F32), "b": {"c": np.array([[0.0]], F32)}}
    new = tree.ema(t, online, 0.99)
    np.testing.assert_allclose(new["a"], [0.99 * 3 + 0.01 * 1, 0.01 * 2], rtol=1e-6)
    np.testing.assert_allclose(new["b"]["c"], [[0.99 * 4]], rtol=1e-6)
    assert new["a"].dtype == np.float32


def test_float32_in_float32_out():
    rng = np.random.default_rng(9)
    T, B, A = 4, 3, 2
    logits = rng.standard_normal((T + 1, B, A)).astype(F32)
    q = rng.standard_normal((T + 1, B, A)).astype(F32)
    r = rng.standard_normal((T, B)).astype(F32)
    acts = rng.integers(0, A, (T, B))
    opp = OpponentBatch(rewards=r, values=r[::-1].copy(), q=q[:T], actions=acts)

    def loss(lg):
        lp = _log_softmax(lg)
        adv = td0_advantages(r, policy_values(lp, q), 0.96)
        l_os = shaping_loss("loaded-dice", _taken(lp[:T], acts), adv, opp, 0.96, 0.9)
        return actor_loss(lp[:T], acts, adv, 0.1) + l_os

    assert np.asarray(loss(logits)).dtype == np.float32
    assert grad(loss)(logits).dtype == np.float32


# ----------------------------------------------------------------------------------------------
# 6. the shaping losses' gradients in closed form


def _shaping_setup(seed, T=7, B=3):
    gamma, lam = 0.9, 0.8
    rng = np.random.default_rng(seed)
    r_opp = rng.standard_normal((T, B)).astype(F32)
    v_opp = rng.standard_normal((T, B)).astype(F32)
    adv = rng.standard_normal((T, B)).astype(F32)
    lp = np.log(rng.uniform(0.1, 0.9, (T, B)))
    return gamma, lam, r_opp, v_opp, adv, lp, _rtg(r_opp, gamma)


def test_loaded_aa_gradient_is_the_advantage_alignment_form():
    gamma, lam, r_opp, v_opp, adv, lp, G = _shaping_setup(5)
    T, B = adv.shape
    opp = OpponentBatch(rewards=r_opp, values=v_opp)
    g = grad(lambda x: shaping_loss("loaded-aa", x, adv, opp, gamma, lam))(lp)
    want = np.zeros((T, B))
    for b, k in itertools.product(range(B), range(T)):
        past = sum((gamma * lam) ** (k - 1 - t) * adv[t, b] for t in range(k))
        want[k, b] = -gamma * past * (G[k, b] - v_opp[k, b]) / (T * B)
    np.testing.assert_allclose(g, want, rtol=1e-4, atol=1e-7)
    assert shaping_loss("loaded-aa", lp, adv, opp, gamma, lam) == pytest.approx(-np.mean(G * adv), rel=1e-4)


def test_loaded_ios_gradient_closed_form():
    gamma, lam, r_opp, v_opp, adv, lp, G = _shaping_setup(6)
    T, B = adv.shape
    opp = OpponentBatch(rewards=r_opp, values=v_opp)
    g = grad(lambda x: shaping_loss("loaded-ios", x, adv, opp, gamma, lam))(lp)
    pos = G - v_opp > 0
    assert 0 < pos.sum() < pos.size
    want = np.zeros((T, B))
    for b, k in itertools.product(range(B), range(T)):
        past = sum((gamma * lam) ** (k - t) * adv[t, b] for t in range(k + 1) if pos[t, b])
        want[k, b] = -past * (G[k, b] - v_opp[k, b]) / (T * B)
    np.testing.assert_allclose(g, want, rtol=1e-4, atol=1e-7)


def test_loaded_dice_gradient_closed_form():
    gamma, lam, r_opp, v_opp, adv, lp, G = _shaping_setup(7)
    T, B = adv.shape
    rng = np.random.default_rng(8)
    q_opp = rng.standard_normal((T, B, 3)).astype(F32)
    b_opp = rng.integers(0, 3, (T, B))
    tau = 0.7
    z = q_opp.astype(np.float64).copy()
    z[np.arange(T)[:, None], np.arange(B)[None], b_opp] = G  # forward Q^ = G
    p_taken = np.take_along_axis(_softmax(z / tau), b_opp[..., None], -1)[..., 0]
    opp = OpponentBatch(rewards=r_opp, values=v_opp, q=q_opp, actions=b_opp)
    for stop in (False, True):
        g = grad(lambda x, s=stop: shaping_loss("loaded-dice", x, adv, opp, gamma, lam, tau, s))(lp)
        factor = np.ones((T, B)) / tau if stop else (1 - p_taken) / tau
        want = np.zeros((T, B))
        for b, k in itertools.product(range(B), range(T)):
            past = sum(factor[t, b] * (gamma * lam) ** (k - 1 - t) * adv[t, b] for t in range(k))
            want[k, b] = -gamma * past * (G[k, b] - v_opp[k, b]) / (T * B)
        np.testing.assert_allclose(g, want, rtol=1e-4, atol=1e-7)
    with pytest.raises(ValueError):
        shaping_loss("loaded-dice", lp, adv, OpponentBatch(rewards=r_opp, values=v_opp), gamma, lam)
    with pytest.raises(ValueError):
        shaping_loss("dice", lp, adv, opp, gamma, lam)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------------------
# IPD with memory-one tables (states: 0 start, 1 + 2 own + other for the previous joint action,
# action 0 = C, 1 = D), written independently of the package's games.

PAY = np.array([[-1.0, -3.0], [0.0, -2.0]])  # PAY[own, other]


def _next_state(own, other):
    return 1 + 2 * own + other


def _ipd_tables(seed):
    rng = np.random.default_rng(seed)
    theta = rng.normal(0.0, 0.8, (5, 2))  # agent logits
    phi = rng.normal(0.0, 0.8, (5, 2))  # opponent logits
    q_i = rng.normal(-3.0, 1.0, (5, 2))
    q_j = rng.normal(-3.0, 1.0, (5, 2))
    return theta, phi, q_i, q_j


def _exact_expected_gradient(theta, phi, q_i, q_j, T, gamma, lam, tau, beta, stop):
    """sum over all 4^T joint trajectories of P(traj) x (closed-form per-trajectory gradient)."""
    pi, pj = _softmax(theta), _softmax(phi)
    v_i, v_j = (pi * q_i).sum(1), (pj * q_j).sum(1)
    ent = -(pi * np.log(pi)).sum(1)

    def e_s(s, vec):
        out = np.zeros((5, 2))
        out[s] = vec
        return out

    total = np.zeros((5, 2))
    for traj in itertools.product(range(2), repeat=2 * T):
        a, b = traj[0::2], traj[1::2]
        s, sj = [0], [0]
        for t in range(T):
            s.append(_next_state(a[t], b[t]))
            sj.append(_next_state(b[t], a[t]))
        prob = np.prod([pi[s[t], a[t]] * pj[sj[t], b[t]] for t in range(T)])
        r = np.array([PAY[a[t], b[t]] for t in range(T)])
        rj = np.array([PAY[b[t], a[t]] for t in range(T)])
        gj = np.array([sum(gamma ** (u - t) * rj[u] for u in range(t, T)) for t in range(T)])
        vj = np.array([v_j[sj[t]] for t in range(T)])
        adv = np.array([r[t] + gamma * v_i[s[t + 1]] - v_i[s[t]] for t in range(T)])
        g_logp = [e_s(s[t], np.eye(2)[a[t]] - pi[s[t]]) for t in range(T)]
        g_v = [e_s(s[t], pi[s[t]] * (q_i[s[t]] - v_i[s[t]])) for t in range(T + 1)]
        g = np.zeros((5, 2))
        for t in range(T):
            g_adv = np.zeros((5, 2)) if stop else gamma * g_v[t + 1] - g_v[t]
            logp = np.log(pi[s[t], a[t]])
            g_ent = e_s(s[t], -pi[s[t]] * (np.log(pi[s[t]]) + ent[s[t]]))
            # opponent model: logits q_j with the taken entry replaced by the forward value of Q^ (= G^j_t)
            z = q_j[sj[t]].copy()
            z[b[t]] = gj[t]
            p_hat = _softmax(z / tau)[b[t]]
            g_qhat = sum(gamma * (gamma * lam) ** (k - t - 1) * (gj[k] - vj[k]) * g_logp[k] for k in range(t + 1, T))
            g_model = (1 - p_hat) / tau * g_qhat
            g += -g_logp[t] * adv[t] - logp * g_adv - beta * g_ent - g_model * adv[t] - np.log(p_hat) * g_adv
        total += prob * g / T
    return total


def _sampled_gradients(theta, phi, q_i, q_j, T, gamma, lam, tau, beta, stop, n_chunks, chunk, seed):
    """Mean surrogate gradient of each chunk of episodes sampled here, computed with the package's losses."""
    rng = np.random.default_rng(seed)
    pi, pj = _softmax(theta), _softmax(phi)
    out = []
    for _ in range(n_chunks):
        s = np.zeros((T + 1, chunk), np.int64)
        sj = np.zeros((T, chunk), np.int64)
        a = np.zeros((T, chunk), np.int64)
        b = np.zeros((T, chunk), np.int64)
        for t in range(T):
            a[t] = rng.random(chunk) < pi[s[t], 1]
            b[t] = rng.random(chunk) < pj[sj[t], 1]
            s[t + 1] = _next_state(a[t], b[t])
            if t + 1 < T:
                sj[t + 1] = _next_state(b[t], a[t])
        r, rj = PAY[a, b].astype(F32), PAY[b, a].astype(F32)
        pj_s = pj[sj]
        opp = OpponentBatch(rewards=rj, values=(pj_s * q_j[sj]).sum(-1).astype(F32),
                            q=q_j[sj].astype(F32), actions=b)
        q_s = q_i[s].astype(F32)

        def loss(th, s=s, a=a, r=r, opp=opp, q_s=q_s):
            lp = _log_softmax(th[s])
            adv = td0_advantages(r, policy_values(lp, q_s), gamma, stop_gradient=stop)
            l_os = shaping_loss("loaded-dice", _taken(lp[:T], a), adv, opp, gamma, lam, tau)
            return actor_loss(lp[:T], a, adv, beta) + l_os

        out.append(grad(loss)(theta.astype(F32)))
    return np.array(out)


@pytest.mark.parametrize("T,stop", [(2, False), (3, True)])
def test_loqa_surrogate_unbiased_by_enumeration(T, stop):
    gamma, lam, tau, beta = 0.9, 0.8, 0.7, 0.3
    theta, phi, q_i, q_j = _ipd_tables(10)
    exact = _exact_expected_gradient(theta, phi, q_i, q_j, T, gamma, lam, tau, beta, stop)
    g = _sampled_gradients(theta, phi, q_i, q_j, T, gamma, lam, tau, beta, stop, 40, 25_000, seed=11)
    est, se = g.mean(0), g.std(0, ddof=1) / np.sqrt(len(g))
    assert np.all(se < 0.02 * np.abs(exact).max())  # the comparison has power
    assert np.all(np.abs(est - exact) < 4 * se + 1e-6), (est, exact, se)


# ----------------------------------------------------------------------------------------------
# 4. SARSA with an EMA target reaches the exact Q of a frozen pair


def test_sarsa_q_learning_fixed_point():
    """Huber regression with delta = 1 estimates a mean only while the TD errors stay inside +-1 (beyond, it
    leans towards the median), so the payoffs are scaled by 1/4 to keep the fixed point equal to Q^pi."""
    gamma, T, B, keep = 0.8, 8, 128, 0.9
    pay = PAY / 4
    rng = np.random.default_rng(12)
    pi = _softmax(rng.normal(0.0, 0.6, (5, 2)))
    pj = _softmax(rng.normal(0.0, 0.6, (5, 2)))
    swap = np.array([0, 1, 3, 2, 4])  # the opponent sees (other, own) of the agent's state

    # exact: Q(s,a) = sum_b pj(b|swap s) [PAY(a,b) + gamma sum_a' pi(a'|s') Q(s',a')], s' = 1 + 2a + b
    n = 10
    P = np.zeros((n, n))
    rew = np.zeros(n)
    for s_, a_ in itertools.product(range(5), range(2)):
        for b_ in range(2):
            pb = pj[swap[s_], b_]
            rew[2 * s_ + a_] += pb * pay[a_, b_]
            s2 = _next_state(a_, b_)
            P[2 * s_ + a_, 2 * s2:2 * s2 + 2] += pb * pi[s2]
    q_exact = np.linalg.solve(np.eye(n) - gamma * P, rew).reshape(5, 2)

    params = {"q": np.zeros((5, 2), F32)}
    target = tree.copy(params)
    opt = tree.adam_init(params)
    for _ in range(1500):
        s = np.zeros((T + 1, B), np.int64)
        a = np.zeros((T, B), np.int64)
        r = np.zeros((T, B), F32)
        for t in range(T):
            a[t] = rng.random(B) < pi[s[t], 1]
            bb = (rng.random(B) < pj[swap[s[t]], 1]).astype(np.int64)
            s[t + 1] = _next_state(a[t], bb)
            r[t] = pay[a[t], bb]
        qt = target["q"]
        y = sarsa_targets(r, qt[s[1:T], a[1:]], (pi[s[T]] * qt[s[T]]).sum(-1), gamma)
        g = grad(lambda p, s=s, a=a, y=y: q_loss(p["q"][s[:T], a], y))(params)
        params, opt = tree.adam_step(params, g, opt, 0.05)
        target = tree.ema(target, params, keep)
    np.testing.assert_allclose(target["q"], q_exact, rtol=0.03)
