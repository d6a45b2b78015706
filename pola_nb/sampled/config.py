"""The configuration of a training run on the sampled games: typed fields, presets, TOML files.

:class:`RunConfig` (the game, the policy and the run around it) with ``hp``, the learner's
hyperparameters (:mod:`pola_nb.sampled.hyper`: ``Hyper``, ``LoqaHyper``, ``AAHyper``), are frozen
dataclasses. Every field is declared once with :func:`~pola_nb.settings.setting`: type, default,
allowed range and help. They validate themselves on construction, ``pola train``'s options are generated from them
(:mod:`pola_nb.cli.options`), and :func:`to_toml` / :func:`config_from_toml` make a configuration a
shareable file. The presets ``paper`` (the official README's commands) and ``quick`` are partial
configurations applied by :func:`preset_config`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pola_nb.backends import BACKENDS
from pola_nb.errors import PolaUsageError, require, require_int
from pola_nb.sampled.hyper import (  # noqa: F401  (re-exported: the configuration's parts)
    AA_ALGOS,
    ALGOS,
    HYPERS,
    POLA_ALGOS,
    AAHyper,
    Hyper,
    LoqaHyper,
    hyper_class,
)
from pola_nb.sampled.policies import Architecture, make_architecture
from pola_nb.settings import check_settings, setting, toml_loads

if TYPE_CHECKING:
    from pola_nb.sampled.games import CoinGame, IPDHistory

GAMES = ("ipd", "coin")
POLICIES = ("gru", "memory-one", "feed-forward")
MAX_GRID = 1024


def check_game_settings(steps: Any, cf: Any, grid: Any) -> None:
    """Refuse settings of the sampled games that no game accepts: ``steps`` (episode length) a
    positive integer, ``cf`` (IPD contribution factor) in (1, 2), ``grid`` (Coin Game) in [2, 1024].

    All three are checked whatever the game, so a setting is refused or accepted independently
    of the game it is given with.
    """
    RunConfig(steps=steps, cf=cf, grid=grid)


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run (stored as JSON in the run file)."""

    game: str = setting("ipd", "Game: ipd (full history) or coin.", choices=GAMES)
    hp: Hyper | LoqaHyper | AAHyper = field(default_factory=Hyper)
    updates: int = setting(100, "Number of updates.", low=1)
    seeds: tuple[int, ...] = (1,)
    steps: int = setting(50, "Episode length T.", low=1)
    cf: float = setting(1.33, "IPD contribution factor.", low=1.0, high=2.0, low_open=True, high_open=True)
    grid: int = setting(3, "Coin Game grid size N (an N x N torus).", low=2, high=MAX_GRID)
    agent_centric: bool = setting(False, "Each agent observes the game from its own side (own "
                                  "channels or actions first); off: both see agent 1's view.")
    policy: str = setting("gru", "Policy: gru, memory-one (ipd only) or feed-forward.", choices=POLICIES)
    hidden: int = setting(64, "Width of the policy and value networks.", low=1)
    layers_before_gru: int = setting(1, "Dense layers before the GRU (1 or 2).", choices=(1, 2))
    eval_batch: int | None = setting(None, "Episodes per evaluation (default: the batch size, as in the "
                                     "official code).", low=1)
    eval_every: int = setting(1, "Evaluate (and record a metrics row) every N updates (and after the last).",
                              low=1)
    checkpoint_every: int = setting(10, "Keep the agents' parameters every N updates (and the last).", low=1)
    backend: str = setting("cpu", "Rollout kernels: cpu or cuda.", choices=BACKENDS)
    preset: str = setting("", "The preset the run was built from: paper or quick.", choices=("", "paper", "quick"))

    def __post_init__(self) -> None:
        """Validate every field, so that an invalid run is refused before any file is touched."""
        require(isinstance(self.hp, tuple(HYPERS.values())),
                f"hp must be a Hyper, LoqaHyper or AAHyper, got {type(self.hp).__name__}")
        require(isinstance(self.seeds, tuple) and len(self.seeds) >= 1, f"seeds must be a non-empty tuple, "
                f"got {self.seeds!r}")
        for s in self.seeds:
            require_int("every seed", s, 0)
        require(len(set(self.seeds)) == len(self.seeds), f"seeds must be distinct, got {self.seeds!r}")
        check_settings(self)
        require(self.policy != "memory-one" or self.game == "ipd", "the memory-one policy exists only for the ipd")
        self.hp.check_run(self)

    def to_json(self) -> str:
        d = asdict(self)
        d["seeds"] = list(self.seeds)
        return json.dumps(d, sort_keys=True)

    @staticmethod
    def from_json(text: str) -> RunConfig:
        """The configuration stored by :meth:`to_json`; PolaUsageError if it is malformed or invalid."""
        try:
            d = json.loads(text)
            d["hp"] = hyper_class(d["hp"].get("algo", "pola-dice"))(**d["hp"])
            d["seeds"] = tuple(d["seeds"])
            if d.get("eval_batch") == 0:  # a stored 0 has always meant the default (hp.batch_size)
                d["eval_batch"] = None
            return RunConfig(**d)
        except PolaUsageError as e:
            raise PolaUsageError(f"invalid stored configuration: {e}") from None
        except (TypeError, ValueError, KeyError) as e:
            raise PolaUsageError(f"malformed stored configuration ({type(e).__name__}: {e})") from None

    def make_game(self) -> IPDHistory | CoinGame:
        from pola_nb.sampled.games import make_game

        return make_game(self.game, steps=self.steps, cf=self.cf, grid=self.grid, agent_centric=self.agent_centric)

    def architecture(self) -> Architecture:
        g = self.make_game()
        return make_architecture(self.policy, g.obs_dim, g.n_actions, self.hidden, self.layers_before_gru)


# ------------------------------------------------------------------------------------------------ presets

_COMMON = dict(gamma=0.96, gae_lambda=1.0)
#: The README commands of the official code (Figures 4 and 5). ``updates`` equals their ``--n_update``:
#: the official loop performs ``n_update`` updates, of which the paper's figures plot the first
#: 100 (IPD) or 250 (Coin Game) POLA updates.
PAPER: dict[tuple[str, str], dict[str, Any]] = {
    ("ipd", "lola-dice"): dict(updates=20001, checkpoint_every=1000, hp=dict(
        inner_steps=1, outer_steps=1, lr_in=0.05, lr_out=0.003, lr_v=0.0005, batch_size=2000,
        inner_beta=0.0, outer_beta=0.0)),
    ("ipd", "pola-dice"): dict(updates=101, checkpoint_every=10, hp=dict(
        inner_steps=2, outer_steps=200, lr_in=0.005, lr_out=0.003, lr_v=0.0005, batch_size=2000,
        inner_beta=10.0, outer_beta=100.0)),
    ("ipd", "pola-om"): dict(updates=101, checkpoint_every=10, hp=dict(
        inner_steps=2, outer_steps=200, lr_in=0.005, lr_out=0.003, lr_v=0.0005, batch_size=2000,
        inner_beta=10.0, outer_beta=100.0, om_batches=200, om_steps=1)),
    ("coin", "lola-dice"): dict(updates=50001, checkpoint_every=2000, hp=dict(
        inner_steps=1, outer_steps=1, lr_in=0.003, lr_out=0.003, lr_v=0.0005, batch_size=2000,
        inner_beta=0.0, outer_beta=0.0)),
    ("coin", "pola-dice"): dict(updates=251, checkpoint_every=25, hp=dict(
        inner_steps=4, outer_steps=200, lr_in=0.01, lr_out=0.003, lr_v=0.0005, batch_size=1000,
        inner_beta=5.0, outer_beta=150.0)),
    ("coin", "pola-om"): dict(updates=251, checkpoint_every=25, hp=dict(
        inner_steps=6, outer_steps=200, lr_in=0.01, lr_out=0.003, lr_v=0.0005, batch_size=1000,
        inner_beta=15.0, outer_beta=150.0, om_batches=200, om_steps=1)),
}

#: Small settings that show the qualitative result on 2 CPU cores in about 15 minutes per seed
#: (the README's "Presets" table lists what each changes relative to ``paper``).
QUICK: dict[tuple[str, str], dict[str, Any]] = {
    ("ipd", "lola-dice"): dict(updates=600, checkpoint_every=100, hidden=32, hp=dict(
        inner_steps=1, outer_steps=1, lr_in=0.05, lr_out=0.01, lr_v=0.0005, batch_size=256,
        inner_beta=0.0, outer_beta=0.0)),
    ("ipd", "pola-dice"): dict(updates=5, checkpoint_every=1, hidden=32, hp=dict(
        inner_steps=2, outer_steps=40, lr_in=0.05, lr_out=0.02, lr_v=0.0005, batch_size=1000,
        inner_beta=10.0, outer_beta=30.0)),
    ("ipd", "pola-om"): dict(updates=5, checkpoint_every=1, hidden=32, hp=dict(
        inner_steps=2, outer_steps=40, lr_in=0.05, lr_out=0.02, lr_v=0.0005, batch_size=1000,
        inner_beta=10.0, outer_beta=30.0, om_batches=20, om_steps=1)),
    ("coin", "lola-dice"): dict(updates=600, checkpoint_every=100, hidden=32, hp=dict(
        inner_steps=1, outer_steps=1, lr_in=0.003, lr_out=0.01, lr_v=0.0005, batch_size=256,
        inner_beta=0.0, outer_beta=0.0)),
    ("coin", "pola-dice"): dict(updates=8, checkpoint_every=4, hidden=32, hp=dict(
        inner_steps=2, outer_steps=40, lr_in=0.01, lr_out=0.02, lr_v=0.0005, batch_size=256,
        inner_beta=5.0, outer_beta=30.0)),
    ("coin", "pola-om"): dict(updates=8, checkpoint_every=4, hidden=32, hp=dict(
        inner_steps=2, outer_steps=40, lr_in=0.01, lr_out=0.02, lr_v=0.0005, batch_size=256,
        inner_beta=15.0, outer_beta=30.0, om_batches=20, om_steps=1)),
}

#: LOQA: the official code's README commands (Coin Game: 3x3, evaluated every 100 updates, the
#: published league's agents after 6000 updates; IPD: tabular actor, feed-forward Q on [state, t],
#: epsilon-greedy rollouts, no opponent population, no gradient clipping, no entropy bonus).
PAPER[("coin", "loqa")] = dict(updates=6000, eval_every=100, checkpoint_every=1000, hidden=128,
                               layers_before_gru=2, agent_centric=True, hp=dict())
PAPER[("ipd", "loqa")] = dict(updates=7000, eval_every=100, checkpoint_every=1000, policy="memory-one",
                              agent_centric=True, hp=dict(batch_size=2048, grad_clip=0.0, entropy_beta=0.0,
                                                         q_net="feed-forward", q_hidden=16, epsilon=0.2,
                                                         population_every=0))
#: LOQA at the quick scale: narrower networks and smaller batches (Coin Game), a larger learning
#: rate and fewer updates (IPD).
QUICK[("coin", "loqa")] = dict(updates=1500, eval_every=50, checkpoint_every=250, hidden=64,
                               layers_before_gru=1, agent_centric=True, hp=dict(batch_size=256))
QUICK[("ipd", "loqa")] = dict(updates=150, eval_every=10, checkpoint_every=50, policy="memory-one",
                              agent_centric=True, hp=dict(batch_size=256, lr_actor=0.02, grad_clip=0.0,
                                                         entropy_beta=0.0, q_net="feed-forward", q_hidden=16,
                                                         population_every=0))
#: Advantage Alignment on the Coin Game: GRU 64 policy and critic, 512 episodes of 50 steps.
for _algo in AA_ALGOS:
    PAPER[("coin", _algo)] = dict(updates=6000, eval_every=100, checkpoint_every=1000, hidden=64,
                                  agent_centric=True, hp=dict(epochs=1 if _algo == "aa" else 2))
    QUICK[("coin", _algo)] = dict(updates=1500, eval_every=50, checkpoint_every=250, hidden=32,
                                  agent_centric=True, hp=dict(batch_size=256, epochs=1 if _algo == "aa" else 2))
    PAPER[("ipd", _algo)] = dict(updates=3000, eval_every=100, checkpoint_every=1000, hidden=64,
                                 agent_centric=True, hp=dict(epochs=1 if _algo == "aa" else 2))
    QUICK[("ipd", _algo)] = dict(updates=500, eval_every=50, checkpoint_every=250, hidden=32,
                                 agent_centric=True, hp=dict(batch_size=256, epochs=1 if _algo == "aa" else 2))
PRESETS = {"paper": PAPER, "quick": QUICK}


def preset_config(game: str, algo: str, preset: str = "paper", **overrides: Any) -> RunConfig:
    """The preset's configuration with ``overrides`` applied (hyperparameter names go into ``hp``).

    ``None`` values in ``overrides`` are ignored (unset CLI options).
    """
    require(game in GAMES, f"unknown game {game!r}; choose ipd or coin")
    require(algo in ALGOS, f"unknown algorithm {algo!r}; choose one of {', '.join(ALGOS)}")
    require(preset in PRESETS, f"unknown preset {preset!r}; choose paper or quick")
    base = dict(PRESETS[preset][(game, algo)])
    cls = hyper_class(algo)
    hp_overrides, top = split_settings(overrides, cls)
    hp = {**(_COMMON if cls is Hyper else {}), **base.pop("hp"), "algo": algo, **hp_overrides}
    base.update(top)
    base.setdefault("preset", preset)
    try:
        return RunConfig(game=game, hp=cls(**hp), **base)
    except PolaUsageError:
        raise
    except (TypeError, ValueError) as e:  # an unknown setting, or a value of the wrong type
        raise PolaUsageError(str(e)) from None


def sampled_figure_configs(game: str, preset: str, seeds: tuple[int, ...], **overrides: Any) -> dict[str, RunConfig]:
    """The run configuration of each algorithm of a sampled-game figure (``pola reproduce
    fig4|fig5``): ``preset`` with ``seeds`` and ``overrides``."""
    require(preset in PRESETS, f"--preset must be quick or paper, got {preset!r}")
    return {algo: preset_config(game, algo, preset, **{**overrides, "seeds": tuple(seeds)}) for algo in POLA_ALGOS}


def extended(cfg: RunConfig, updates: int | None, path: Path) -> RunConfig:
    """``cfg`` of the run file ``path`` extended to ``updates`` (None: unchanged); never shortened."""
    if updates is None or updates == cfg.updates:
        return cfg
    require(updates > cfg.updates, f"--updates can only extend the run ({path} has {cfg.updates})")
    return replace(cfg, updates=updates)


# ------------------------------------------------------------------------------------------------ TOML files


def to_toml(cfg: RunConfig) -> str:
    """``cfg`` as a TOML document: the run's fields at the top, the learner's in an ``[hp]`` table.

    ``eval_batch = None`` (the default) is left out, TOML having no null; :func:`config_from_toml`
    reads the text back to an equal configuration.
    """
    def line(name: str, value: Any) -> str:
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, tuple):
            text = "[" + ", ".join(str(v) for v in value) + "]"
        elif isinstance(value, float):
            text = repr(value)
        elif isinstance(value, int):
            text = str(value)
        else:
            text = json.dumps(value)  # a TOML basic string
        return f"{name} = {text}"

    top = [line(f.name, getattr(cfg, f.name)) for f in fields(cfg)
           if f.name != "hp" and getattr(cfg, f.name) is not None]
    hp = [line(f.name, getattr(cfg.hp, f.name)) for f in fields(cfg.hp)]
    return "\n".join(top + ["", "[hp]", *hp]) + "\n"


def read_toml(path: str | Path) -> dict[str, Any]:
    """The settings of a TOML configuration file as a flat dict (``[hp]`` entries merged in);
    PolaUsageError if the file cannot be read or parsed, or names an unknown setting."""
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise PolaUsageError(f"cannot read {path}: {getattr(e, 'strerror', None) or e}") from None
    return parse_toml(text, str(path))


def parse_toml(text: str, source: str = "the configuration") -> dict[str, Any]:
    """TOML text of a (possibly partial) configuration -> a flat dict of settings (see :func:`read_toml`)."""
    data = toml_loads(text, f"{source} is not valid TOML")
    hp = data.pop("hp", {})
    require(isinstance(hp, dict), f"{source}: hp must be a table ([hp])")
    top_names = {f.name for f in fields(RunConfig)} - {"hp"}
    hp_names = {f.name for cls in set(HYPERS.values()) for f in fields(cls)}
    unknown = sorted(set(data) - top_names) + sorted(set(hp) - hp_names)
    require(not unknown, f"{source}: unknown setting(s) {', '.join(unknown)}")
    flat = {**data, **hp}
    if "seeds" in flat:
        require(isinstance(flat["seeds"], list), f"{source}: seeds must be a list of integers")
        flat["seeds"] = tuple(flat["seeds"])
    return flat


def split_settings(flat: dict[str, Any], hyper: type = Hyper) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(learner's, run's)`` settings of a flat dict: field names of ``hyper`` (the algorithm's
    hyperparameter class) go to the first. ``None`` values (options not given) are left out.
    PolaUsageError for a hyperparameter of another algorithm."""
    hp_names = {f.name for f in fields(hyper)}
    top_names = {f.name for f in fields(RunConfig)}
    hp: dict[str, Any] = {}
    top: dict[str, Any] = {}
    for k, v in flat.items():
        if v is None:
            continue
        others = [a for a, cls in HYPERS.items() if k in {f.name for f in fields(cls)}]
        require(k in hp_names or k in top_names or not others,
                f"{k} is a setting of {', '.join(dict.fromkeys(others))}, not of this algorithm")
        (hp if k in hp_names else top)[k] = v
    return hp, top


def config_from_settings(flat: dict[str, Any]) -> RunConfig:
    """A configuration from a flat dict of settings (hyperparameter names go into ``hp``); the
    fields not given keep their dataclass defaults. PolaUsageError for a bad name or value."""
    hp, top = split_settings(flat, hyper_class(flat.get("algo") or "pola-dice"))
    try:
        return RunConfig(hp=hyper_class(hp.get("algo", "pola-dice"))(**hp), **top)
    except TypeError as e:  # an unknown setting
        raise PolaUsageError(str(e)) from None


def config_from_toml(text: str) -> RunConfig:
    """The configuration written by :func:`to_toml` (the TOML text)."""
    return config_from_settings(parse_toml(text))
