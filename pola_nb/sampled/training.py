"""The training loop on the sampled games: every seed's updates, evaluation and recording.

One loop serves every learner through the generics of :mod:`pola_nb.generics`: the learner
(:func:`~pola_nb.generics.make_learner` of the run's hyperparameters) gives a seed's initial state
(:func:`~pola_nb.generics.init_state`), the independent tasks of one update
(:func:`~pola_nb.generics.step_tasks`: the POLA family's two agents' parts, LOQA's one step) and the
state they make (:func:`~pola_nb.generics.finish_step`), and the two agents it plays
(:func:`~pola_nb.generics.players`). The tasks run on an executor (:mod:`pola_nb.sampled.cluster`:
this process, or a Dask cluster). The loop, the evaluation and the file stay in this process: as soon
as all tasks of one seed's update are back, that seed is evaluated (every ``eval_every`` updates and
after the last), its row and resume state are written, and its next update is submitted. Seeds never
wait for each other (one may be several updates ahead of another, the rows it has not reached being
NaN). The file is flushed after every update of every seed, so Ctrl-C or a crash loses at most the
updates in progress.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from pola_nb.backends import check_backend
from pola_nb.errors import require
from pola_nb.generics import (
    finish_step,
    game_metrics,
    init_state,
    make_learner,
    players,
    reference_strategies,
    step_tasks,
)
from pola_nb.results import check_output_path, open_h5
from pola_nb.runfile import SeedState, create_run_file, load_state, metrics_row, record, stored_config
from pola_nb.sampled.cluster import DEFAULT as DEFAULT_CLUSTER
from pola_nb.sampled.cluster import Executor, open_cluster, parse_cluster
from pola_nb.sampled.config import RunConfig, extended
from pola_nb.sampled.games import SampledGame
from pola_nb.sampled.learners import AgentParams
from pola_nb.sampled.policies import Architecture, PolicySampler


def evaluate_pair(game: SampledGame, arch: Architecture, agents: tuple[AgentParams, AgentParams], batch: int,
                  rng: np.random.Generator, backend: str = "cpu") -> dict[str, float]:
    """Figure 4/5 metrics of the current pair (the :func:`~pola_nb.generics.metric_names` of ``game``
    but ``wall_time``), each over ``batch`` episodes: self-play per-step scores, per-step scores of
    each agent against every :func:`~pola_nb.generics.reference_strategies` opponent, the game's own
    (:func:`~pola_nb.generics.game_metrics`: coin counts)."""
    from pola_nb.sampled.rollout import rollout, scores

    s = [PolicySampler(arch.policy, a["pol"]) for a in agents]
    traj = rollout(game, s[0], s[1], batch, seed=rng, backend=backend)
    out: dict[str, float] = {}
    out["score1"], out["score2"] = scores(traj)
    out.update(game_metrics(game, traj))
    for name in reference_strategies(game):
        out[f"vs_{name}1"] = scores(rollout(game, s[0], name, batch, seed=rng, backend=backend, keep_obs=False))[0]
        out[f"vs_{name}2"] = scores(rollout(game, name, s[1], batch, seed=rng, backend=backend, keep_obs=False))[1]
    return out


Progress = Callable[[int, int, dict[str, float]], None]


def init_seed(cfg: RunConfig, seed: int) -> SeedState:
    """The learner's initial state of ``seed`` (:func:`~pola_nb.generics.init_state`) and the seed's
    random generator ``Generator(PCG64(seed))``, from which the state was drawn."""
    rng = np.random.Generator(np.random.PCG64(seed))
    return SeedState(init_state(make_learner(cfg.hp, cfg), cfg.make_game(), rng), rng, 0)


def timed_task(fn: Callable[..., Any], args: tuple) -> tuple[Any, float, float]:
    """Run one task ``fn(*args)`` with one numba thread in the running thread: ``(result, start,
    end)``, the two times in seconds since the epoch (``time.time``), so that the tasks of one update
    run in different processes of one machine can be put on one time line."""
    from pola_nb.sampled.process import pinned_numba_threads

    with pinned_numba_threads(1):
        start = time.time()
        result = fn(*args)
        return result, start, time.time()


def train(path: str | Path, cfg: RunConfig | None = None, *, resume: bool = False, force: bool = False,
          progress: Progress | None = None, cluster: str | Executor = DEFAULT_CLUSTER,
          updates: int | None = None) -> Path:
    """Train (or, with ``resume``, continue) the run stored at ``path``; returns the path.

    ``progress(update, seed_index, metrics)`` is called after every evaluation (update 0 = before
    training). ``cluster``: where the agents' update tasks run, a ``--cluster`` text
    (:mod:`pola_nb.sampled.cluster`: ``local:1`` in this process, ``local:N``, ``tcp://HOST:PORT`` or
    a scheduler file) or an executor already opened with :func:`~pola_nb.sampled.cluster.open_cluster`;
    the results are the same wherever the tasks run. ``updates`` (with ``resume`` only) extends a run
    to that many updates; the continuation is the same as if the run had been started with that number.
    """
    path, cfg, stored = prepare_run(path, cfg, resume=resume, force=force, updates=updates,
                                    cluster=cluster if isinstance(cluster, str) else None)
    if not isinstance(cluster, str):
        return _train(path, cfg, stored, progress, cluster)
    with open_cluster(parse_cluster(cluster)) as executor:  # a bad cluster is refused before the file
        return _train(path, cfg, stored, progress, executor)


def prepare_run(path: str | Path, cfg: RunConfig | None = None, *, resume: bool = False, force: bool = False,
                updates: int | None = None, cluster: str | None = None
                ) -> tuple[Path, RunConfig, RunConfig | None]:
    """Validate the arguments of :func:`train` without touching any file: returns ``(path,
    configuration to run, stored configuration)``, the last one ``None`` for a new run.

    Refuses (PolaUsageError) a malformed ``cluster`` text (its scheduler is not contacted here), a
    bad ``updates``, an existing ``path`` without ``force``, a missing or unreadable run file with
    ``resume``, and a backend that does not work here.
    """
    if cluster is not None:
        parse_cluster(cluster)
    require(updates is None or resume, "updates= is for extending a resumed run; put it in the configuration")
    path = Path(path)
    stored = None
    if resume:
        stored = stored_config(path)
        cfg = extended(stored, updates, path)
        require(os.access(path, os.W_OK), f"{path} is not writable")
    else:
        require(isinstance(cfg, RunConfig), "a configuration (RunConfig) is needed")
        check_output_path(path, force)
    cfg.make_game()
    cfg.architecture()
    check_backend(cfg.backend)
    return path, cfg, stored


def _train(path: Path, cfg: RunConfig, stored: RunConfig | None, progress: Progress | None,
           executor: Executor) -> Path:
    """The run of :func:`train` once :func:`prepare_run` has validated it, its update tasks on ``executor``.

    Each seed goes through its own sequence: (new seed) initialise and evaluate; then, per update,
    draw the two parts' seeds and submit them, and when both are back assemble, evaluate and record.
    The seed's generator is used in exactly this order wherever and whenever the tasks run, so the
    file does not depend on the executor. ``wall_time`` adds, per update, the span from the start of
    the first part to the end of the last one and the evaluation.
    """
    if stored is None:
        create_run_file(path, cfg)
    elif cfg != stored:
        with open_h5(path, "a") as f:
            f.attrs["config"] = cfg.to_json()
    game, arch = cfg.make_game(), cfg.architecture()
    learner = make_learner(cfg.hp, cfg)
    eval_batch = cfg.eval_batch or cfg.hp.batch_size
    # The file is open only while it is written (after each evaluation), so other processes can read
    # it between updates and an interruption during the (long) computation leaves it closed.
    with open_h5(path, "a") as f:
        f.attrs["status"] = "running"
        states: list[SeedState | None] = [load_state(f, k) if f"state/seed_{k}" in f else None
                                          for k in range(len(cfg.seeds))]
        prev_wall = f["metrics/wall_time"][()]
    # (a resumed seed's time since its last evaluation, when eval_every > 1, is not counted)
    wall = [float(prev_wall[st.done // cfg.eval_every, k]) if st is not None and st.done // cfg.eval_every
            < prev_wall.shape[0] else 0.0
            for k, st in enumerate(states)]
    pending: dict[Any, tuple[int, int]] = {}  # future -> (seed index, task index)
    parts: list[list[Any]] = [[] for _ in cfg.seeds]

    def submit(k: int) -> None:
        st = states[k]
        if st.done >= cfg.updates:
            return
        tasks = step_tasks(learner, game, st.state, st.rng)
        parts[k] = [None] * len(tasks)
        for i, (fn, args) in enumerate(tasks):
            pending[executor.submit(timed_task, fn, args)] = (k, i)

    def evaluated(k: int, st: SeedState, span: float) -> None:
        """Evaluate (when due) and record seed ``k``'s state ``st``; ``span``: the update's seconds."""
        agents = players(learner, st.state)
        met = None
        t0 = time.perf_counter()
        if metrics_row(cfg, st.done) is not None:
            met = evaluate_pair(game, arch, agents, eval_batch, st.rng, cfg.backend)
        wall[k] += span + time.perf_counter() - t0
        if met is not None:
            met["wall_time"] = wall[k]
        record(path, cfg, k, st, met, agents)
        states[k] = st
        if progress and met is not None:
            progress(st.done, k, met)

    try:
        for k, seed in enumerate(cfg.seeds):
            if states[k] is None:
                evaluated(k, init_seed(cfg, seed), 0.0)
            submit(k)
        while pending:
            for fut in executor.wait_any(list(pending)):
                k, i = pending.pop(fut)
                parts[k][i] = fut.result()
                if any(p is None for p in parts[k]):
                    continue
                results, starts, ends = zip(*parts[k], strict=True)
                st = states[k]
                new = finish_step(learner, game, st.state, list(results))
                evaluated(k, SeedState(new, st.rng, st.done + 1), max(ends) - min(starts))
                submit(k)
    except BaseException:
        # Ctrl-C, a lost scheduler, a crash: the finished updates are in the file; --resume goes on.
        with contextlib.suppress(Exception), open_h5(path, "a") as f:
            f.attrs["status"] = "stopped"
        raise
    with open_h5(path, "a") as f:
        f.attrs["status"] = "complete"
    return path


