"""The run file of a training run on the sampled games: layout, writing, resume state, checkpoints.

A run trains several independent seeds with one configuration and stores them in ONE file:

- root attributes (:mod:`pola_nb.results`): ``kind = "train"``, ``config`` (JSON of :class:`RunConfig`),
  ``status`` running/complete;
- ``metrics/<name>``: float64 ``(rows, seeds)``, row 0 = before training, row u = after update u,
  NaN where a seed has not got there yet; ``metrics/outer_steps`` ``(rows,)`` = u * outer_steps;
- ``state/seed_<s>``: the latest parameters of both agents (and opponent models), the numpy
  ``Generator`` state as JSON and ``done`` (updates completed). Two slots are written alternately and
  ``done`` is set last, so an interruption never corrupts the state that ``--resume`` continues from
  (bit-for-bit: parameters, opponent models and random numbers are all restored);
- ``checkpoints/<u>/seed_<s>``: parameters every ``checkpoint_every`` updates and at the end.

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
from pola_nb.generics import metric_names
from pola_nb.results import open_h5, open_results, write_root_attrs
from pola_nb.sampled.config import RunConfig
from pola_nb.sampled.policies import PolicySampler

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
    agents: tuple
    models: tuple | None
    rng: np.random.Generator
    done: int


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
    save_tree(g, slot, {"agents": st.agents, **({"models": st.models} if st.models is not None else {})})
    g[slot].attrs["rng"] = _rng_state(st.rng)
    g.attrs["done"] = st.done  # last: the state of `done` is complete
    f.flush()


def load_state(f: h5py.File, k: int) -> SeedState:
    g = f[f"state/seed_{k}"]
    done = int(g.attrs["done"])
    node = g[f"slot{done % 2}"]
    data = load_tree(node)
    return SeedState(tuple(data["agents"]), tuple(data["models"]) if "models" in data else None,
                     _rng_from(node.attrs["rng"]), done)


def write_row(f: h5py.File, cfg: RunConfig, row: int, k: int, metrics: dict[str, float]) -> None:
    m = f["metrics"]
    if m["outer_steps"].shape[0] <= row:
        m["outer_steps"].resize((row + 1,))
        for name in metric_names(cfg.make_game()):
            m[name].resize((row + 1, len(cfg.seeds)))
            m[name][row, :] = np.nan
    m["outer_steps"][row] = row * cfg.hp.outer_steps
    for name in metric_names(cfg.make_game()):
        m[name][row, k] = metrics[name]


def create_run_file(path: Path, cfg: RunConfig) -> None:
    with h5py.File(path, "w") as f:
        write_root_attrs(f, KIND, json.loads(cfg.to_json()))
        m = f.create_group("metrics")
        m.create_dataset("outer_steps", shape=(0,), maxshape=(None,), dtype=np.int64, chunks=(1024,))
        for name in metric_names(cfg.make_game()):
            m.create_dataset(name, shape=(0, len(cfg.seeds)), maxshape=(None, len(cfg.seeds)), dtype=np.float64,
                             chunks=(256, len(cfg.seeds)), fillvalue=np.nan)


def record(path: Path, cfg: RunConfig, k: int, st: SeedState, met: dict[str, float]) -> None:
    """Write seed ``k``'s metrics row, checkpoint and resume state after update ``st.done``."""
    with open_h5(path, "a") as f:
        write_row(f, cfg, st.done, k, met)
        save_checkpoint(f, cfg, st.done, k, st)
        save_state(f, k, st)


def save_checkpoint(f: h5py.File, cfg: RunConfig, u: int, k: int, st: SeedState) -> None:
    if u % cfg.checkpoint_every == 0 or u == cfg.updates:
        save_tree(f.require_group(f"checkpoints/{u}"), f"seed_{k}", {"agents": st.agents})


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


def load_checkpoint(path: str | Path, update: int | None = None, seed_index: int = 0):
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



def parse_checkpoint_spec(text: str) -> tuple[Path, int | None, int]:
    """``RUN.h5[:update][@seed_index]`` -> ``(path, update or None for the latest, seed index)``."""
    seed_index = 0
    if "@" in text:
        text, s = text.rsplit("@", 1)
        try:
            seed_index = int(s)
        except ValueError:
            raise PolaUsageError(f"bad seed index in checkpoint spec: {s!r}") from None
    update: int | None = None
    head, sep, tail = text.rpartition(":")
    if sep and tail.isdigit() and head:
        text, update = head, int(tail)
    return Path(text), update, seed_index


def checkpoint_agent(text: str, agent: int) -> tuple[RunConfig, PolicySampler]:
    """Agent ``agent`` (0 or 1) of a checkpoint ``RUN.h5[:update][@seed_index]`` as a rollout-driver
    agent (for ``pola eval``), with the run's configuration (game settings)."""
    require(agent in (0, 1), "agent must be 0 or 1")
    path, update, k = parse_checkpoint_spec(text)
    cfg, arch, agents = load_checkpoint(path, update, k)
    return cfg, PolicySampler(arch.policy, agents[agent]["pol"])
