"""Learners (paper Algorithm 2): differentiation through the inner loop, chaining, simultaneity, resets."""

from __future__ import annotations

import numpy as np
import pytest
from autograd import grad
from autograd.test_util import check_grads

from pola_nb.sampled import learners, tree
from pola_nb.sampled.config import Hyper
from pola_nb.sampled.games import IPDHistory
from pola_nb.sampled.learners import agent_loss, lookahead, outer_loss, update
from pola_nb.sampled.pola_learner import update_pair
from pola_nb.sampled.policies import make_architecture
from pola_nb.sampled.rollout import Trajectory
from pola_nb.sampled.rollout import rollout as play


class Replay:
    """A rollout that ignores the players and cycles through fixed trajectories (deterministic)."""

    def __init__(self, trajs):
        self.trajs, self.i = trajs, 0
        self.seen = []  # plain parameters of both samplers at every call

    def __call__(self, players, batch, rng):
        self.seen.append([p.params for p in players])
        t = self.trajs[self.i % len(self.trajs)]
        self.i += 1
        return t


def _traj(rng, T=4, B=3, dtype=np.float64):
    a = rng.integers(0, 2, (T, B, 2))
    obs = np.zeros((T + 1, B, 6), dtype)
    obs[0, :, 2] = obs[0, :, 5] = 1
    for t in range(T):
        obs[t + 1, np.arange(B), a[t, :, 0]] = 1
        obs[t + 1, np.arange(B), 3 + a[t, :, 1]] = 1
    return Trajectory(IPDHistory(steps=T), obs, obs, a, rng.standard_normal((T, B, 2)).astype(dtype), None)


def _agents(arch, rng, dtype=np.float64, noise=0.3):
    out = []
    for _ in range(2):
        a = arch.init(rng)
        out.append(tree.tree_map(lambda x: (x + noise * rng.standard_normal(x.shape)).astype(dtype), a))
    return tuple(out)


def _hp(**kw):
    base = dict(algo="pola-dice", inner_steps=2, outer_steps=1, lr_in=0.3, lr_out=0.01, lr_v=0.05,
                batch_size=3, inner_beta=0.7, outer_beta=1.3, gamma=0.9)
    base.update(kw)
    return Hyper(**base)


def _smooth_surrogate(logp_self, logp_other, rewards, values, gamma, gae_lambda=1.0, baseline=True):
    """An ordinary (stop-gradient free) function of both agents' log-probabilities.

    A DiCE objective (and a value loss with a stop-gradient target) cannot be checked by finite
    differences: its value is the return whatever the
    parameters, only its derivatives are estimators. Swapping it for this smooth stand-in makes the
    outer loss an ordinary function, so finite differences validate every other piece of the nested
    differentiation (GRU, chained inner SGD steps, KL terms, value losses, the opponent's dependence
    on the self agent). The DiCE derivatives themselves are checked against exact ones in test_dice.
    """
    import autograd.numpy as anp

    c = anp.cumsum(logp_self + 0.5 * logp_other, axis=0)
    w = gamma ** np.arange(rewards.shape[0])[:, None]
    return anp.sum(anp.tanh(c) * rewards * w) / rewards.shape[1]


def _smooth_value_loss(rewards, values, gamma):
    """The value loss without the stop-gradient on the bootstrap target (an ordinary function)."""
    import autograd.numpy as anp

    from pola_nb.sampled.dice import returns_to_go

    T = rewards.shape[0]
    boot = (gamma ** np.arange(T, 0, -1))[:, None] * values[-1]
    return anp.sum((returns_to_go(rewards, gamma) + boot - values[:-1]) ** 2) / rewards.shape[1]


@pytest.mark.parametrize("kl", ["ref-current", "current-ref"])
def test_second_order_through_inner_loop_matches_finite_differences(kl, monkeypatch):
    """The outer loss through two chained, KL-penalised inner steps of a tiny GRU, checked against
    finite differences (float64): the outer gradient, i.e. the second derivatives of the inner
    losses. (Third order is not available: the GRU primitive is differentiable twice, see
    test_scan.)"""
    monkeypatch.setattr(learners, "dice_objective", _smooth_surrogate)
    monkeypatch.setattr(learners, "value_loss", _smooth_value_loss)
    rng = np.random.default_rng(0)
    arch = make_architecture("gru", 6, 2, hidden=2)
    agents = _agents(arch, rng)
    hp = _hp(kl=kl)
    replay = Replay([_traj(rng) for _ in range(hp.inner_steps + 1)])
    ref = tree.tree_map(lambda x: x + 0.1, agents[0]["pol"])

    def f(cur, shape=True):
        replay.i = 0
        return outer_loss(arch, cur, ref, agents[1], 0, hp, replay, None, shape_opponent=shape)

    check_grads(f, modes=["rev"], order=1)(agents[0])
    # the shaping term is really there: cutting the lookahead's dependence changes the gradient
    full, cut = grad(f)(agents[0]), grad(lambda c: f(c, False))(agents[0])
    assert np.abs(tree.flat(full) - tree.flat(cut)).max() > 1e-6


def test_inner_steps_chain_from_the_previous_step():
    rng = np.random.default_rng(1)
    arch = make_architecture("gru", 6, 2, hidden=3)
    me, opp0 = _agents(arch, rng)
    hp = _hp()
    t1, t2 = _traj(rng), _traj(rng)
    lr = {"pol": hp.lr_in, "val": hp.lr_v}

    def step(o, t):
        g = grad(lambda x: agent_loss(arch, x, me["pol"], t, 1, hp, opp0["pol"], hp.inner_beta))(o)
        return tree.sgd_step(o, g, lr)

    want = step(step(opp0, t1), t2)
    got = lookahead(arch, me["pol"], opp0, 0, hp, Replay([t1, t2]), None)
    np.testing.assert_allclose(tree.flat(got), tree.flat(want), rtol=1e-10, atol=1e-12)
    # the pre-2023 bug evaluated step 2 at the start parameters: that is a different result
    g1 = grad(lambda x: agent_loss(arch, x, me["pol"], t1, 1, hp, opp0["pol"], hp.inner_beta))(opp0)
    g2 = grad(lambda x: agent_loss(arch, x, me["pol"], t2, 1, hp, opp0["pol"], hp.inner_beta))(opp0)
    buggy = tree.sgd_step(tree.sgd_step(opp0, g1, lr), g2, lr)
    assert np.abs(tree.flat(got) - tree.flat(buggy)).max() > 1e-6


def test_simultaneous_update_uses_start_of_update_parameters(monkeypatch):
    """Agent 2's whole update plays against agent 1's start-of-update policy and uses it as the inner
    KL reference; both agents' value nets are trained (as in the official code)."""
    rng = np.random.default_rng(2)
    arch = make_architecture("gru", 6, 2, hidden=4)
    agents = _agents(arch, rng, np.float32, noise=0.1)
    hp = _hp(outer_steps=2, batch_size=16)
    refs = []
    real_loss = learners.agent_loss

    def spy(arch_, agent, other_pol, traj, me, hp_, ref_pol=None, beta=0.0, recordings=(None, None)):
        refs.append((me, None if ref_pol is None else tree.flat(ref_pol)))
        return real_loss(arch_, agent, other_pol, traj, me, hp_, ref_pol, beta, recordings)

    monkeypatch.setattr(learners, "agent_loss", spy)
    calls = []

    def rollout(players, batch, r):
        calls.append([tree.flat(p.params) for p in players])
        return play(IPDHistory(steps=5), players[0], players[1], batch, seed=r)

    new, _ = update_pair(arch, agents, hp, rollout, np.random.default_rng(3))
    per_update = hp.outer_steps * (hp.inner_steps + 1)
    assert len(calls) == 2 * per_update
    start = [tree.flat(a["pol"]) for a in agents]
    # agent 2's update: the first inner rollout of every outer step starts agent 1 at its start params
    for k in range(hp.outer_steps):
        first = calls[per_update + k * (hp.inner_steps + 1)]
        np.testing.assert_array_equal(first[0], start[0])
    assert np.abs(tree.flat(new[0]["pol"]) - start[0]).max() > 0
    # inner KL references: agent 1's start policy in agent 2's update, and vice versa
    for me, ref in refs:
        if ref is not None:
            np.testing.assert_array_equal(ref, start[me])
    # both value nets and both policies moved
    for i in (0, 1):
        assert np.abs(tree.flat(new[i]["val"]) - tree.flat(agents[i]["val"])).max() > 0
        assert np.abs(tree.flat(new[i]["pol"]) - tree.flat(agents[i]["pol"])).max() > 0
    # agent 2's result does not depend on agent 1's update having run first
    seed = int(np.random.default_rng(3).integers(0, 2**63 - 1, size=2)[1])
    alone, _ = learners.agent_step(arch, agents, 1, hp, rollout, seed)
    np.testing.assert_array_equal(tree.flat(alone), tree.flat(new[1]))


def test_optimiser_state_is_reset_every_update():
    """LOLA-DiCE: a single fresh-Adam step moves every parameter by ~lr_out (sign-gradient), in the
    first and in the second update alike."""
    rng = np.random.default_rng(4)
    arch = make_architecture("gru", 6, 2, hidden=4)
    agents = _agents(arch, rng, np.float32, noise=0.1)
    hp = learners.lola_dice(lr_in=0.05, lr_out=0.003, lr_v=0.0005, batch_size=32)

    def rollout(players, batch, r):
        return play(IPDHistory(steps=6), players[0], players[1], batch, seed=r)

    r = np.random.default_rng(5)
    for _ in range(2):
        new, _ = update_pair(arch, agents, hp, rollout, r)
        for i in (0, 1):
            step = np.abs(tree.flat(new[i]["pol"]) - tree.flat(agents[i]["pol"]))
            # |adam step| = lr |g| / (|g| + eps) = lr except for (near-)zero gradients
            assert np.mean(np.abs(step - 0.003) < 1e-4) > 0.9
            assert step.max() < 0.003 * 1.001
        agents = new


def test_pola_om_fits_and_uses_the_model():
    rng = np.random.default_rng(6)
    arch = make_architecture("gru", 6, 2, hidden=4)
    agents = _agents(arch, rng, np.float32, noise=0.1)
    models = tuple(arch.init(rng) for _ in range(2))
    hp = _hp(algo="pola-om", outer_steps=1, inner_steps=1, batch_size=64, om_batches=5, om_steps=2,
             lr_out=0.02)

    def rollout(players, batch, r):
        return play(IPDHistory(steps=5), players[0], players[1], batch, seed=r)

    r = np.random.default_rng(7)
    test = rollout([learners.PolicySampler(arch.policy, a["pol"]) for a in agents], 512, r)
    before = [float(learners.opponent_model_loss(arch, models[i], test, 1 - i, hp)) for i in (0, 1)]
    fitted = [learners.fit_opponent_model(arch, models[i], agents, i, hp, rollout, r) for i in (0, 1)]
    after = [float(learners.opponent_model_loss(arch, fitted[i], test, 1 - i, hp)) for i in (0, 1)]
    assert after[0] < before[0] and after[1] < before[1]
    # in the update the opponent starts from the model, not from the true opponent
    seen = []

    def spy(players, batch, r_):
        seen.append([tree.flat(p.params) for p in players])
        return rollout(players, batch, r_)

    update(arch, agents, 0, hp, spy, r, opponent_model=fitted[0])
    np.testing.assert_array_equal(seen[0][1], tree.flat(fitted[0]["pol"]))
    new, new_models = update_pair(arch, agents, hp, rollout, r, models)
    assert all(np.abs(tree.flat(new_models[i]) - tree.flat(models[i])).max() > 0 for i in (0, 1))


def test_hyper_validation():
    from pola_nb.errors import PolaUsageError

    with pytest.raises(PolaUsageError):
        Hyper(algo="nope")
    with pytest.raises(PolaUsageError):
        Hyper(kl="sideways")
    with pytest.raises(PolaUsageError):
        Hyper(lr_in=-1.0)


def test_naive_learning_is_lookahead_rate_zero():
    """lr_in = 0: no lookahead rollouts, and the update equals the one with the shaping cut."""
    rng = np.random.default_rng(8)
    arch = make_architecture("gru", 6, 2, hidden=3)
    agents = _agents(arch, rng, np.float32, noise=0.1)
    calls = []

    def rollout(players, batch, r):
        calls.append(1)
        return play(IPDHistory(steps=4), players[0], players[1], batch, seed=r)

    hp = _hp(lr_in=0.0, outer_steps=2, batch_size=8)
    update(arch, agents, 0, hp, rollout, np.random.default_rng(0))
    assert len(calls) == hp.outer_steps  # one rollout per outer step, none for a lookahead


@pytest.mark.slow
@pytest.mark.parametrize("game", ["ipd", "coin"])
def test_paper_scale_outer_step(game):
    """One POLA-DiCE outer step at the paper's settings runs and stays float32 (minutes; -m slow)."""
    from pola_nb.sampled.config import preset_config

    cfg = preset_config(game, "pola-dice", "paper")
    arch, r = cfg.architecture(), np.random.default_rng(0)
    agents = (arch.init(r), arch.init(r))
    g = grad(outer_loss, 1)(arch, agents[0], agents[0]["pol"], agents[1], 0, cfg.hp,
                            learners.game_rollout(cfg.make_game()), r)
    assert all(x.dtype == np.float32 and np.isfinite(x).all() for x in tree.tree_leaves(g))


def test_outer_gradient_is_the_same_when_scoring_reuses_the_sampling_pass(monkeypatch):
    """The samplers' recordings are used by the scorer (they match) and only save work: the POLA outer
    gradient with them equals the one recomputed from scratch on the same samples."""
    rng = np.random.default_rng(4)
    arch = make_architecture("gru", 6, 2, hidden=4)
    agents = _agents(arch, rng, np.float32, noise=0.2)
    hp = _hp(batch_size=16)
    rollout = learners.game_rollout(IPDHistory(steps=5))
    traj, recs = learners.play(arch, 0, agents[0]["pol"], agents[1]["pol"], hp, rollout, np.random.default_rng(0))
    assert recs[0].matches(agents[0]["pol"], traj.obs[:-1]) and recs[1].matches(agents[1]["pol"], traj.obs[:-1])

    def outer_grad():
        return tree.flat(grad(outer_loss, 1)(arch, agents[0], agents[0]["pol"], agents[1], 0, hp, rollout,
                                             np.random.default_rng(5)))

    reused = outer_grad()
    monkeypatch.setattr(learners.PolicySampler, "recording", lambda self: None)
    recomputed = outer_grad()
    np.testing.assert_allclose(reused, recomputed, rtol=1e-4, atol=1e-6)
    assert np.abs(reused).max() > 1e-3


def test_backward_passes_stay_float32(monkeypatch):
    """No cotangent of a float32 value is float64 anywhere in a POLA-DiCE outer step or an opponent-model
    fit: a float64 cotangent (e.g. from ``anp.mean``'s derivative under NumPy 2) would silently double
    the cost of every product and cell upstream of it."""
    import autograd.core as core

    leaks = []

    def checked_backward_pass(g, end_node):
        outgrads = {end_node: (g, False)}
        for node in core.toposort(end_node):
            outgrad = outgrads.pop(node)
            for parent, ingrad in zip(node.parents, node.vjp(outgrad[0]), strict=False):  # as autograd
                if getattr(ingrad, "dtype", None) == np.float64:
                    leaks.append(node.vjp.__qualname__)
                outgrads[parent] = core.add_outgrads(outgrads.get(parent), ingrad)
        return outgrad[0]

    monkeypatch.setattr(core, "backward_pass", checked_backward_pass)
    rng = np.random.default_rng(6)
    arch = make_architecture("gru", 6, 2, hidden=4)
    agents = _agents(arch, rng, np.float32, noise=0.2)
    hp = _hp(batch_size=8, om_batches=1, om_steps=1)
    rollout = learners.game_rollout(IPDHistory(steps=5))
    grad(outer_loss, 1)(arch, agents[0], agents[0]["pol"], agents[1], 0, hp, rollout, np.random.default_rng(0))
    learners.fit_opponent_model(arch, agents[1], agents, 0, hp, rollout, np.random.default_rng(1))
    assert leaks == []


@pytest.mark.parametrize("game", ["ipd", "coin"])
def test_outer_gradient_of_the_fast_path_equals_the_per_operation_twin(game, monkeypatch):
    """A POLA-DiCE outer step (two inner steps, float32, H 64) on the same rollouts, once with the fast
    path (the scan primitive, its fused kernels, the samplers' recordings) and once with the GRU one
    operation at a time (``reference=True``, numpy's ``tanh``, no recordings): the outer gradients agree
    to float32 rounding, relative error (2-norm over all parameters) below 1e-4."""
    from pola_nb.sampled.games import CoinGame
    from pola_nb.sampled.policies import GRUNet

    g = IPDHistory(steps=8) if game == "ipd" else CoinGame(grid=3, steps=8)
    arch = make_architecture("gru", g.obs_dim, g.n_actions, hidden=64)
    agents = _agents(arch, np.random.default_rng(10), np.float32, noise=0.05)
    hp = _hp(batch_size=32, lr_in=0.5)
    rng = np.random.default_rng(11)
    real = learners.game_rollout(g)
    trajs = [real(learners.samplers(arch, i % 2, agents[0]["pol"], agents[1]["pol"]), 32, rng) for i in range(3)]

    def outer_grad():
        return tree.flat(grad(outer_loss, 1)(arch, agents[0], agents[0]["pol"], agents[1], 0, hp, Replay(trajs),
                                             None))

    fast = outer_grad()
    monkeypatch.setattr(GRUNet, "hidden_states",  # what net_sequence(..., reference=True) computes
                        lambda self, p, obs, known=None: self.reference_hidden_states(p, obs))
    twin = outer_grad()
    assert np.linalg.norm(fast - twin) / np.linalg.norm(twin) < 1e-4
    assert np.abs(twin).max() > 1e-3


def test_skipping_the_last_inner_value_step_leaves_the_outer_objective_unchanged(monkeypatch):
    """The outer objective reads only the looked-ahead policy, so ``lookahead(value_last=False)`` (what
    ``outer_loss`` uses) gives the same outer value and gradient as the full last inner step."""
    rng = np.random.default_rng(12)
    arch = make_architecture("gru", 6, 2, hidden=3)
    agents = _agents(arch, rng)
    hp = _hp()
    trajs = [_traj(rng), _traj(rng), _traj(rng)]

    def f(cur):
        return outer_loss(arch, cur, agents[0]["pol"], agents[1], 0, hp, Replay(trajs), None)

    skipped = f(agents[0]), tree.flat(grad(f)(agents[0]))
    real = learners.lookahead
    monkeypatch.setattr(learners, "lookahead", lambda *a, value_last=True: real(*a, value_last=True))
    full = f(agents[0]), tree.flat(grad(f)(agents[0]))
    np.testing.assert_allclose(skipped[0], full[0], rtol=1e-12)
    np.testing.assert_allclose(skipped[1], full[1], rtol=1e-10, atol=1e-12)
    # and the value net really is not stepped the last time
    opp = real(arch, agents[0]["pol"], agents[1], 0, replace_steps(hp, 1), Replay(trajs), None, value_last=False)
    np.testing.assert_array_equal(tree.flat(opp["val"]), tree.flat(agents[1]["val"]))


def replace_steps(hp, k):
    from dataclasses import replace

    return replace(hp, inner_steps=k)
