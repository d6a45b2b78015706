"""Agent-centric IPD observations: agent 2 sees ``[onehot3(a2), onehot3(a1)]`` (own previous action first).

Checked on every path that writes observations (fused kernel, per-step loop with learned agents,
``rollout_strategy_pairs``) and on both backends (CUDA in numba's simulator, in a subprocess, as in
``test_kernels_cuda.py``): the view changes only what agent 2 observes, never the game. That the
IPD kernels with the view flag compile for a real GPU is checked with every other kernel in
``test_kernels_cuda.py::test_cuda_kernels_compile_to_ptx``.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from pola_nb.sampled import IPDHistory, make_game, rollout
from pola_nb.sampled.policies import MemoryOneTable, PolicySampler
from pola_nb.sampled.rollout import rollout_strategy_pairs

SWAP = [3, 4, 5, 0, 1, 2]
STRATS = ("alld", "allc", "tft", "random")


class ViewTFT:
    """A learned-agent stand-in for seat ``seat`` (1 or 2) that reads the opponent's previous action
    from its observation: tit-for-tat, defecting at random when ``u < 0.2``. It knows where the
    opponent's half is in its view, so it plays the same game whatever the view; it records what it
    was shown."""

    def __init__(self, seat: int, centric: bool):
        self.other = 3 if (seat == 1 or centric) else 0  # offset of the opponent's one-hot

    def reset(self, batch):
        self.seen = []

    def act(self, obs, last_reward, u):
        assert obs.dtype == np.float32 and obs.shape[1] == 6
        self.seen.append(obs.copy())
        other_defected = obs[:, self.other + 0] > 0.5
        return np.where(other_defected | (u < 0.2), 0, 1).astype(np.int32)


def test_make_game_passes_agent_centric():
    assert make_game("ipd", agent_centric=True) == IPDHistory(agent_centric=True)
    assert not make_game("ipd").agent_centric


@pytest.mark.parametrize("a1,a2", [(a, b) for a in STRATS for b in STRATS])
def test_fused_obs2_is_the_swapped_view_and_the_game_is_unchanged(a1, a2):
    glob = rollout(IPDHistory(cf=1.4, steps=9), a1, a2, 23, seed=5)
    cen = rollout(IPDHistory(cf=1.4, steps=9, agent_centric=True), a1, a2, 23, seed=5)
    assert glob.obs2 is glob.obs
    np.testing.assert_array_equal(cen.obs, glob.obs)
    np.testing.assert_array_equal(cen.obs2, glob.obs[..., SWAP])
    np.testing.assert_array_equal(cen.actions, glob.actions)
    np.testing.assert_array_equal(cen.rewards, glob.rewards)
    # the own-first view really differs (unless both halves coincide everywhere)
    if not np.array_equal(glob.obs[..., :3], glob.obs[..., 3:]):
        assert not np.array_equal(cen.obs2, cen.obs)


def test_fused_without_observations():
    cen = rollout(IPDHistory(steps=7, agent_centric=True), "tft", "random", 11, seed=2, keep_obs=False)
    glob = rollout(IPDHistory(steps=7), "tft", "random", 11, seed=2, keep_obs=False)
    assert cen.obs is None and cen.obs2 is None
    np.testing.assert_array_equal(cen.actions, glob.actions)


@pytest.mark.parametrize("fixed", ["tft", "random", "alld"])
def test_step_loop_learned_seat2_gets_obs2_each_step(fixed):
    runs = {}
    for centric in (False, True):
        game = IPDHistory(steps=12, agent_centric=centric)
        p1, p2 = ViewTFT(1, centric), ViewTFT(2, centric)
        both = rollout(game, p1, p2, 31, seed=7)
        vs_fixed = rollout(game, fixed, ViewTFT(2, centric), 31, seed=8)
        runs[centric] = (both, p1, p2, vs_fixed)
        # each learned agent was shown its own view o_0 .. o_{T-1}
        np.testing.assert_array_equal(np.stack(p1.seen), both.obs[:-1])
        np.testing.assert_array_equal(np.stack(p2.seen), both.obs2[:-1])
    (g, g1, g2, gf), (c, c1, c2, cf) = runs[False], runs[True]
    np.testing.assert_array_equal(np.stack(c2.seen), np.stack(g2.seen)[..., SWAP])
    np.testing.assert_array_equal(np.stack(c1.seen), np.stack(g1.seen))
    np.testing.assert_array_equal(c.obs2, g.obs[..., SWAP])
    for a, b in ((c, g), (cf, gf)):
        np.testing.assert_array_equal(a.actions, b.actions)
        np.testing.assert_array_equal(a.rewards, b.rewards)
        np.testing.assert_array_equal(a.obs, b.obs)


def test_step_loop_keeps_fixed_strategies_identical():
    """A fixed strategy on the per-step path (against a learned agent) ignores the view."""
    for seat in (1, 2):
        out = []
        for centric in (False, True):
            learned = ViewTFT(3 - seat, centric)
            agents = ("tft", learned) if seat == 1 else (learned, "tft")
            out.append(rollout(IPDHistory(steps=10, agent_centric=centric), *agents, 17, seed=seat))
        np.testing.assert_array_equal(out[0].actions, out[1].actions)
        np.testing.assert_array_equal(out[0].rewards, out[1].rewards)


def test_memory_one_table_is_own_first_in_seat_2():
    """A memory-one tit-for-tat table (rows DD, DC, CD, CC, start read as own, other) plays TFT in
    seat 2 only with the agent-centric view; with the global view it copies its own last move."""
    big = np.float32(50.0)
    coop, defect = [-big, big], [big, -big]  # logits of (D, C)
    table = {"table": np.array([defect, coop, defect, coop, coop], np.float32)}
    for centric, plays_tft in ((True, True), (False, False)):
        game = IPDHistory(steps=15, agent_centric=centric)
        learned = rollout(game, "random", PolicySampler(MemoryOneTable(), table), 64, seed=3)
        kernel = rollout(game, "random", "tft", 64, seed=3)
        assert np.array_equal(learned.actions, kernel.actions) == plays_tft


def test_strategy_pairs_with_agent_centric_game():
    pairs = [(a, b, 10 + i) for i, (a, b) in enumerate([("tft", "random"), ("alld", "tft"), ("random", "allc")])]
    for centric in (False, True):
        game = IPDHistory(steps=8, agent_centric=centric)
        for (a, b, seed), traj in zip(pairs, rollout_strategy_pairs(game, pairs, 13), strict=True):
            alone = rollout(IPDHistory(steps=8), a, b, 13, seed=seed, keep_obs=False)
            np.testing.assert_array_equal(traj.actions, alone.actions)
            np.testing.assert_array_equal(traj.rewards, alone.rewards)


# ------------------------------------------------------------------------- CPU == CUDA (simulator)

TESTS = Path(__file__).parent
CASES = [("tft", "random", 37, 1), ("random", "alld", 29, 2), ("tft", "view", 21, 3), ("view", "view", 19, 4)]

CUDA_SCRIPT = textwrap.dedent("""
    import os, pickle, sys
    sys.path.insert(0, {tests!r})
    import numpy as np
    import pola_nb.backends
    from pola_kernels import config
    from pola_nb.sampled import IPDHistory, rollout
    from pola_nb.sampled.rollout import rollout_strategy_pairs
    from test_ipd_agent_centric import ViewTFT
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":  # the simulator's device has no name
        pola_nb.backends.cuda_status = lambda: "available (numba CUDA simulator)"
    config.THREADS_PER_BLOCK, config.MAX_BLOCKS = 4, 3
    cases = pickle.loads(bytes.fromhex(sys.argv[1]))
    game = IPDHistory(cf=1.5, steps=6, agent_centric=True)
    out = {{}}
    for i, (a1, a2, batch, seed) in enumerate(cases):
        agents = [ViewTFT(k + 1, True) if a == "view" else a for k, a in enumerate((a1, a2))]
        traj = rollout(game, agents[0], agents[1], batch, seed=seed, backend="cuda")
        for name in ("obs", "obs2", "actions", "rewards"):
            out[f"{{i}}_{{name}}"] = getattr(traj, name)
    pairs = [(a1, a2, seed) for a1, a2, _, seed in cases if "view" not in (a1, a2)]
    for p, traj in enumerate(rollout_strategy_pairs(game, pairs, 9, backend="cuda")):
        out[f"pair{{p}}_actions"] = traj.actions
    np.savez(sys.argv[2], **out)
""")


def test_cpu_equals_cuda_simulator(tmp_path):
    path = tmp_path / "out.npz"
    env = dict(os.environ)
    if os.environ.get("POLA_TEST_REAL_CUDA") != "1":
        env["NUMBA_ENABLE_CUDASIM"] = "1"
    proc = subprocess.run([sys.executable, "-c", CUDA_SCRIPT.format(tests=str(TESTS)), pickle.dumps(CASES).hex(),
                           str(path)], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    cuda = dict(np.load(path))
    game = IPDHistory(cf=1.5, steps=6, agent_centric=True)
    for i, (a1, a2, batch, seed) in enumerate(CASES):
        agents = [ViewTFT(k + 1, True) if a == "view" else a for k, a in enumerate((a1, a2))]
        cpu = rollout(game, agents[0], agents[1], batch, seed=seed)
        np.testing.assert_array_equal(cpu.obs2, cpu.obs[..., SWAP])
        for name in ("obs", "obs2", "actions", "rewards"):
            np.testing.assert_array_equal(cuda[f"{i}_{name}"], getattr(cpu, name), err_msg=f"case {i} {name}")
    pairs = [(a1, a2, seed) for a1, a2, _, seed in CASES if "view" not in (a1, a2)]
    for p, traj in enumerate(rollout_strategy_pairs(game, pairs, 9)):
        np.testing.assert_array_equal(cuda[f"pair{p}_actions"], traj.actions)
