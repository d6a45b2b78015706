"""Policies of the sampled games: initialisation, GRU equations, sampler = scorer, derivatives, dtype."""

from __future__ import annotations

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad
from autograd.test_util import check_grads

from pola_nb.generics import init_net, net_sequence
from pola_nb.ipd_rules import observed_states
from pola_nb.sampled.policies import (
    FeedForwardNet,
    GRUNet,
    MemoryOneTable,
    PolicySampler,
    make_architecture,
    policy_log_probs,
    taken,
    values,
)


def _obs(rng, T, B, n):
    return rng.random((T, B, n)).astype(np.float32)


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def _reference_gru(p, obs, layers):
    """The GRU policy written out literally, one step at a time, in float64."""
    p = {k: v.astype(np.float64) for k, v in p.items()}
    h = np.zeros((obs.shape[1], p["hr_w"].shape[0]))
    out = []
    for x in obs.astype(np.float64):
        x = np.maximum(x @ p["dense0_w"] + p["dense0_b"], 0)
        if layers == 2:
            x = x @ p["dense1_w"] + p["dense1_b"]
        r = _sig(x @ p["ir_w"] + p["ir_b"] + h @ p["hr_w"])
        z = _sig(x @ p["iz_w"] + p["iz_b"] + h @ p["hz_w"])
        n = np.tanh(x @ p["in_w"] + p["in_b"] + r * (h @ p["hn_w"] + p["hn_b"]))
        h = (1 - z) * n + z * h
        out.append(h @ p["head_w"] + p["head_b"])
    return np.stack(out)


@pytest.mark.parametrize("layers", [1, 2])
def test_gru_matches_spec_equations(layers):
    rng = np.random.default_rng(0)
    net = GRUNet(6, 2, hidden=8, layers_before_gru=layers)
    p = init_net(net, rng)
    # non-zero biases so that every term of the equations is exercised
    p = {k: (v + 0.1 * rng.standard_normal(v.shape)).astype(np.float32) for k, v in p.items()}
    obs = _obs(rng, 7, 5, 6)
    got = net_sequence(net, p, obs)
    assert got.dtype == np.float32 and got.shape == (7, 5, 2)
    np.testing.assert_allclose(got, _reference_gru(p, obs, layers), rtol=1e-4, atol=1e-5)


def test_flax_initialisation():
    rng = np.random.default_rng(1)
    net = GRUNet(36, 4, hidden=64, layers_before_gru=2)
    p = init_net(net, rng)
    assert all(v.dtype == np.float32 for v in p.values())
    for g in "rzn":
        w = p[f"h{g}_w"].astype(np.float64)
        np.testing.assert_allclose(w.T @ w, np.eye(64), atol=1e-5)  # orthogonal recurrent kernels
    for name, fan_in in [("dense0_w", 36), ("dense1_w", 64), ("ir_w", 64), ("head_w", 64)]:
        w = p[name]
        std = np.sqrt(1 / fan_in) / 0.87962566103423978
        assert np.abs(w).max() <= 2 * std + 1e-6  # truncated at 2 std of the underlying normal
        assert abs(w.std() * np.sqrt(fan_in) - 1.0) < 0.15  # variance 1 / fan_in
    for name in ("dense0_b", "dense1_b", "ir_b", "iz_b", "in_b", "hn_b", "head_b"):
        assert not p[name].any()
    assert set(p) >= {"hr_w", "hz_w", "hn_w"} and "hr_b" not in p  # flax GRUCell: no bias on W_hr, W_hz


@pytest.mark.parametrize("net", [GRUNet(6, 2, hidden=5), MemoryOneTable(2), FeedForwardNet(6, 2, hidden=5)])
def test_sampler_and_scorer_agree(net):
    rng = np.random.default_rng(2)
    p = init_net(net, rng)
    p = {k: (v + 0.3 * rng.standard_normal(v.shape)).astype(np.float32) for k, v in p.items()}
    obs = np.eye(6, dtype=np.float32)[rng.integers(0, 6, (9, 4))]
    s = PolicySampler(net, p)
    s.reset(4)
    stepped = np.stack([s.logits(o) for o in obs])
    np.testing.assert_allclose(stepped, net_sequence(net, p, obs), rtol=1e-5, atol=1e-6)


def test_sampler_draws_from_softmax():
    rng = np.random.default_rng(3)
    net = MemoryOneTable(4)
    p = {"table": np.tile(np.array([0.0, 1.0, -1.0, 0.5], np.float32), (5, 1))}
    s = PolicySampler(net, p)
    B = 200_000
    s.reset(B)
    obs = np.tile(np.array([0, 0, 1, 0, 0, 1], np.float32), (B, 1))
    a = s.act(obs, np.zeros(B, np.float32), rng.random(B, dtype=np.float32))
    freq = np.bincount(a, minlength=4) / B
    probs = np.exp(p["table"][0]) / np.exp(p["table"][0]).sum()
    np.testing.assert_allclose(freq, probs, atol=5e-3)


def test_memory_one_states():
    # [onehot3(a1), onehot3(a2)] with slots (D, C, start)
    obs = np.array([[1, 0, 0, 1, 0, 0], [1, 0, 0, 0, 1, 0], [0, 1, 0, 1, 0, 0], [0, 1, 0, 0, 1, 0],
                    [0, 0, 1, 0, 0, 1]], np.float32)
    np.testing.assert_array_equal(observed_states(obs), np.eye(5))


@pytest.mark.parametrize("layers", [1, 2])
def test_gru_second_order_derivatives(layers):
    """check_grads (reverse mode, order 2) in float64 through log-probs and values of a tiny GRU."""
    rng = np.random.default_rng(4)
    arch = make_architecture("gru", 6, 2, hidden=3, layers_before_gru=layers)
    params = arch.init(rng)
    params = {k: {n: (v + 0.2 * rng.standard_normal(v.shape)).astype(np.float64) for n, v in d.items()}
              for k, d in params.items()}
    obs = rng.random((5, 3, 6))
    acts = rng.integers(0, 2, (4, 3))

    def f(par):
        lp = taken(policy_log_probs(arch.policy, par["pol"], obs[:4]), acts)
        v = values(arch.value, par["val"], obs)
        return anp.sum(anp.cumsum(lp, axis=0) * anp.tanh(v[:4])) + anp.sum(v[4] ** 2)

    check_grads(f, modes=["rev"], order=2)(params)


def test_float32_is_preserved_through_second_order():
    rng = np.random.default_rng(5)
    net = GRUNet(6, 2, hidden=4)
    p = init_net(net, rng)
    obs = _obs(rng, 3, 2, 6)
    acts = rng.integers(0, 2, (3, 2))

    def f(q):
        return anp.mean(taken(policy_log_probs(net, q, obs), acts))

    def g(q):
        gr = grad(f)(q)
        return f({k: q[k] - 0.5 * gr[k] for k in q})

    assert np.asarray(f(p)).dtype == np.float32
    for v in grad(g)(p).values():
        assert v.dtype == np.float32


def test_fused_gru_equals_its_reference_twin_to_second_order():
    """Fast fused path == slow per-operation path: values, gradients and a nested (LOLA-like)
    derivative through an inner gradient step."""
    rng = np.random.default_rng(6)
    net = GRUNet(6, 3, hidden=5)
    p = {k: (v + 0.2 * rng.standard_normal(v.shape)).astype(np.float64) for k, v in init_net(net, rng).items()}
    q = {k: (v + 0.2 * rng.standard_normal(v.shape)).astype(np.float64) for k, v in init_net(net, rng).items()}
    obs = rng.random((6, 4, 6))
    acts = rng.integers(0, 3, (6, 4))
    w = rng.standard_normal((6, 4))

    def lp(par, ref):
        return taken(log_softmax_seq(net, par, obs, ref), acts)

    def inner(par_q, par_p, ref):
        return anp.sum(w * anp.cumsum(lp(par_q, ref) + lp(par_p, ref), axis=0) ** 2)

    def outer(par_p, ref):
        gq = grad(inner)(q, par_p, ref)
        q1 = {k: q[k] - 0.3 * gq[k] for k in q}
        return anp.sum(anp.tanh(lp(q1, ref) * lp(par_p, ref)))

    np.testing.assert_allclose(net_sequence(net, p, obs), net_sequence(net, p, obs, reference=True), rtol=1e-12)
    for f in (lambda a, ref: anp.sum(lp(a, ref) * w), outer):
        fast, slow = grad(f)(p, False), grad(f)(p, True)
        for k in p:
            np.testing.assert_allclose(fast[k], slow[k], rtol=1e-9, atol=1e-12, err_msg=k)


def log_softmax_seq(net, par, obs, reference):
    from pola_nb.sampled.policies import log_softmax

    return log_softmax(net_sequence(net, par, obs, reference=reference))


def test_a_recording_matches_parameters_that_were_unpickled():
    """Parameters as a Dask worker receives them (unpickled: float32 arrays whose dtype is an equal
    but distinct instance) play and are scored as the same arrays, so the recording stands in for
    the scorer's forward pass there too (not only in the process that made the parameters)."""
    import pickle

    from pola_nb.sampled.games import IPDHistory
    from pola_nb.sampled.rollout import rollout

    net = GRUNet(6, 2, hidden=5)
    p = pickle.loads(pickle.dumps(init_net(net, np.random.default_rng(2))))
    assert p["ir_w"].dtype == np.float32 and p["ir_w"].dtype is not np.dtype(np.float32)
    players = [PolicySampler(net, p, record=True), PolicySampler(net, p)]
    traj = rollout(IPDHistory(steps=4), players[0], players[1], 3, seed=1)
    assert players[0].recording().matches(p, traj.obs[:-1])


def test_scoring_on_a_samplers_recording_equals_recomputing():
    """A GRU sampler's recording stands in for the scorer's forward pass only for the parameter
    arrays and observation rows it played, with the same values and first and second derivatives
    as the slow per-operation twin."""
    from pola_nb.sampled.games import IPDHistory
    from pola_nb.sampled.rollout import rollout

    rng = np.random.default_rng(8)
    net = GRUNet(6, 2, hidden=5)
    p, q = ({k: (v + 0.3 * rng.standard_normal(v.shape)).astype(np.float32) for k, v in init_net(net, rng).items()}
            for _ in range(2))
    players = [PolicySampler(net, p, record=True), PolicySampler(net, q, record=True)]
    traj = rollout(IPDHistory(steps=6), players[0], players[1], 7, seed=1)
    rec = players[0].recording()
    obs = traj.obs[:-1]
    assert rec is not None and rec.matches(p, obs)
    assert not rec.matches({k: v.copy() for k, v in p.items()}, obs)  # equal numbers, other arrays
    assert not rec.matches(p, traj.obs[1:]) and not rec.matches(p, obs.copy())
    assert PolicySampler(net, p).recording() is None  # not asked to record

    acts, w = traj.actions[..., 0], rng.standard_normal(obs.shape[:2]).astype(np.float32)

    def lp(par, known, reference=False):
        from pola_nb.sampled.policies import log_softmax

        return taken(log_softmax(net_sequence(net, par, obs, known, reference=reference)), acts)

    def outer(par, known, reference=False):  # a derivative through an inner gradient step
        gq = grad(lambda x: anp.sum(w * anp.cumsum(lp(x, None, reference) + lp(par, known, reference), axis=0) ** 2))(q)
        q1 = {k: q[k] - 0.3 * gq[k] for k in q}
        return anp.sum(anp.tanh(lp(q1, None, reference) * lp(par, known, reference)))

    np.testing.assert_allclose(lp(p, rec), lp(p, None, reference=True), rtol=1e-5, atol=1e-6)
    for f in (lambda a, known, reference=False: anp.sum(lp(a, known, reference) * w), outer):
        fast, slow = grad(f)(p, rec), grad(f)(p, None, True)
        for k in p:
            np.testing.assert_allclose(fast[k], slow[k], rtol=1e-4, atol=1e-5, err_msg=k)


def test_a_tape_that_grows_records_the_same_forward_pass():
    """A recording sampler sized for fewer steps than the rollout has (its tape doubles twice) keeps
    the same inputs, activations and carries as one sized for the whole rollout, and they are the
    scorer's forward pass (carries equal to the per-operation twin)."""
    from pola_nb.sampled.games import IPDHistory
    from pola_nb.sampled.rollout import rollout

    rng = np.random.default_rng(9)
    net = GRUNet(6, 2, hidden=5)
    p, q = (init_net(net, rng) for _ in range(2))
    recs = []
    for steps in (1, 7):
        players = [PolicySampler(net, p, record=True, steps=steps), PolicySampler(net, q, record=True, steps=steps)]
        traj = rollout(IPDHistory(steps=7), players[0], players[1], 4, seed=2)
        recs.append(players[0].recording())
    small, full = recs
    assert small.hs.shape == full.hs.shape == (7, 4, 5)
    for a, b in ((small.xw, full.xw), (small.act, full.act), (small.hs, full.hs)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(small.hs, net.reference_hidden_states(p, traj.obs[:-1]), rtol=1e-5, atol=1e-6)
