"""The run file of a training run on the sampled games: layout, writing, resume state, checkpoints.

A run trains several independent seeds with one configuration and stores them in ONE file:

- root attributes (:mod:`pola_nb.results`): ``kind = "train"``, ``config`` (JSON of :class:`RunConfig`),
  ``status`` running, stopped (the process ended before the last update; resumable) or complete;
- ``metrics/<name>``: float64 ``(rows, seeds)``, row 0 = before training, row u = after update u,
  NaN where a seed has not got there yet; ``metrics/outer_steps`` ``(rows,)`` = u * outer_steps;
- ``metrics/update`` ``(rows,)``: the update after which each row was evaluated (every
  ``eval_every`` updates and after the last; row ``r`` is update ``r`` when ``eval_every = 1``);
- ``state/seed_<s>``: the latest learner state (:func:`~pola_nb.generics.init_state`: for the POLA
  family the parameters of both agents and opponent models, for LOQA also the EMA target and the
  optimiser states), the numpy ``Generator`` state as JSON and ``done`` (updates completed). Two
  slots are written alternately and ``done`` is set last, so an interruption never corrupts the state
  that ``--resume`` continues from (bit-for-bit: parameters and random numbers are all restored). A
  learner's opponent population (LOQA) only grows, so its snapshots are appended once each under
  ``state/seed_<s>/population/<i>`` and a slot records how many belong to it;
- ``checkpoints/<u>/seed_<s>``: the two agents (:func:`~pola_nb.generics.players`) every
  ``checkpoint_every`` updates and at the end.

The loop that fills it is :mod:`pola_nb.sampled.training`; checkpoints are read back with
:func:`load_checkpoint` and :func:`checkpoint_agent` (``RUN.h5[:update][@seed_index]``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from pola_nb.errors import PolaUsageError, require
from pola_nb.generics import metric_names, steps_per_update
from pola_nb.results import open_h5, open_results, write_root_attrs
from pola_nb.sampled.config import RunConfig
from pola_nb.sampled.policies import Architecture, PolicySampler, SwappedView

KIND = "train"


def save_tree(group: h5py.Group, name: str, value: Any) -> None:
    """Write a nested dict/tuple of arrays under ``group[name]`` (replacing what was there)."""
    if name in group:
        del group[name]
    _write(group, name, value)


def _write(group: h5py.Group, name: str, value: Any) -> None:
    if isinstance(value, dict):
        g = group.create_group(name)
        for k, v in value.items():
            _write(g, k, v)
    elif isinstance(value, (tuple, list)):
        g = group.create_group(name)
        g.attrs["sequence"] = len(value)
        for i, v in enumerate(value):
            _write(g, f"item{i}", v)
    else:
        group.create_dataset(name, data=np.asarray(value))


def load_tree(node: h5py.Group | h5py.Dataset) -> Any:
    if isinstance(node, h5py.Dataset):
        return node[()]
    if "sequence" in node.attrs:
        return tuple(load_tree(node[f"item{i}"]) for i in range(int(node.attrs["sequence"])))
    return {k: load_tree(node[k]) for k in node}


@dataclass
class SeedState:
    """One seed's progress: the learner state (a dict, :func:`~pola_nb.generics.init_state`), its
    random generator and the number of updates done."""

    state: dict
    rng: np.random.Generator
    done: int

    @property
    def agents(self) -> tuple:
        """The POLA family's pair of agents (``state["agents"]``)."""
        return self.state["agents"]

    @property
    def models(self) -> tuple | None:
        """The POLA-OM opponent models, or None."""
        return self.state.get("models")


def _rng_state(rng: np.random.Generator) -> str:
    return json.dumps(rng.bit_generator.state)


def _rng_from(text: str) -> np.random.Generator:
    st = json.loads(text)
    bg = getattr(np.random, st["bit_generator"])()
    bg.state = st
    return np.random.Generator(bg)


def save_state(f: h5py.File, k: int, st: SeedState) -> None:
    g = f.require_group(f"state/seed_{k}")
    slot = f"slot{st.done % 2}"
    state = {name: v for name, v in st.state.items() if name != "population" and v is not None}
    population = st.state.get("population")
    if population is not None:
        pop = g.require_group("population")
        # Snapshots never change: write those after the last complete state's (any beyond it were
        # left by an interrupted write and are replaced).
        last = g.get(f"slot{int(g.attrs['done']) % 2}") if "done" in g.attrs else None
        for i in range(int(last.attrs.get("population", 0)) if last is not None else 0, len(population)):
            save_tree(pop, str(i), population[i])
    save_tree(g, slot, state)
    g[slot].attrs["rng"] = _rng_state(st.rng)
    if population is not None:
        g[slot].attrs["population"] = len(population)
    g.attrs["done"] = st.done  # last: the state of `done` is complete
    f.flush()


def load_state(f: h5py.File, k: int) -> SeedState:
    g = f[f"state/seed_{k}"]
    done = int(g.attrs["done"])
    node = g[f"slot{done % 2}"]
    state = load_tree(node)
    state["agents"] = tuple(state["agents"]) if "agents" in state else None
    if "population" in node.attrs:
        state["population"] = [load_tree(g[f"population/{i}"]) for i in range(int(node.attrs["population"]))]
    return SeedState({name: v for name, v in state.items() if v is not None}, _rng_from(node.attrs["rng"]), done)


def updates_done(path: str | Path, n_seeds: int) -> list[int]:
    """Updates each of a run file's ``n_seeds`` seeds has finished (0 for a seed with no state yet)."""
    with open_results(path) as f:
        return [int(f[f"state/seed_{k}"].attrs.get("done", 0)) if f"state/seed_{k}" in f else 0
                for k in range(n_seeds)]


def metrics_row(cfg: RunConfig, done: int) -> int | None:
    """The metrics row of the evaluation after update ``done``, or None if ``done`` is not evaluated."""
    if done % cfg.eval_every == 0:
        return done // cfg.eval_every
    return -(-done // cfg.eval_every) if done == cfg.updates else None


def write_row(f: h5py.File, cfg: RunConfig, done: int, k: int, metrics: dict[str, float]) -> None:
    """Seed ``k``'s metrics after update ``done`` (an evaluated update, see :func:`metrics_row`)."""
    m, row = f["metrics"], metrics_row(cfg, done)
    if m["outer_steps"].shape[0] <= row:
        for name in ("outer_steps", "update"):
            if name in m:
                m[name].resize((row + 1,))
        for name in metric_names(cfg.make_game()):
            m[name].resize((row + 1, len(cfg.seeds)))
            m[name][row, :] = np.nan
    m["outer_steps"][row] = done * steps_per_update(cfg.hp)
    if "update" in m:
        m["update"][row] = done
    for name in metric_names(cfg.make_game()):
        m[name][row, k] = metrics[name]


def create_run_file(path: Path, cfg: RunConfig) -> None:
    with h5py.File(path, "w") as f:
        write_root_attrs(f, KIND, json.loads(cfg.to_json()))
        m = f.create_group("metrics")
        for name in ("outer_steps", "update"):
            m.create_dataset(name, shape=(0,), maxshape=(None,), dtype=np.int64, chunks=(1024,))
        for name in metric_names(cfg.make_game()):
            m.create_dataset(name, shape=(0, len(cfg.seeds)), maxshape=(None, len(cfg.seeds)), dtype=np.float64,
                             chunks=(256, len(cfg.seeds)), fillvalue=np.nan)


def record(path: Path, cfg: RunConfig, k: int, st: SeedState, met: dict[str, float] | None,
           agents: tuple) -> None:
    """Write seed ``k``'s metrics row (``met``, None when this update is not evaluated), checkpoint
    (``agents``: :func:`~pola_nb.generics.players` of the state) and resume state after update ``st.done``."""
    with open_h5(path, "a") as f:
        if met is not None:
            write_row(f, cfg, st.done, k, met)
        save_checkpoint(f, cfg, st.done, k, agents)
        save_state(f, k, st)


def save_checkpoint(f: h5py.File, cfg: RunConfig, u: int, k: int, agents: tuple) -> None:
    """Keep ``agents`` (two parameter dicts) of seed ``k`` after update ``u`` if it is a checkpoint."""
    if u % cfg.checkpoint_every == 0 or u == cfg.updates:
        save_tree(f.require_group(f"checkpoints/{u}"), f"seed_{k}", {"agents": tuple(agents)})


def stored_config(path: str | Path) -> RunConfig:
    """The configuration of the run file ``path`` (checked to be a readable training run file)."""
    path = Path(path)
    require(path.is_file(), f"nothing to resume: no such file {path}")
    with open_results(path) as f:
        require(f.attrs.get("kind") == KIND, f"{path} is not a training run file")
        require("config" in f.attrs and "metrics" in f, f"{path} is an incomplete training run file")
        return RunConfig.from_json(f.attrs["config"])


def require_rows(f: h5py.File) -> None:
    """Refuse a training run file that has no evaluated row yet (nothing to summarise or plot)."""
    require("metrics/outer_steps" in f, f"{f.filename} is an incomplete training run file")
    require(f["metrics/outer_steps"].shape[0] > 0,
            f"{f.filename} has no results yet (the first evaluation has not finished)")


def load_checkpoint(path: str | Path, update: int | None = None,
                    seed_index: int = 0) -> tuple[RunConfig, Architecture, tuple[Any, ...]]:
    """``(config, architecture, (agent1, agent2))`` from a run file at checkpoint ``update`` (default:
    the latest one)."""
    from pola_nb.results import open_results

    with open_results(path) as f:
        require(f.attrs.get("kind") == KIND, f"{path} is not a training run file")
        cfg = RunConfig.from_json(f.attrs["config"])
        have = sorted(int(u) for u in f.get("checkpoints", {}))
        require(len(have) > 0, f"{path} has no checkpoints")
        u = have[-1] if update is None else update
        require(u in have, f"{path} has no checkpoint at update {u}; available: {have}")
        node = f[f"checkpoints/{u}"]
        require(f"seed_{seed_index}" in node, f"no seed index {seed_index} at update {u}")
        agents = load_tree(node[f"seed_{seed_index}/agents"])
    return cfg, cfg.architecture(), tuple(agents)



def split_checkpoint_spec(text: str) -> tuple[str, str, str]:
    """``RUN.h5[:update][@seed_index]`` -> its three text parts ``(file, ":update" or "", "@seed_index"
    or "")``, unchecked (the seed part may be ``@*``); :func:`parse_checkpoint_spec` reads them."""
    seed = ""
    if "@" in text:
        text, s = text.rsplit("@", 1)
        seed = "@" + s
    head, sep, tail = text.rpartition(":")
    if sep and tail.isdigit() and head:
        return head, ":" + tail, seed
    return text, "", seed


def parse_checkpoint_spec(text: str) -> tuple[Path, int | None, int]:
    """``RUN.h5[:update][@seed_index]`` -> ``(path, update or None for the latest, seed index)``."""
    file, update, seed = split_checkpoint_spec(text)
    seed_index = 0
    if seed:
        try:
            seed_index = int(seed[1:])
        except ValueError:
            raise PolaUsageError(f"bad seed index in checkpoint spec: {seed[1:]!r}") from None
    return Path(file), int(update[1:]) if update else None, seed_index


def checkpoint_agent(text: str, agent: int) -> tuple[RunConfig, PolicySampler | SwappedView]:
    """Agent ``agent`` (0 or 1) of a checkpoint ``RUN.h5[:update][@seed_index]`` as a rollout-driver
    agent that plays seat ``agent`` of an AGENT-CENTRIC game (``pola eval``, the league), with the
    run's configuration (game settings). An agent 2 trained with the shared view (agent 1's) is
    wrapped in :class:`~pola_nb.sampled.policies.SwappedView`, so agents trained either way meet in
    one game and each sees what it was trained on."""
    require(agent in (0, 1), "agent must be 0 or 1")
    path, update, k = parse_checkpoint_spec(text)
    cfg, arch, agents = load_checkpoint(path, update, k)
    sampler = PolicySampler(arch.policy, agents[agent]["pol"])
    if agent == 1 and not cfg.agent_centric:
        return cfg, SwappedView(sampler, cfg.make_game())
    return cfg, sampler
