"""The snapshot population (:mod:`pola_nb.sampled.population`): each episode is played as its own
snapshot's ``PolicySampler`` would play it (the same actions on the same uniforms; the logits of a
GRU population agree to float32 rounding, bit for bit when every row plays one snapshot)."""

from __future__ import annotations

import numpy as np
import pytest

from pola_nb.errors import PolaUsageError
from pola_nb.generics import init_net, net_sequence
from pola_nb.sampled import CoinGame, IPDHistory, rollout
from pola_nb.sampled.policies import FeedForwardNet, GRUNet, MemoryOneTable, PolicySampler
from pola_nb.sampled.population import (
    PopulationSampler,
    draw_population_index,
    population_sequence,
    population_size,
    snapshot,
    stack_params,
    unstack,
)
from pola_nb.sampled.rollout import draw_uniforms, make_rng

GAME = CoinGame(grid=3, steps=12, agent_centric=True)
NET = GRUNet(GAME.obs_dim, 4, hidden=24, layers_before_gru=2)


def snapshots(net, k, seed=0):
    """``k`` distinct parameter sets with non-zero biases (so that a wrong bias row would show)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(k):
        p = init_net(net, rng)
        out.append({n: (v + 0.3 * rng.standard_normal(v.shape)).astype(np.float32) if n.endswith("_b") else v
                    for n, v in p.items()})
    return out


def mixed_index(k, batch, seed):
    """Snapshot per row with groups of one row, of two rows and larger ones, and a snapshot unused."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(2, k, size=batch)
    idx[5] = 0  # a lone row
    idx[[1, batch - 1]] = 1  # two rows far apart
    idx[idx == k - 1] = k - 2  # snapshot k-1 plays nobody
    return idx


def test_stack_unstack_snapshot():
    ps = snapshots(NET, 3)
    st = stack_params(ps)
    assert population_size(st) == 3
    assert all(st[n].shape == (3, *ps[0][n].shape) and st[n].dtype == np.float32 for n in ps[0])
    for k, p in enumerate(unstack(st)):
        assert p.keys() == ps[k].keys()
        for n in p:
            np.testing.assert_array_equal(p[n], ps[k][n])
            np.testing.assert_array_equal(snapshot(st, k)[n], ps[k][n])
    with pytest.raises(PolaUsageError):
        stack_params([])
    with pytest.raises(PolaUsageError):
        stack_params([ps[0], {"x": np.zeros(1, np.float32)}])


def test_draw_population_index():
    idx = draw_population_index(7, 7000, np.random.default_rng(1))
    assert idx.shape == (7000,) and idx.dtype == np.int64
    assert idx.min() == 0 and idx.max() == 6
    counts = np.bincount(idx, minlength=7)
    assert np.all(np.abs(counts - 1000) < 150)  # uniform (6 sigma is ~170)
    np.testing.assert_array_equal(idx, draw_population_index(7, 7000, np.random.default_rng(1)))
    assert np.all(draw_population_index(1, 5, np.random.default_rng(0)) == 0)
    with pytest.raises(PolaUsageError):
        draw_population_index(0, 5, np.random.default_rng(0))


def test_bad_index_and_batch():
    st = stack_params(snapshots(NET, 2))
    with pytest.raises(PolaUsageError):
        PopulationSampler(NET, st, np.array([0, 2]))
    with pytest.raises(PolaUsageError):
        PopulationSampler(NET, st, np.zeros((2, 2), np.int64))
    pop = PopulationSampler(NET, st, np.array([0, 1, 1]))
    with pytest.raises(PolaUsageError):
        pop.reset(4)


def assert_same_trajectory(a, b, rows=slice(None)):
    for name in ("obs", "obs2", "actions", "rewards", "pickups"):
        np.testing.assert_array_equal(getattr(a, name)[:, rows], getattr(b, name)[:, rows], err_msg=name)


@pytest.mark.parametrize("which", [0, 2])
def test_population_of_one_is_policy_sampler_bit_for_bit(which):
    ps = snapshots(NET, 3)
    me = PolicySampler(NET, ps[1])
    alone = rollout(GAME, me, PolicySampler(NET, ps[which]), 48, seed=4)
    one = rollout(GAME, me, PopulationSampler(NET, stack_params([ps[which]]), np.zeros(48, np.int64)), 48, seed=4)
    same = rollout(GAME, me, PopulationSampler(NET, stack_params(ps), np.full(48, which)), 48, seed=4)
    assert_same_trajectory(alone, one)
    assert_same_trajectory(alone, same)
    # and the population in seat 1 (it is an ordinary agent)
    first = rollout(GAME, PopulationSampler(NET, stack_params([ps[which]]), np.zeros(48, np.int64)), me, 48, seed=5)
    assert_same_trajectory(rollout(GAME, PolicySampler(NET, ps[which]), me, 48, seed=5), first)


@pytest.mark.parametrize("net", [NET, GRUNet(GAME.obs_dim, 4, hidden=16, layers_before_gru=1),
                                 FeedForwardNet(GAME.obs_dim, 4, hidden=16)], ids=["gru2", "gru1", "ff"])
def test_each_row_plays_its_own_snapshot(net):
    """Episode b of a population rollout equals episode b of the rollout of snapshot index[b] alone
    (same seed: same uniforms per episode; episodes do not interact)."""
    K, B = 6, 40
    ps = snapshots(net, K, seed=1)
    idx = mixed_index(K, B, seed=2)
    me = PolicySampler(net, snapshots(net, 1, seed=9)[0])
    pop = rollout(GAME, me, PopulationSampler(net, stack_params(ps), idx), B, seed=11)
    for k in range(K):
        rows = np.flatnonzero(idx == k)
        if rows.size:
            assert_same_trajectory(rollout(GAME, me, PolicySampler(net, ps[k]), B, seed=11), pop, rows)
    assert len(np.unique(pop.actions[:, :, 1])) > 1


def test_act_step_by_step_equals_each_snapshot_sampler():
    """Given identical observations and uniforms, ``act`` of every row equals that of its snapshot's
    ``PolicySampler`` on the whole batch, at every step (carries kept), and so do the logits to float32
    rounding: a group's rows go through BLAS as a smaller product than the whole batch, and some
    sgemm kernels (OpenBLAS's Haswell ones) round a row differently in a product of another height."""
    K, B = 9, 33
    ps = snapshots(NET, K, seed=3)
    idx = mixed_index(K, B, seed=4)
    obs = rollout(GAME, "random", "random", B, seed=6).obs2
    _, u_step = draw_uniforms(GAME, B, GAME.steps, make_rng(6))
    pop = PopulationSampler(NET, stack_params(ps), idx)
    alone = [PolicySampler(NET, p) for p in ps]
    pop.reset(B)
    for s in alone:
        s.reset(B)
    for t in range(GAME.steps):
        lp = pop.logits(obs[t])
        a_pop = pop.act(obs[t], None, u_step[t, 1])  # a second step: advances the carry again
        for k, s in enumerate(alone):
            rows = idx == k
            lk = s.logits(obs[t])
            ak = s.act(obs[t], None, u_step[t, 1])
            np.testing.assert_allclose(lp[rows], lk[rows], rtol=2e-6, atol=2e-7)
            np.testing.assert_array_equal(a_pop[rows], ak[rows])


def test_memory_one_population_on_the_ipd():
    game = IPDHistory(steps=10, agent_centric=True)
    net = MemoryOneTable()
    rng = np.random.default_rng(0)
    ps = [{"table": rng.standard_normal((5, 2)).astype(np.float32)} for _ in range(4)]
    idx = np.array([0, 1, 2, 3, 3, 2, 1, 0, 0, 0, 2])
    pop = rollout(game, "tft", PopulationSampler(net, stack_params(ps), idx), idx.size, seed=3)
    for k in range(4):
        alone = rollout(game, "tft", PolicySampler(net, ps[k]), idx.size, seed=3)
        rows = idx == k
        np.testing.assert_array_equal(pop.actions[:, rows], alone.actions[:, rows])
        np.testing.assert_array_equal(pop.obs2[:, rows], alone.obs2[:, rows])


def test_population_sequence_equals_each_snapshot_sequence():
    """Each episode's column is its own snapshot's ``net_sequence`` (to float32 rounding: the GRU
    population sums its products in another order than BLAS), for a policy and a value net."""
    K, B = 7, 30
    ps = snapshots(NET, K, seed=5)
    idx = mixed_index(K, B, seed=6)
    st = stack_params(ps)
    obs = rollout(GAME, "random", "tft", B, seed=8).obs2
    out = population_sequence(NET, st, idx, obs)
    assert out.shape == (obs.shape[0], B, 4) and out.dtype == np.float32
    for k in range(K):
        rows = idx == k
        if rows.any():
            np.testing.assert_allclose(out[:, rows], np.asarray(net_sequence(NET, ps[k], obs))[:, rows],
                                       rtol=1e-5, atol=1e-6)
    # one snapshot: the whole batch in one call
    one = population_sequence(NET, stack_params([ps[2]]), np.zeros(B, np.int64), obs)
    np.testing.assert_array_equal(one, np.asarray(net_sequence(NET, ps[2], obs)))
    # the values a value net would give (n_out = 1)
    val = GRUNet(GAME.obs_dim, 1, hidden=8)
    vs = [init_net(val, np.random.default_rng(s)) for s in range(K)]
    v = population_sequence(val, stack_params(vs), idx, obs)
    for k in np.unique(idx):
        rows = idx == k
        np.testing.assert_allclose(v[:, rows], np.asarray(net_sequence(val, vs[k], obs[:, rows])), rtol=1e-5,
                                   atol=1e-6)


def test_recorded_logits_are_the_sequence_along_the_rollouts_observations():
    """``record=True``: the outputs of every step of a rollout, stacked, equal ``population_sequence``
    along the observations the population saw (float32 rounding: other product heights), for a
    GRU population with lone rows, a single-snapshot one and a non-GRU net."""
    K, B = 8, 29
    ps = snapshots(NET, K, seed=9)
    idx = mixed_index(K, B, seed=10)
    st = stack_params(ps)
    pop = PopulationSampler(NET, st, idx, record=True)
    traj = rollout(GAME, "random", pop, B, seed=12)
    rec = pop.recorded_logits()
    assert rec.shape == (GAME.steps, B, 4) and rec.dtype == np.float32
    np.testing.assert_allclose(rec, population_sequence(NET, st, idx, traj.obs2[:-1]), rtol=2e-6, atol=2e-7)
    one = PopulationSampler(NET, stack_params([ps[3]]), np.zeros(B, np.int64), record=True)
    traj = rollout(GAME, "random", one, B, seed=13)
    np.testing.assert_allclose(one.recorded_logits(), np.asarray(net_sequence(NET, ps[3], traj.obs2[:-1])),
                               rtol=2e-6, atol=2e-7)
    game = IPDHistory(steps=7, agent_centric=True)
    tables = [{"table": np.random.default_rng(s).standard_normal((5, 2)).astype(np.float32)} for s in range(3)]
    t_idx = np.array([0, 2, 2, 1, 0, 1])
    loop = PopulationSampler(MemoryOneTable(), stack_params(tables), t_idx, record=True)
    traj = rollout(game, "tft", loop, t_idx.size, seed=4)
    np.testing.assert_array_equal(loop.recorded_logits(),
                                  population_sequence(MemoryOneTable(), stack_params(tables), t_idx, traj.obs2[:-1]))
    loop.reset(t_idx.size)  # a new rollout starts a new recording
    with pytest.raises(PolaUsageError, match="nothing recorded"):
        loop.recorded_logits()
    with pytest.raises(PolaUsageError, match="record=True"):
        PopulationSampler(NET, st, idx).recorded_logits()
