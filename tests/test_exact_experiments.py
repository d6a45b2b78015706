"""The experiment layer: seeds, batching over cf, settings per figure."""

import numpy as np

from pola_nb.exact import experiments as ex


def lola_tabular():
    return next(m for m in ex.fig3_methods() if m.name == "lola-tabular")


def test_same_seed_same_runs_and_repeats_share_their_init_across_cf():
    m = ex.quick([lola_tabular()], 3, 100)[0]
    a = ex.run_method(m, (1.1, 1.6), 3, seed=7)
    b = ex.run_method(m, (1.1, 1.6), 3, seed=7)
    c = ex.run_method(m, (1.1, 1.6), 3, seed=8)
    np.testing.assert_array_equal(a.history.probs, b.history.probs)
    assert not np.allclose(a.history.probs[0], c.history.probs[0])
    init = a.history.probs[0].reshape(2, 3, 2, 5)  # (cf, repeat, agent, state)
    np.testing.assert_array_equal(init[0], init[1])
    assert not np.allclose(init[0, 0], init[0, 1])


def test_batched_cfs_equal_separate_runs():
    m = ex.quick([lola_tabular()], 4, 100)[0]
    both = ex.run_method(m, (1.1, 1.6), 2, seed=3).history.probs.reshape(5, 2, 2, 2, 5)
    alone = ex.run_method(m, (1.6,), 2, seed=3).history.probs
    np.testing.assert_allclose(both[:, 1], alone, atol=1e-12)


def test_paper_settings_and_nearest_cf():
    methods = {m.name: m for m in ex.fig3_methods()}
    assert set(methods) == {f"{a}-{p}" for a in ("lola", "pola") for p in ("tabular", "nn", "precond")}
    pola_nn = methods["pola-nn"]
    assert pola_nn.learner_for(1.25).beta_out == 0.13 and pola_nn.learner_for(1.6).lr_in == 0.12
    assert pola_nn.learner_for(1.62) == pola_nn.learner_for(1.6)
    assert methods["pola-precond"].seed == 2 and methods["pola-precond"].epochs == 10
    assert all(lr.prox for lr in pola_nn.learners.values())
    b16 = {m.name: m for m in ex.b16_methods()}
    assert b16["pola-om-precond"].learner_for(1.33).lookahead_steps == 200
    assert b16["lola-om-nn"].om_family is not None


def test_quick_caps_epochs_and_proximal_iterations():
    q = {m.name: m for m in ex.quick(ex.fig3_methods(), 10, 400)}
    assert q["lola-nn"].epochs == 10 and q["pola-tabular"].epochs == 2
    assert all(lr.prox_max_iters == 400 for lr in q["pola-nn"].learners.values())
