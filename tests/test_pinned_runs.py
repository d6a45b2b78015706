"""Short POLA-family runs pinned to the metrics they produced before the learners became types.

The values were recorded with the learners as plain functions (``learners.update`` called by the
training loop); the generic learner interface must reproduce them exactly (they are discrete counts
of 24 episodes x 50 steps, so a changed random stream or update changes them by whole steps).
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from pola_nb.runfile import load_checkpoint
from pola_nb.sampled.config import preset_config
from pola_nb.sampled.training import train

SMALL = dict(seeds=(3, 4), hidden=8, batch_size=24)

PINNED = {
    ("coin", "pola-dice"): (dict(updates=2, outer_steps=3), {
        "score1": [[0.0075, -0.025], [-0.03, 0.0016667], [0.0033333, 0.0208333]],
        "score2": [[-0.0216667, 0.005], [0.0266667, 0.0033333], [-0.0058333, -0.0166667]],
        "vs_alld1": [[-0.5266667, -0.525], [-0.5291667, -0.5466667], [-0.5041667, -0.5375]]}),
    ("ipd", "pola-om"): (dict(updates=2, outer_steps=3, om_batches=2), {
        "score1": [[0.0708792, 0.1490542], [0.0992583, 0.1560833], [0.0298833, 0.1135125]],
        "score2": [[0.2500458, 0.2032208], [0.1575917, 0.1244167], [0.1582167, 0.0710125]],
        "vs_alld1": [[-0.1867625, -0.2004417], [-0.1527042, -0.1465625], [-0.1225542, -0.095475]]}),
    ("ipd", "lola-dice"): (dict(updates=3), {
        "score1": [[0.0636833, 0.1428708], [0.0544042, 0.1474917], [0.0564792, 0.1273583],
                   [-0.0192792, 0.0860458]],
        "score2": [[0.2520167, 0.2237042], [0.2285708, 0.2391583], [0.2556458, 0.2306917],
                   [0.3165542, 0.2568792]],
        "vs_alld1": [[-0.1996042, -0.199325], [-0.1828542, -0.2077], [-0.1898333, -0.1965333],
                     [-0.2090958, -0.21105]]}),
}


@pytest.mark.parametrize("game,algo", list(PINNED))
def test_short_run_metrics_are_pinned(tmp_path, game, algo):
    overrides, expected = PINNED[(game, algo)]
    path = train(tmp_path / "run.h5", preset_config(game, algo, "quick", **SMALL, **overrides))
    with h5py.File(path) as f:
        for name, values in expected.items():
            np.testing.assert_allclose(f[f"metrics/{name}"][()], values, atol=1e-6, err_msg=name)


def test_short_lola_dice_parameters_are_pinned(tmp_path):
    """The last LOLA-DiCE run's agent 1 policy parameters, summed (float64).

    The pinned sum is the AVX-512 (SkylakeX) OpenBLAS kernels' result; OpenBLAS's other x86 kernel
    families round the float32 products differently and give sums within 8e-6 relative of it
    (Haswell and Zen 9.94627, Sandybridge and Prescott 9.94631), hence the bound of 5e-5."""
    overrides, _ = PINNED[("ipd", "lola-dice")]
    path = train(tmp_path / "run.h5", preset_config("ipd", "lola-dice", "quick", **SMALL, **overrides))
    pol = load_checkpoint(path)[2][0]["pol"]
    assert np.sum([np.sum(v, dtype=np.float64) for v in pol.values()]) == pytest.approx(9.946350328624249, rel=5e-5)
