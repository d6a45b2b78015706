"""The POLA family (LOLA-DiCE, POLA-DiCE, POLA-OM) as a learner type of :mod:`pola_nb.generics`.

An update is two independent tasks, one per agent (:func:`pola_nb.sampled.learners.agent_step`):
:func:`pair_jobs` draws the two parts' random seeds from the run's generator (two draws per update,
whether the parts then run here or elsewhere) and :func:`assemble` turns the two results into the new
pair. The learner's state is ``{"agents": (agent1, agent2)}``, plus ``"models"`` (each agent's model
of its opponent) for POLA-OM. A task is a pure function of its arguments, so where it runs does not
change its result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pola_nb.generics import dispatch
from pola_nb.sampled import tree
from pola_nb.sampled.config import Hyper
from pola_nb.sampled.games import SampledGame
from pola_nb.sampled.learners import Rollout, agent_step
from pola_nb.sampled.policies import Architecture

#: One agent's part: the arguments of ``agent_step(arch, agents, me, hp, rollout, seed, model)``.
Job = tuple
#: What ``agent_step`` returns: ``(new_agent, new_model or None)``.
StepResult = tuple[Any, Any]


@dataclass(frozen=True)
class PolaLearner:
    """LOLA-DiCE, POLA-DiCE or POLA-OM (``hp.algo``) with the agents' networks ``arch``, playing
    with ``rollout``."""

    hp: Any
    arch: Architecture
    rollout: Rollout


def pair_jobs(arch: Architecture, agents: tuple, hp: Hyper, rollout: Rollout, rng: np.random.Generator,
              models: tuple | None = None) -> list[Job]:
    """Both agents' parts of one update from the start-of-update pair ``agents``.

    Draws two seeds in ``[0, 2**63 - 1)`` from ``rng`` (agent 1's first); ``models[i]`` is agent i's
    model of its opponent (POLA-OM only). The parameters are detached from any gradient tape.
    """
    agents = tuple(tree.stop(a) for a in agents)
    seeds = rng.integers(0, 2**63 - 1, size=2)
    return [(arch, agents, i, hp, rollout, int(seeds[i]), models[i] if hp.uses_opponent_model else None)
            for i in (0, 1)]


def assemble(results: list[StepResult], hp: Hyper, models: tuple | None = None) -> tuple[tuple, tuple | None]:
    """``(new_agents, new_models)`` from the two parts' results (agent 1's first); ``models`` are
    returned unchanged unless the algorithm learns opponent models."""
    new = (results[0][0], results[1][0])
    return new, ((results[0][1], results[1][1]) if hp.uses_opponent_model else models)


def run_job(job: Job) -> StepResult:
    """One agent's part: ``agent_step(*job)``."""
    return agent_step(*job)


def update_pair(arch: Architecture, agents: tuple, hp: Hyper, rollout: Rollout, rng: np.random.Generator,
                models: tuple | None = None, pool: Any = None) -> tuple[tuple, tuple | None]:
    """One simultaneous update of both agents: ``(new_agents, new_models)``.

    Both agents' parts read the same start-of-update ``agents`` and get independent random streams
    drawn from ``rng`` (:func:`pair_jobs`), so running them in parallel (``pool``: any executor with
    ``map``, e.g. a ``concurrent.futures`` executor or a Dask client's ``get_executor()``) gives the
    same result as running them one after the other here. ``models[i]`` is agent i's persistent
    model of its opponent (POLA-OM only; else None).
    """
    jobs = pair_jobs(arch, agents, hp, rollout, rng, models)
    results = list(pool.map(run_job, jobs)) if pool is not None else [run_job(j) for j in jobs]
    return assemble(results, hp, models)


# ------------------------------------------------------------------------------------------ generics


@dispatch
def init_state(learner: PolaLearner, game: SampledGame, rng: np.random.Generator) -> dict:
    """Both agents' initial parameters (agent 1's drawn first), then the opponent models (POLA-OM)."""
    arch = learner.arch
    state: dict = {"agents": (arch.init(rng), arch.init(rng))}
    if learner.hp.uses_opponent_model:
        state["models"] = (arch.init(rng), arch.init(rng))
    return state


@dispatch
def step_tasks(learner: PolaLearner, game: SampledGame, state: dict, rng: np.random.Generator) -> list:
    """The two agents' parts (:func:`pair_jobs`), each ``(run_job, (job,))``."""
    jobs = pair_jobs(learner.arch, state["agents"], learner.hp, learner.rollout, rng, state.get("models"))
    return [(run_job, (job,)) for job in jobs]


@dispatch
def finish_step(learner: PolaLearner, game: SampledGame, state: dict, results: list) -> dict:
    """The new pair (and opponent models) from the two parts' results (:func:`assemble`)."""
    agents, models = assemble(results, learner.hp, state.get("models"))
    return {"agents": agents, **({"models": models} if models is not None else {})}


@dispatch
def players(learner: PolaLearner, state: dict) -> tuple:
    """The two trained agents (policy and value parameters)."""
    return tuple(state["agents"])
