"""Check the DiCE estimator against exact derivatives (memory-one tables on the full-history IPD).

Both agents play memory-one tabular policies with tabular value baselines, so the truncated
objective ``J_k`` and all its derivatives are exact (:mod:`~pola_nb.sampled.exact_memory_one`). The
sampled estimates come from the production code path (:func:`~pola_nb.sampled.learners.agent_loss`,
:func:`~pola_nb.sampled.learners.outer_loss`):

- ``grad_cosine``: cosine between the DiCE policy gradients ``(dJ_1/dθ_1, dJ_2/dθ_2)`` of one batch
  and the exact ones;
- ``lola_term_cosine``: cosine between the LOLA-DiCE opponent-shaping terms of both agents (outer
  gradient through the differentiated inner step minus the same gradient with the looked-ahead
  opponent held fixed; fresh batches for the inner and the outer step) and the exact LOLA terms.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from autograd import grad

from pola_nb.errors import require
from pola_nb.sampled.exact_memory_one import exact_objectives, joint_transition, payoffs
from pola_nb.sampled.learners import Rollout, agent_loss, lola_dice, outer_loss, samplers
from pola_nb.sampled.policies import Architecture, MemoryOneTable


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity; NaN when either vector is zero."""
    den = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / den) if den > 0 else float("nan")


def state_values(tables: list[np.ndarray], cf: float, gamma: float) -> np.ndarray:
    """Exact infinite-horizon values ``(2, 5)`` of both agents after each state (the baseline)."""
    P = np.asarray(joint_transition(*tables), np.float64)
    r = payoffs(cf)  # (2, 4)
    # V(s) = sum_s' P[s, s'] (r(s') + gamma V(s')) for the 4 joint states, then the start state.
    v4 = np.linalg.solve(np.eye(4) - gamma * P[:4], P[:4] @ r.T)  # (4, 2)
    v_start = P[4] @ (r.T + gamma * v4)
    return np.vstack([v4, v_start]).T


def check_estimator(batch: int = 4000, seed: int = 0, steps: int = 50, cf: float = 1.33, gamma: float = 0.96,
                    lr_in: float = 1.0, rollout: Rollout | None = None) -> dict[str, Any]:
    """Run the comparison; returns ``grad_cosine``, ``lola_term_cosine`` and the vectors compared."""
    require(batch >= 1 and steps >= 1, "batch and steps must be positive")
    rng = np.random.default_rng(seed)
    arch = Architecture(MemoryOneTable(2), MemoryOneTable(1))
    tables = [(0.7 * rng.standard_normal((5, 2))).astype(np.float32) for _ in range(2)]
    vals = state_values(tables, cf, gamma)
    agents = tuple({"pol": {"table": tables[i]}, "val": {"table": vals[i][:, None].astype(np.float32)}}
                   for i in (0, 1))
    hp = lola_dice(lr_in=lr_in, lr_v=0.0, batch_size=batch, gamma=gamma)
    if rollout is None:
        rollout = default_rollout(cf, steps)

    # exact side (float64)
    t64 = [t.astype(np.float64) for t in tables]

    def J(k, a, b):
        return exact_objectives(a, b, cf, gamma, steps, vals)[k]

    exact_grad = [grad(J, 1)(0, *t64), grad(J, 2)(1, *t64)]
    lookahead_opp = [t64[1] + lr_in * grad(J, 2)(1, *t64), t64[0] + lr_in * grad(J, 1)(0, *t64)]

    def J1_shaped(a):
        return J(0, a, t64[1] + lr_in * grad(J, 2)(1, a, t64[1]))

    def J2_shaped(b):
        return J(1, t64[0] + lr_in * grad(J, 1)(0, t64[0], b), b)

    exact_lola = [grad(J1_shaped)(t64[0]) - grad(J, 1)(0, t64[0], lookahead_opp[0]),
                  grad(J2_shaped)(t64[1]) - grad(J, 2)(1, lookahead_opp[1], t64[1])]

    # sampled side: one batch for the naive gradients
    traj = rollout(samplers(arch, 0, agents[0]["pol"], agents[1]["pol"]), batch, rng)
    est_grad = [-grad(agent_loss, 1)(arch, agents[i], agents[1 - i]["pol"], traj, i, hp)["pol"]["table"]
                for i in (0, 1)]
    # LOLA-DiCE shaping term: same random numbers with and without differentiating the lookahead
    est_lola = []
    for i in (0, 1):
        state = rng.bit_generator.state
        g = []
        for shape in (True, False):
            rng.bit_generator.state = state
            g.append(grad(outer_loss, 1)(arch, agents[i], agents[i]["pol"], agents[1 - i], i, hp, rollout, rng,
                                         shape)["pol"]["table"])
        est_lola.append(-(g[0] - g[1]))

    def flat(xs):
        return np.concatenate([np.ravel(x) for x in xs]).astype(np.float64)

    return {
        "grad_cosine": _cos(flat(est_grad), flat(exact_grad)),
        "lola_term_cosine": _cos(flat(est_lola), flat(exact_lola)),
        "batch": batch, "seed": seed, "steps": steps, "lr_in": lr_in,
        "grad_exact": flat(exact_grad).tolist(), "grad_estimate": flat(est_grad).tolist(),
        "lola_term_exact": flat(exact_lola).tolist(), "lola_term_estimate": flat(est_lola).tolist(),
    }


def default_rollout(cf: float, steps: int) -> Rollout:
    """The IPD rollout driver (numba kernels) as used in training."""
    from pola_nb.sampled.games import IPDHistory
    from pola_nb.sampled.learners import game_rollout

    return game_rollout(IPDHistory(cf=cf, steps=steps))


__all__ = ["check_estimator", "state_values"]
