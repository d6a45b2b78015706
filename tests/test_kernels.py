"""CPU kernels against the numpy reference, game facts on hand-built states, strategy statistics."""

from __future__ import annotations

import numpy as np
import pytest
import reference_games as ref

from pola_nb.errors import PolaUsageError
from pola_nb.sampled import CoinGame, IPDHistory, coin_counts, own_coin_stats, rollout, scores
from pola_nb.sampled.rollout import draw_uniforms, make_rng

STRATS = ("alld", "allc", "tft", "random")
PAIRS = [(a, b) for a in STRATS for b in STRATS]


def reference(game, a1, a2, batch, seed, keep_obs=True):
    u_reset, u_step = draw_uniforms(game, batch, game.steps, make_rng(seed))
    if isinstance(game, IPDHistory):
        return ref.ipd_rollout(game.cf, a1, a2, u_step, keep_obs)
    return ref.coin_rollout(game.grid, a1, a2, u_reset, u_step, game.agent_centric, keep_obs)


def assert_same(traj, expected):
    np.testing.assert_array_equal(traj.actions, expected["actions"])
    np.testing.assert_array_equal(traj.rewards, expected["rewards"])
    if expected["pickups"] is None:
        assert traj.pickups is None
    else:
        np.testing.assert_array_equal(traj.pickups, expected["pickups"])
    if expected["obs"] is None:
        assert traj.obs is None
    else:
        np.testing.assert_array_equal(traj.obs, expected["obs"])
        np.testing.assert_array_equal(traj.obs2, expected["obs2"])
    assert traj.actions.dtype == np.int8 and traj.rewards.dtype == np.float32
    if traj.obs is not None:
        assert traj.obs.dtype == np.float32


Scripted = ref.Scripted


def scripted(n_actions: int, batch: int) -> ref.Scripted:
    s = ref.Scripted(n_actions)
    s.reset(batch)
    return s


# ---------------------------------------------------------------- kernel == reference


@pytest.mark.parametrize("a1,a2", PAIRS)
def test_ipd_fused_matches_reference(a1, a2):
    game = IPDHistory(cf=1.33, steps=12)
    assert_same(rollout(game, a1, a2, 53, seed=7), reference(game, a1, a2, 53, 7))


@pytest.mark.parametrize("a1,a2", PAIRS)
def test_coin_fused_matches_reference(a1, a2):
    game = CoinGame(grid=3, steps=20)
    assert_same(rollout(game, a1, a2, 61, seed=3), reference(game, a1, a2, 61, 3))


@pytest.mark.parametrize("grid", [2, 4, 5])
@pytest.mark.parametrize("centric", [False, True])
def test_coin_other_grids_and_agent_centric(grid, centric):
    game = CoinGame(grid=grid, steps=15, agent_centric=centric)
    for a1, a2 in [("random", "tft"), ("alld", "allc")]:
        assert_same(rollout(game, a1, a2, 40, seed=grid), reference(game, a1, a2, 40, grid))
    assert_same(rollout(game, "random", "random", 40, seed=1, keep_obs=False),
                reference(game, "random", "random", 40, 1, keep_obs=False))


@pytest.mark.parametrize("game", [IPDHistory(cf=1.1, steps=10), CoinGame(grid=3, steps=10),
                                  CoinGame(grid=4, steps=10, agent_centric=True)], ids=str)
def test_step_path_with_learned_agent_matches_reference(game):
    batch = 33
    for fixed in ("tft", "random"):
        traj = rollout(game, Scripted(game.n_actions), fixed, batch, seed=5)
        assert_same(traj, reference(game, scripted(game.n_actions, batch), fixed, batch, 5))
        traj = rollout(game, fixed, Scripted(game.n_actions), batch, seed=6)
        assert_same(traj, reference(game, fixed, scripted(game.n_actions, batch), batch, 6))
    traj = rollout(game, Scripted(game.n_actions), Scripted(game.n_actions), batch, seed=8)
    expected = reference(game, scripted(game.n_actions, batch), scripted(game.n_actions, batch), batch, 8)
    assert_same(traj, expected)


def test_step_path_equals_fused_path_for_the_same_strategy():
    class RandomAgent:
        def __init__(self, n):
            self.n = n

        def reset(self, batch):
            pass

        def act(self, obs, last_reward, u):
            return ref.draw_int(u, self.n)

    for game in (IPDHistory(steps=9), CoinGame(steps=9)):
        fused = rollout(game, "random", "tft", 50, seed=11)
        stepped = rollout(game, RandomAgent(game.n_actions), "tft", 50, seed=11)
        assert_same(stepped, vars(fused))


def test_parallel_kernels_match_reference(monkeypatch):
    """Small calls run the serial compilation; force the prange one for every call here."""
    from pola_kernels import config

    monkeypatch.setattr(config, "CPU_PARALLEL_MIN_WORK", 1)
    for game in (IPDHistory(steps=8), CoinGame(grid=3, steps=8, agent_centric=True)):
        for a1, a2 in [("random", "tft"), ("allc", "alld")]:
            assert_same(rollout(game, a1, a2, 45, seed=2), reference(game, a1, a2, 45, 2))
        traj = rollout(game, Scripted(game.n_actions), "tft", 45, seed=3)
        assert_same(traj, reference(game, scripted(game.n_actions, 45), "tft", 45, 3))


# ---------------------------------------------------------------- uniforms and validation


def test_uniform_layout_is_one_pcg64_stream():
    game = CoinGame(steps=4)
    u_reset, u_step = draw_uniforms(game, 10, 4, make_rng(42))
    g = np.random.Generator(np.random.PCG64(42))
    flat = np.concatenate([g.random(1, dtype=np.float32) for _ in range(4 * 10 + 4 * 3 * 10)])
    np.testing.assert_array_equal(np.concatenate([u_reset.ravel(), u_step.ravel()]), flat)
    assert u_reset.shape == (4, 10) and u_step.shape == (4, 3, 10)


def test_same_seed_same_trajectory_and_different_seed_differs():
    game = CoinGame(steps=10)
    a = rollout(game, "random", "random", 20, seed=1)
    b = rollout(game, "random", "random", 20, seed=1)
    c = rollout(game, "random", "random", 20, seed=2)
    np.testing.assert_array_equal(a.obs, b.obs)
    assert not np.array_equal(a.actions, c.actions)


def test_bad_input_raises_usage_errors():
    with pytest.raises(PolaUsageError):
        CoinGame(grid=1)
    with pytest.raises(PolaUsageError):
        IPDHistory(steps=0)
    with pytest.raises(PolaUsageError):
        rollout(IPDHistory(), "alld", "nice", 10)
    with pytest.raises(PolaUsageError):
        rollout(IPDHistory(), "alld", "allc", 0)
    with pytest.raises(PolaUsageError):
        rollout(IPDHistory(), "alld", "allc", 10, backend="tpu")


def test_bad_actions_from_an_agent_are_rejected():
    class Bad:
        def reset(self, batch):
            pass

        def act(self, obs, last_reward, u):
            return np.full(obs.shape[0], 2)

    with pytest.raises(ValueError, match="outside"):
        rollout(IPDHistory(steps=3), Bad(), "alld", 4)


def test_cuda_backend_without_gpu_fails_with_one_clear_message():
    from pola_nb.backends import cuda_status

    if cuda_status().startswith("available"):
        pytest.skip("a CUDA device is available")
    with pytest.raises(PolaUsageError, match="cuda"):
        rollout(IPDHistory(), "alld", "allc", 10, backend="cuda")


# ---------------------------------------------------------------- game facts


def cells(obs, n, channel):
    """Flat cell index of the one-hot in ``channel`` of (..., 4 n^2) observations; -1 if empty."""
    x = obs.reshape(obs.shape[:-1] + (4, n * n))[..., channel, :]
    return np.where(x.any(-1), x.argmax(-1), -1)


@pytest.mark.parametrize("grid", [2, 3, 4])
def test_coin_never_spawns_under_an_agent_and_colour_alternates(grid):
    traj = rollout(CoinGame(grid=grid, steps=50), "random", "alld", 2000, seed=grid)
    o = traj.obs
    red, blue = cells(o, grid, 0), cells(o, grid, 1)
    red_coin, blue_coin = cells(o, grid, 2), cells(o, grid, 3)
    assert ((red_coin >= 0) ^ (blue_coin >= 0)).all()  # exactly one coin, one colour
    coin = np.maximum(red_coin, blue_coin)
    assert (coin != red).all() and (coin != blue).all()
    is_red = red_coin >= 0
    picked = traj.pickups.sum(-1) > 0
    assert picked.sum() > 10000
    np.testing.assert_array_equal(is_red[1:] != is_red[:-1], picked)  # colour flips iff a pick-up
    np.testing.assert_array_equal(coin[1:] != coin[:-1], picked)  # the coin moves iff a pick-up
    # every free cell gets coins: the placement is not stuck on a subset of cells
    new = coin[1:][picked]
    assert len(np.unique(new)) == grid * grid


def test_coin_reset_marginals_are_uniform():
    traj = rollout(CoinGame(grid=3, steps=1), "alld", "alld", 90000, seed=0)
    red = cells(traj.obs[0], 3, 0)
    counts = np.bincount(red, minlength=9)
    # 9 cells, 10000 expected each: 5 sigma ~ 5 * sqrt(10000 * 8 / 9) ~ 470
    assert np.abs(counts - 10000).max() < 500
    assert abs((cells(traj.obs[0], 3, 2) >= 0).mean() - 0.5) < 5 * 0.5 / 300  # red coins


def coin_turn():
    from pola_kernels.coin import kernels

    return kernels("cpu").scalars.coin_turn


# (n, red (r, c), blue (r, c), coin (r, c), coin_is_red, a1, a2) -> r1, r2, [RR, RB, BR, BB], red, blue
HAND_BUILT = [
    # red steps right onto a red coin: +1 to red, nothing to blue
    (3, (0, 0), (2, 2), (0, 1), 1, 0, 0, 1, 0, [1, 0, 0, 0], (0, 1), (2, 0)),
    # red takes blue's coin: red +1, blue -2
    (3, (0, 0), (2, 2), (0, 1), 0, 0, 1, 1, -2, [0, 1, 0, 0], (0, 1), (2, 1)),
    # blue takes red's coin moving up across the top edge (wrap-around): blue +1, red -2
    (3, (1, 1), (0, 2), (2, 2), 1, 2, 3, -2, 1, [0, 0, 1, 0], (2, 1), (2, 2)),
    # blue takes its own coin moving left across the left edge (wrap-around)
    (3, (1, 1), (2, 0), (2, 2), 0, 0, 1, 0, 1, [0, 0, 0, 1], (1, 2), (2, 2)),
    # simultaneous pick-up of a red coin: red +1 - 2 = -1, blue +1
    (3, (0, 1), (1, 0), (1, 1), 1, 2, 0, -1, 1, [1, 0, 1, 0], (1, 1), (1, 1)),
    # simultaneous pick-up of a blue coin: red +1, blue +1 - 2 = -1
    (3, (0, 1), (1, 0), (1, 1), 0, 2, 0, 1, -1, [0, 1, 0, 1], (1, 1), (1, 1)),
    # nobody reaches the coin; red wraps down over the bottom edge, blue wraps right
    (4, (3, 0), (0, 3), (2, 2), 1, 2, 0, 0, 0, [0, 0, 0, 0], (0, 0), (0, 0)),
    # 2x2 torus: left from column 0 wraps to column 1 onto the coin
    (2, (1, 0), (0, 0), (1, 1), 0, 1, 2, 1, -2, [0, 1, 0, 0], (1, 1), (1, 0)),
]


@pytest.mark.parametrize("case", HAND_BUILT)
def test_coin_rewards_and_moves_on_hand_built_states(case):
    n, red, blue, coin, is_red, a1, a2, r1, r2, picks, red_after, blue_after = case
    from pola_kernels.coin import ring_table

    out = coin_turn()(n, ring_table(n), -1, -1, a1, a2, red[0], red[1], blue[0], blue[1], coin[0], coin[1], is_red,
                      0, 0, 0, 0, np.float32(0.0), np.float32(0.0), np.float32(0.3))
    (b1, b2, rr, rc, br, bc, cr, cc, new_red, _, _, s1, s2, *p) = out
    assert (b1, b2) == (a1, a2)
    assert (s1, s2) == (r1, r2)
    assert p == picks
    assert (rr, rc) == red_after and (br, bc) == blue_after
    if sum(picks):
        assert new_red == 1 - is_red
        assert (cr, cc) not in (red_after, blue_after)
    else:
        assert (new_red, cr, cc) == (is_red, *coin)


def test_coin_placement_enumerates_free_cells_in_order():
    # agents on flat cells 1 and 4 of a 3x3 grid: free cells 0, 2, 3, 5, 6, 7, 8
    from pola_kernels.coin import kernels

    cp = kernels("cpu").scalars.coin_place
    free = [0, 2, 3, 5, 6, 7, 8]
    got = [cp(3, 0, 1, 1, 1, np.float32((k + 0.5) / 7)) for k in range(7)]
    assert [r * 3 + c for r, c in got] == free
    # both agents on cell 8: the 8 free cells 0..7
    got = [cp(3, 2, 2, 2, 2, np.float32((k + 0.5) / 8)) for k in range(8)]
    assert [r * 3 + c for r, c in got] == list(range(8))
    # the largest float32 uniform still maps to the last free cell
    assert cp(3, 0, 1, 1, 1, np.float32(1 - 2**-24)) == (2, 2)


def test_coin_greedy_rule_on_hand_built_states():
    from pola_kernels.coin import kernels, ring_table

    greedy = kernels("cpu").scalars.coin_greedy

    def g(n, r, c, cr, cc):
        return greedy(n, ring_table(n), r, c, cr, cc)

    assert g(3, 0, 0, 0, 1) == 0  # same row, right is shorter
    assert g(3, 0, 0, 0, 2) == 1  # same row, left (wrap) is shorter
    assert g(3, 0, 0, 1, 0) == 2  # same column, down
    assert g(3, 0, 0, 2, 0) == 3  # same column, up (wrap)
    assert g(3, 0, 0, 1, 1) == 2  # diagonal: vertical moves take priority
    assert g(3, 1, 1, 0, 2) == 3
    assert g(4, 0, 0, 0, 2) == 0  # tie on an even torus: right
    assert g(5, 4, 4, 0, 3) == 2  # down across the edge (1) beats up (4)


def test_ipd_payoffs_for_all_four_joint_actions():
    cf = 1.33
    joint = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])

    class Play:
        def __init__(self, k):
            self.k = k

        def reset(self, batch):
            pass

        def act(self, obs, last_reward, u):
            return joint[:, self.k]

    traj = rollout(IPDHistory(cf=cf, steps=2), Play(0), Play(1), 4, seed=0)
    expected = np.array([[0, 0], [cf / 2, cf / 2 - 1], [cf / 2 - 1, cf / 2], [cf - 1, cf - 1]], np.float32)
    np.testing.assert_allclose(traj.rewards[0], expected, rtol=1e-6)
    # observations: start, then [onehot3(a1), onehot3(a2)] with slots (D, C, start)
    np.testing.assert_array_equal(traj.obs[0], np.tile([0, 0, 1, 0, 0, 1], (4, 1)))
    np.testing.assert_array_equal(traj.obs[1], [[1, 0, 0, 1, 0, 0], [1, 0, 0, 0, 1, 0],
                                                 [0, 1, 0, 1, 0, 0], [0, 1, 0, 0, 1, 0]])


def test_allc_vs_allc_coin_game_each_agent_takes_only_own_coins():
    traj = rollout(CoinGame(grid=3), "allc", "allc", 2000, seed=4)
    c = coin_counts(traj)
    assert c["rb"] == 0 and c["br"] == 0 and c["rr"] > 5 and c["bb"] > 5
    assert own_coin_stats(traj) == {"same": 1.0, "own_coin1": 1.0, "own_coin2": 1.0}
    s1, s2 = scores(traj)
    assert s1 > 0.3 and s2 > 0.3  # a coin about every 1.5 steps


# ---------------------------------------------------------------- strategy statistics


def test_ipd_alld_vs_allc_scores_closed_form():
    cf = 1.33
    s1, s2 = scores(rollout(IPDHistory(cf=cf), "alld", "allc", 1000, seed=0))
    assert s1 == pytest.approx(cf / 2, abs=1e-6) and s2 == pytest.approx(cf / 2 - 1, abs=1e-6)


def test_ipd_tft_vs_alld_scores_closed_form():
    cf, steps = 1.33, 50
    s1, s2 = scores(rollout(IPDHistory(cf=cf, steps=steps), "tft", "alld", 1000, seed=0))
    # TFT cooperates once (sucker payoff) then defects forever (0)
    assert s1 == pytest.approx((cf / 2 - 1) / steps, abs=1e-6)
    assert s2 == pytest.approx((cf / 2) / steps, abs=1e-6)


def test_ipd_random_vs_random_and_vs_alld_within_sampling_error():
    cf, batch, steps = 1.33, 4000, 50
    n = batch * steps  # rewards are independent across steps for random play
    pay = ref.ipd_payoff_matrix(cf)
    traj = rollout(IPDHistory(cf=cf, steps=steps), "random", "random", batch, seed=1)
    mean, sd = pay.mean(), pay.std()
    for s in scores(traj):
        assert abs(s - mean) < 5 * sd / np.sqrt(n)
    s1, _ = scores(rollout(IPDHistory(cf=cf, steps=steps), "random", "alld", batch, seed=2))
    vals = pay[:, 0]  # vs ALLD: 0 or cf/2 - 1 with probability 1/2
    assert abs(s1 - vals.mean()) < 5 * vals.std() / np.sqrt(n)


def test_coin_greedy_vs_greedy_own_coin_proportion_is_one_half():
    batch = 4000
    traj = rollout(CoinGame(grid=3), "alld", "alld", batch, seed=9)
    p = traj.pickups.sum(axis=0).astype(np.float64)  # (B, 4) per-episode counts
    same, total = p[:, 0] + p[:, 3], p.sum(axis=1)
    # delta method for a ratio of means over independent episodes
    se = np.std(same - 0.5 * total) / (total.mean() * np.sqrt(batch))
    prop = own_coin_stats(traj)["same"]
    assert abs(prop - 0.5) < 5 * se
    assert se < 0.01
    s1, s2 = scores(traj)
    assert abs(s1) < 0.05 and abs(s2) < 0.05
