"""The Advantage Alignment learner (``aa`` and ``paa``): its policy gradient against an independent
REINFORCE-with-GAE loss, PAA's first epoch, KL early stopping, the critic's target and the Adam
states, resume, and the command line.

The loss terms themselves are checked in ``test_aa_terms.py``; here the learner's wiring.
"""

from __future__ import annotations

import importlib
from dataclasses import replace

import autograd.numpy as anp
import h5py
import numpy as np
import pytest
from autograd import grad
from resumption import interrupted_and_resumed
from typer.testing import CliRunner

from pola_nb.cli import app
from pola_nb.generics import init_net, init_state, make_learner, net_sequence, players, train_step
from pola_nb.sampled import advantage_alignment as aa
from pola_nb.sampled import tree
from pola_nb.sampled.config import preset_config

#: the rollout module (``pola_nb.sampled.rollout`` the attribute is its function)
rollout_module = importlib.import_module("pola_nb.sampled.rollout")

TINY = dict(seeds=(1,), hidden=8, batch_size=16, steps=6, updates=5, eval_every=2, checkpoint_every=2)


def tiny(game: str = "coin", algo: str = "paa", **kw):
    return preset_config(game, algo, "quick", **{**TINY, **kw})


def setup(cfg, seed: int = 0):
    learner, game = make_learner(cfg.hp, cfg), cfg.make_game()
    return learner, game, init_state(learner, game, np.random.default_rng(seed))


def spy_policy_grads(monkeypatch) -> list:
    """Record every gradient :func:`aa.policy_grad` returns (flat float64), in call order."""
    seen: list = []
    real = aa.policy_grad

    def spy(*args):
        g, logp = real(*args)
        seen.append(tree.flat(g))
        return g, logp

    monkeypatch.setattr(aa, "policy_grad", spy)
    return seen


# ------------------------------------------------------------------ the gradient, written independently


def gae_reference(rewards: np.ndarray, v: np.ndarray, gamma: float, lam: float) -> np.ndarray:
    """``A_t = sum_{l >= 0} (gamma lam)^l (r_{t+l} + gamma V_{t+l+1} - V_{t+l})`` by the double sum, float64."""
    T = rewards.shape[0]
    delta = rewards + gamma * v[1:] - v[:-1]
    return np.stack([sum((gamma * lam) ** (u - t) * delta[u] for u in range(t, T)) for t in range(T)])


def alignment_reference(a_me: np.ndarray, a_opp: np.ndarray, beta: float, gamma: float, form: str) -> np.ndarray:
    """``A*_t = A_t + beta w_t A^opp_t`` with ``w_t = (1/t) sum_{k<t} A_k`` (running-mean, 0 at t = 0) or
    ``gamma sum_{k<t} gamma^(t-k) A_k`` (discounted), one step at a time."""
    out = a_me.copy()
    for t in range(1, a_me.shape[0]):
        if form == "running-mean":
            w = sum(a_me[k] for k in range(t)) / t
        else:
            w = gamma * sum(gamma ** (t - k) * a_me[k] for k in range(t))
        out[t] += beta * w * a_opp[t]
    return out


def reinforce_loss(pol, arch, traj, val, hp):
    """REINFORCE over both seats' episodes of ``traj`` with GAE advantages (optionally normalised over
    the batch, then aligned with the other seat's): ``-(1/2TB) sum_{seat,t,b} A*_t log pi(a_t|h_t)
    - entropy_beta (1/2TB) sum H``."""
    advs, logps, ents = [], [], []
    for seat in (0, 1):
        obs = traj.observations(seat)
        v = np.asarray(net_sequence(arch.value, val, obs)[..., 0], np.float64)
        advs.append(gae_reference(traj.rewards[..., seat].astype(np.float64), v, hp.gamma, hp.gae_lambda))
        logits = net_sequence(arch.policy, pol, obs[:-1])
        logp = logits - anp.log(anp.sum(anp.exp(logits), axis=-1, keepdims=True))
        a = traj.actions[..., seat].astype(int)
        logps.append(anp.sum(logp * np.eye(logp.shape[-1])[a], axis=-1))
        ents.append(-anp.sum(anp.exp(logp) * logp, axis=-1))
    if hp.normalise:
        both = np.concatenate(advs, axis=1)
        advs = [(x - both.mean()) / (both.std(ddof=1) + 1e-8) for x in advs]
    adv = np.concatenate([alignment_reference(advs[seat], advs[1 - seat], hp.aa_beta, hp.gamma, hp.aa_form)
                          for seat in (0, 1)], axis=1)
    n = adv.size
    logp = anp.concatenate(logps, axis=1)
    return -anp.sum(adv * logp) / n - hp.entropy_beta * anp.sum(anp.concatenate(ents, axis=1)) / n


@pytest.mark.parametrize("algo,normalise,beta,form", [("aa", False, 0.0, "running-mean"),
                                                      ("paa", True, 0.0, "running-mean"),
                                                      ("aa", True, 0.7, "running-mean"),
                                                      ("paa", False, 0.7, "discounted")])
def test_the_policy_gradient_is_reinforce_with_gae(monkeypatch, algo, normalise, beta, form):
    """One epoch: the update's policy gradient (before clipping) is the gradient of a REINFORCE loss
    with GAE advantages from the ONLINE critic (the target differs here) on both seats' episodes;
    with beta > 0 the advantage is aligned with the other seat's of the same episode."""
    cfg = tiny(algo=algo, aa_beta=beta, aa_form=form, epochs=1, normalise=normalise, gae_lambda=0.8,
               grad_clip=0.0)
    learner, _, state = setup(cfg)
    state["target_val"] = init_net(learner.arch.value, np.random.default_rng(99))
    trajs = []
    real_rollout = rollout_module.rollout

    def keep(*args, **kw):
        trajs.append(real_rollout(*args, **kw))
        return trajs[-1]

    monkeypatch.setattr(rollout_module, "rollout", keep)
    grads = spy_policy_grads(monkeypatch)
    aa.aa_update(learner, state, 7)
    assert len(trajs) == 1 and len(grads) == 1
    theta = state["params"]
    want = tree.flat(grad(reinforce_loss)(theta["pol"], learner.arch, trajs[0], theta["val"], cfg.hp))
    assert np.linalg.norm(want) > 1e-4
    np.testing.assert_allclose(grads[0], want, rtol=2e-4, atol=2e-5 * np.abs(want).max())


def test_paa_first_epoch_is_the_aa_step(monkeypatch):
    """With the first epoch's own log-probabilities as the old ones, rho = 1: PAA's first gradient
    equals AA's on the same batch (alignment term on, normalised)."""
    cfg = tiny(algo="paa", epochs=2, aa_beta=1.0, clip=0.1)
    learner, game, state = setup(cfg, seed=3)
    grads = spy_policy_grads(monkeypatch)
    _, info = aa.aa_update(learner, state, 11)
    assert info["epochs"] == 2 and len(grads) == 2
    aa_learner = make_learner(replace(cfg.hp, algo="aa"), cfg)
    aa.aa_update(aa_learner, state, 11)
    assert len(grads) == 3
    np.testing.assert_allclose(grads[0], grads[2], rtol=1e-4, atol=1e-6 * np.abs(grads[2]).max())
    # the second epoch is a different (proximal) step
    assert not np.allclose(grads[1], grads[0], rtol=1e-3)


def test_kl_early_stopping(monkeypatch):
    """A huge learning rate moves the policy past the KL threshold after the first epoch, so the
    second is skipped (one Adam step); a tiny one leaves it below, and every epoch runs."""
    grads = spy_policy_grads(monkeypatch)
    for lr, epochs, steps in ((10.0, 3, 1), (1e-7, 3, 3)):
        cfg = tiny(algo="paa", epochs=epochs, lr_actor=lr, kl_threshold=0.05)
        learner, _, state = setup(cfg, seed=4)
        grads.clear()
        new, info = aa.aa_update(learner, state, 5)
        assert info["epochs"] == steps, (lr, info)
        assert int(new["adam"]["t"]) == steps
        assert len(grads) == min(steps + 1, epochs)  # the stopping epoch's gradient is computed, then dropped
        assert (info["approx_kl"] > 0.05) == (steps < epochs), info


# --------------------------------------------------------------------------------- critic and Adam states


def test_critic_gradient_is_huber_td0_against_the_target():
    """The critic's gradient is that of ``mean Huber(V(h_t) - (r_t + gamma V_target(h_{t+1})))`` over
    both seats' episodes (target held constant), and its values are the online critic's."""
    from pola_nb.sampled.loqa_terms import huber

    cfg = tiny(algo="aa", gamma=0.9)
    learner, _, state = setup(cfg, seed=5)
    state["target_val"] = init_net(learner.arch.value, np.random.default_rng(98))
    batch = aa.self_play(learner, state["params"]["pol"], np.random.default_rng(6))
    g, v, loss = aa.critic_grad(learner, state, batch)

    def reference(val):
        total = 0.0
        for seat in (0, 1):
            obs, r = batch.obs[seat], batch.rewards[:, seat * batch.batch:(seat + 1) * batch.batch]
            y = r + 0.9 * np.asarray(net_sequence(learner.arch.value, state["target_val"], obs)[1:, :, 0])
            total = total + anp.sum(huber(net_sequence(learner.arch.value, val, obs)[:-1, :, 0] - y))
        return total / batch.rewards.size

    want = tree.flat(grad(reference)(state["params"]["val"]))
    np.testing.assert_allclose(tree.flat(g), want, rtol=2e-4, atol=2e-5 * np.abs(want).max())
    np.testing.assert_allclose(loss, reference(state["params"]["val"]), rtol=1e-5)
    online = np.concatenate([net_sequence(learner.arch.value, state["params"]["val"], o)[..., 0] for o in batch.obs], 1)
    np.testing.assert_allclose(v, online, rtol=1e-5, atol=1e-6)


def test_critic_target_moves_by_polyak_and_adam_states_persist():
    cfg = tiny(algo="paa", polyak=0.25)
    learner, game, s0 = setup(cfg, seed=2)
    rng = np.random.default_rng(9)
    s1, _ = train_step(learner, game, s0, rng)
    s2, _ = train_step(learner, game, s1, rng)
    for before, after in ((s0, s1), (s1, s2)):
        expected = 0.75 * tree.flat(before["target_val"]) + 0.25 * tree.flat(after["params"]["val"])
        np.testing.assert_allclose(tree.flat(after["target_val"]), expected, rtol=1e-6, atol=1e-7)
        for part in ("pol", "val"):
            assert not np.array_equal(tree.flat(after["params"][part]), tree.flat(before["params"][part])), part
    # the critic's Adam counts updates, the policy's its steps (2 epochs each here); both persist
    assert int(s2["adam_val"]["t"]) == 2 and int(s2["step"]) == 2
    assert int(s2["adam"]["t"]) == 4
    fresh = dict(s1, adam=tree.adam_init(s1["params"]["pol"]), adam_val=tree.adam_init(s1["params"]["val"]))
    again, _ = aa.aa_update(learner, s1, 123)
    reset, _ = aa.aa_update(learner, fresh, 123)
    for part in ("pol", "val"):
        assert not np.allclose(tree.flat(again["params"][part]), tree.flat(reset["params"][part])), part
    a, b = players(learner, s2)
    assert a["pol"] is b["pol"] is s2["params"]["pol"]


# ------------------------------------------------------------------------------------ runs and the CLI


def test_resumed_run_equals_the_uninterrupted_one(tmp_path):
    """Parameters, critic target, Adam states and random numbers all come back: a run stopped after
    update 2 and resumed ends with the same metrics and checkpoints."""
    full, _ = interrupted_and_resumed(tmp_path, tiny(algo="paa", seeds=(1, 2)), stop_update=2)
    with h5py.File(full) as f:
        np.testing.assert_array_equal(f["metrics/update"][()], [0, 2, 4, 5])


def test_train_and_summary_through_the_cli(tmp_path):
    runner = CliRunner()
    out = tmp_path / "X.h5"
    r = runner.invoke(app, ["train", "coin", "--algo", "paa", "--preset", "quick", "--updates", "4", "--eval-every",
                            "2", "--batch-size", "16", "--hidden", "8", "--out", str(out)])
    assert r.exit_code == 0, r.output
    with h5py.File(out) as f:
        np.testing.assert_array_equal(f["metrics/update"][()], [0, 2, 4])
        assert f.attrs["status"] == "complete"
    s = runner.invoke(app, ["summary", str(out)])
    assert s.exit_code == 0, s.output
    assert "coin paa (complete): 4 updates" in s.output and "own_coin" in s.output
