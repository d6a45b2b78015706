"""The two agents' parts of one update as independent tasks, and the new pair assembled from them.

:func:`pair_jobs` draws the two parts' random seeds from the run's generator (two draws per update,
whether the parts then run here or elsewhere) and builds the arguments of
:func:`pola_nb.sampled.learners.agent_step`; :func:`assemble` turns the two results into the new pair.
:func:`update_pair` runs both at once; the training loop submits them to an
executor (:mod:`pola_nb.sampled.cluster`) and assembles them when both are back. A task is a pure
function of its arguments, so where it runs does not change its result.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from pola_nb.sampled import tree
from pola_nb.sampled.learners import agent_step

#: One agent's part: the arguments of ``agent_step(arch, agents, me, hp, rollout, seed, model)``.
Job = tuple
#: What ``agent_step`` returns: ``(new_agent, new_model or None)``.
StepResult = tuple[Any, Any]


def pair_jobs(arch, agents: tuple, hp, rollout, rng: np.random.Generator, models: tuple | None = None) -> list[Job]:
    """Both agents' parts of one update from the start-of-update pair ``agents``.

    Draws two seeds in ``[0, 2**63 - 1)`` from ``rng`` (agent 1's first); ``models[i]`` is agent i's
    model of its opponent (POLA-OM only). The parameters are detached from any gradient tape.
    """
    agents = tuple(tree.stop(a) for a in agents)
    seeds = rng.integers(0, 2**63 - 1, size=2)
    return [(arch, agents, i, hp, rollout, int(seeds[i]), models[i] if hp.uses_opponent_model else None)
            for i in (0, 1)]


def assemble(results: list[StepResult], hp, models: tuple | None = None) -> tuple[tuple, tuple | None]:
    """``(new_agents, new_models)`` from the two parts' results (agent 1's first); ``models`` are
    returned unchanged unless the algorithm learns opponent models."""
    new = (results[0][0], results[1][0])
    return new, ((results[0][1], results[1][1]) if hp.uses_opponent_model else models)


def timed_step(job: Job) -> tuple[StepResult, float, float]:
    """Run one part (``agent_step(*job)``) with one numba thread in the running thread:
    ``(result, start, end)``, the two times in seconds since the epoch (``time.time``), so that the
    parts of one update run in different processes of one machine can be put on one time line."""
    from pola_nb.sampled.process import pinned_numba_threads

    with pinned_numba_threads(1):
        start = time.time()
        result = agent_step(*job)
        return result, start, time.time()


def _agent_step(args):
    return agent_step(*args)


def update_pair(arch, agents: tuple, hp, rollout, rng: np.random.Generator, models: tuple | None = None,
                pool=None) -> tuple[tuple, tuple | None]:
    """One simultaneous update of both agents: ``(new_agents, new_models)``.

    Both agents' parts read the same start-of-update ``agents`` and get independent random streams
    drawn from ``rng`` (:func:`pair_jobs`), so running them in parallel
    (``pool``: any executor with ``map``, e.g. a ``concurrent.futures`` executor or a Dask client's
    ``get_executor()``) gives the same result as running them one after the other here. Training
    submits the two parts as separate tasks instead (:mod:`pola_nb.sampled.training`). ``models[i]``
    is agent i's persistent model of its opponent (POLA-OM only; else None).
    """
    jobs = pair_jobs(arch, agents, hp, rollout, rng, models)
    results = list(pool.map(_agent_step, jobs)) if pool is not None else [_agent_step(j) for j in jobs]
    return assemble(results, hp, models)
