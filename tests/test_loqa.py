"""The LOQA learner: its state, its opponent population, its run files and resume.

The loss terms are checked against closed forms in ``test_loqa_terms.py``; here the learner's
wiring: which parameters play and learn, when snapshots are taken, what the file keeps.
"""

from __future__ import annotations

from dataclasses import replace

import h5py
import numpy as np
import pytest
from resumption import interrupted_and_resumed

from pola_nb.errors import PolaUsageError
from pola_nb.generics import init_state, make_learner, players, train_step
from pola_nb.runfile import load_checkpoint
from pola_nb.sampled import tree
from pola_nb.sampled.config import preset_config
from pola_nb.sampled.loqa import Population, with_time
from pola_nb.sampled.training import train

TINY = dict(seeds=(1, 2), hidden=8, q_hidden=8, batch_size=16, steps=6, updates=5, eval_every=2,
            checkpoint_every=2, population_every=2)


def tiny(game: str = "coin", **kw):
    return preset_config(game, "loqa", "quick", **{**TINY, **kw})


def test_population_takes_a_snapshot_every_population_every_updates():
    cfg = tiny(seeds=(1,))
    learner, game = make_learner(cfg.hp, cfg), cfg.make_game()
    rng = np.random.default_rng(0)
    state = init_state(learner, game, rng)
    seen = [tree.copy(state["params"])]
    for _ in range(5):
        state, _ = train_step(learner, game, state, rng)
        seen.append(tree.copy(state["params"]))
    pop = state["population"]
    assert len(pop) == 3  # updates 0, 2 and 4 started with a push
    for i, snap in enumerate(pop):
        np.testing.assert_array_equal(tree.flat(snap), tree.flat(seen[2 * i]))
    assert int(state["step"]) == 5
    a, b = players(learner, state)
    assert a["pol"] is b["pol"] is state["params"]["pol"]


def test_update_moves_actor_q_and_target_as_described():
    """The actor step changes the actor and the Q network (the TD advantage is not stopped); the
    target moves by (1 - ema_keep) of the way to the new parameters; the Adam counts advance by one."""
    cfg = tiny(seeds=(1,), ema_keep=0.75)
    learner, game = make_learner(cfg.hp, cfg), cfg.make_game()
    rng = np.random.default_rng(1)
    s0 = init_state(learner, game, rng)
    s1, _ = train_step(learner, game, s0, rng)
    for part in ("pol", "q"):
        assert not np.array_equal(tree.flat(s1["params"][part]), tree.flat(s0["params"][part])), part
    expected = 0.75 * tree.flat(s0["target"]) + 0.25 * tree.flat(s1["params"])
    np.testing.assert_allclose(tree.flat(s1["target"]), expected, rtol=1e-6, atol=1e-7)
    assert int(s1["adam"]["t"]) == 1 and int(s1["adam_q"]["t"]) == 1


def test_stopped_td_advantage_leaves_q_to_the_q_step_only(monkeypatch):
    """With stop_td_advantage the actor objective has no gradient in the Q network."""
    from autograd import grad

    from pola_nb.sampled import loqa

    cfg = tiny(seeds=(1,), stop_td_advantage=True)
    learner, game = make_learner(cfg.hp, cfg), cfg.make_game()
    captured = {}
    real = loqa.actor_objective

    def spy(theta, *args):
        captured["g"] = grad(real)(tree.stop(theta), *args)
        return real(theta, *args)

    monkeypatch.setattr(loqa, "actor_objective", spy)
    rng = np.random.default_rng(2)
    train_step(learner, game, init_state(learner, game, rng), rng)
    assert np.all(tree.flat(captured["g"]["q"]) == 0)
    assert np.any(tree.flat(captured["g"]["pol"]) != 0)


def test_with_time_appends_the_raw_step_index():
    obs = np.zeros((4, 3, 2), np.float32)
    x = with_time(obs)
    assert x.shape == (4, 3, 3) and x.dtype == np.float32
    np.testing.assert_array_equal(x[:, 1, 2], [0, 1, 2, 3])


def test_population_stacks_grow_with_the_list():
    rng = np.random.default_rng(0)
    snaps = [{"pol": {"w": rng.standard_normal((2, 3)).astype(np.float32)}} for _ in range(40)]
    pop = Population(snaps[:3])
    np.testing.assert_array_equal(pop.stacked("pol")["w"], np.stack([s["pol"]["w"] for s in snaps[:3]]))
    for k in range(4, len(snaps) + 1):  # one at a time, through every growth of the capacity
        pop.append(snaps[k - 1])
        np.testing.assert_array_equal(pop.stacked("pol")["w"], np.stack([s["pol"]["w"] for s in snaps[:k]]))


@pytest.mark.parametrize("game", ["coin", "ipd"])
def test_resumed_run_equals_the_uninterrupted_one(tmp_path, game):
    """Parameters, EMA target, Adam states, population and random numbers all come back: a run
    stopped after update 2 and resumed ends with the same metrics and checkpoints."""
    full, _ = interrupted_and_resumed(tmp_path, tiny(game), stop_update=2)
    with h5py.File(full) as f:
        np.testing.assert_array_equal(f["metrics/update"][()], [0, 2, 4, 5])
        assert len(f["state/seed_0/population"]) == 3


def test_loqa_needs_agent_centric_views_and_its_own_settings():
    with pytest.raises(PolaUsageError, match="agent-centric"):
        preset_config("coin", "loqa", "quick", agent_centric=False)
    with pytest.raises(PolaUsageError, match="outer_steps is a setting of"):
        preset_config("coin", "loqa", "quick", outer_steps=3)
    with pytest.raises(PolaUsageError, match="lr_q is a setting of loqa"):
        preset_config("coin", "pola-dice", "quick", lr_q=0.1)
    cfg = tiny()
    assert replace(cfg, updates=7).hp == cfg.hp


def test_strong_cooperation_is_the_first_evaluation_past_both_thresholds(tmp_path):
    """Synthetic rows (updates 0, 10, 20, 30) on a 5x5 grid (scale 2 floor(5/2) = 4): seed 0 passes
    both thresholds first at update 20, seed 1 passes the self-play one but never the ALLD one."""
    from pola_nb.generics import metric_names
    from pola_nb.runfile import create_run_file, write_row
    from pola_nb.sampled.report import strong_cooperation

    cfg = preset_config("coin", "loqa", "quick", grid=5, seeds=(1, 2), updates=30, eval_every=10)
    path = tmp_path / "s.h5"
    create_run_file(path, cfg)
    each = [[0.0, 0.06], [0.04, 0.06], [0.06, 0.06], [0.07, 0.07]]  # per row, per seed
    alld = [[-0.2, -0.2], [-0.04, -0.06], [-0.04, -0.06], [-0.01, -0.06]]
    with h5py.File(path, "a") as f:
        for row in range(4):
            for k in range(2):
                m = dict.fromkeys(metric_names(cfg.make_game()), 0.0)
                m.update(score1=each[row][k], score2=each[row][k], vs_alld1=alld[row][k], vs_alld2=alld[row][k],
                         wall_time=100.0 * row + k)
                write_row(f, cfg, 10 * row, k, m)
    with h5py.File(path) as f:
        sc = strong_cooperation(f, 5)
    assert sc == {"update": [20, None], "wall_time_s": [200.0, None], "reached": 1}


@pytest.mark.parametrize("game", ["coin", "ipd"])
def test_a_shared_view_agent_2_plays_an_agent_centric_game_as_it_was_trained(tmp_path, game):
    """Cross-play puts every checkpoint in an agent-centric game; a POLA run's agent 2 (trained on
    agent 1's view) is wrapped so that its trajectory is bit-identical to the shared-view game's."""
    from pola_nb.runfile import checkpoint_agent
    from pola_nb.sampled.games import make_game
    from pola_nb.sampled.policies import PolicySampler, SwappedView
    from pola_nb.sampled.rollout import rollout

    cfg = preset_config(game, "pola-dice", "quick", updates=1, hidden=4, steps=5, batch_size=8, outer_steps=1)
    path = train(tmp_path / "p.h5", cfg)
    _, a1 = checkpoint_agent(str(path), 0)
    _, a2 = checkpoint_agent(str(path), 1)
    assert isinstance(a1, PolicySampler) and isinstance(a2, SwappedView)
    shared = rollout(make_game(game, steps=7), a1, a2.agent, 64, seed=5)
    centric = rollout(make_game(game, steps=7, agent_centric=True), a1, a2, 64, seed=5)
    np.testing.assert_array_equal(shared.actions, centric.actions)
    np.testing.assert_array_equal(shared.rewards, centric.rewards)
    if game == "coin":  # the view matters (a 1-update IPD agent hardly reads its observations)
        unwrapped = rollout(make_game(game, steps=7, agent_centric=True), a1, a2.agent, 64, seed=5)
        assert not np.array_equal(shared.actions, unwrapped.actions)


def test_league_of_pola_and_loqa_checkpoints(tmp_path):
    from pola_nb.league import run_league

    pola = train(tmp_path / "p.h5", preset_config("coin", "pola-dice", "quick", updates=1, hidden=4, steps=5,
                                                  batch_size=8, outer_steps=1))
    loqa = train(tmp_path / "l.h5", tiny(seeds=(1,)))
    run_league([str(pola), str(loqa)], tmp_path / "league.h5", strategies=["alld"], batch=32)
    with h5py.File(tmp_path / "league.h5") as f:
        assert f["score_row"].shape == (3, 3) and not np.isnan(f["score_row"][()]).any()


def test_loqa_learns_reciprocity_on_the_ipd(tmp_path):
    """The quick IPD preset (memory-one actor, own-first states): after 150 updates the policy
    cooperates after mutual cooperation and after the opponent cooperated, and defects after the
    opponent defected, i.e. tit-for-tat (the LOQA paper's IPD result)."""
    from pola_nb.ipd_rules import STATES
    from pola_nb.sampled.policies import log_softmax

    path = train(tmp_path / "ipd.h5", preset_config("ipd", "loqa", "quick"))
    table = load_checkpoint(path)[2][0]["pol"]["table"]
    p_c = dict(zip(STATES, np.exp(log_softmax(table))[:, 1], strict=True))  # (own, other) previous actions
    assert p_c["CC"] > 0.9 and p_c["DC"] > 0.9, p_c  # the opponent cooperated
    assert p_c["CD"] < 0.1 and p_c["DD"] < 0.2, p_c  # the opponent defected


def test_epsilon_greedy_explores_with_probability_epsilon():
    """Actions of an always-cooperate agent under epsilon = 0.2 (2 actions): about 10% defections,
    exactly where u < 0.2 and u / 0.2 < 1/2; epsilon = 0 is the agent itself."""
    from pola_nb.sampled.loqa import EpsilonGreedy

    class AlwaysC:
        def reset(self, batch):
            pass

        def act(self, obs, last_reward, u):
            assert np.all((u >= 0) & (u < 1))
            return np.ones(len(u), np.int32)

    u = np.random.default_rng(0).random(100_000, dtype=np.float32)
    a = EpsilonGreedy(AlwaysC(), 0.2, 2).act(None, None, u)
    np.testing.assert_array_equal(a == 0, u < 0.1)
    assert abs(np.mean(a == 0) - 0.1) < 0.005
    np.testing.assert_array_equal(EpsilonGreedy(AlwaysC(), 0.0, 2).act(None, None, u), 1)


def test_the_rollouts_recording_stands_for_the_actors_forward_pass(monkeypatch):
    """The actor objective scores the rollout's recorded forward pass (all T+1 observations); its
    value and gradient equal those of a fresh forward pass."""
    from autograd import grad

    from pola_nb.sampled import loqa

    cfg = tiny(seeds=(1,))
    learner, game = make_learner(cfg.hp, cfg), cfg.make_game()
    seen = {}
    real = loqa.actor_objective

    def spy(theta, *args):
        seen["args"] = args
        return real(theta, *args)

    monkeypatch.setattr(loqa, "actor_objective", spy)
    rng = np.random.default_rng(3)
    state = init_state(learner, game, rng)
    train_step(learner, game, state, rng)
    *args, known = seen["args"]
    assert known is not None and known.hs.shape[0] == cfg.steps + 1
    theta = state["params"]
    assert real(theta, *args, known) == pytest.approx(float(real(theta, *args)), rel=1e-6)
    g_known, g_fresh = grad(real)(theta, *args, known), grad(real)(theta, *args)
    np.testing.assert_allclose(tree.flat(g_known), tree.flat(g_fresh), rtol=1e-5, atol=1e-7)


def test_the_populations_recorded_logits_stand_for_the_opponents_policy(monkeypatch):
    """With a population, the opponent's policy values come from the logits its sampler recorded in
    the rollout; they equal those of a second pass over the snapshots (float32 rounding)."""
    from pola_nb.sampled import loqa

    cfg = tiny(seeds=(1,))
    learner, game = make_learner(cfg.hp, cfg), cfg.make_game()
    seen = {}
    real = loqa.opponent_constants

    def spy(*args):
        seen["args"] = args
        return real(*args)

    monkeypatch.setattr(loqa, "opponent_constants", spy)
    rng = np.random.default_rng(5)
    state = init_state(learner, game, rng)
    for _ in range(3):  # the population gets its first snapshot at update 0
        state, _ = train_step(learner, game, state, rng)
    *args, logits = seen["args"]
    assert logits is not None and logits.shape == (cfg.steps, cfg.hp.batch_size, game.n_actions)
    recorded, fresh = real(*args, logits), real(*args)
    np.testing.assert_allclose(recorded.values, fresh.values, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(recorded.q, fresh.q)
