"""The configuration of a training run on the sampled games: typed fields, presets, TOML files.

:class:`Hyper` (one learner's hyperparameters, named after the official code's flags) and
:class:`RunConfig` (the game, the policy and the run around it) are frozen dataclasses. Every field
is declared once with :func:`~pola_nb.settings.setting`: type, default, allowed range and help. They
validate themselves on construction, ``pola train``'s options are generated from them
(:mod:`pola_nb.cli.options`), and :func:`to_toml` / :func:`config_from_toml` make a configuration a
shareable file. The presets ``paper`` (the official README's commands) and ``quick`` are partial
configurations applied by :func:`preset_config`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from pola_nb.backends import BACKENDS
from pola_nb.errors import PolaUsageError, require, require_int
from pola_nb.generics import dispatch
from pola_nb.sampled.policies import Architecture, make_architecture
from pola_nb.settings import check_settings, setting, toml_loads

GAMES = ("ipd", "coin")
POLA_ALGOS = ("lola-dice", "pola-dice", "pola-om")
AA_ALGOS = ("aa", "paa")
ALGOS = (*POLA_ALGOS, "loqa", *AA_ALGOS)
POLICIES = ("gru", "memory-one", "feed-forward")
KL_DIRECTIONS = ("ref-current", "current-ref")
MAX_GRID = 1024


@dataclass(frozen=True)
class Hyper:
    """Hyperparameters of one learner (names follow the official code's flags).

    LOLA-DiCE is one outer step with one un-penalised inner step; POLA-DiCE is ``outer_steps`` Adam
    steps with a KL-penalised outer objective around ``inner_steps`` chained KL-penalised inner SGD
    steps; POLA-OM is POLA-DiCE against a learned opponent model. ``lr_in = 0`` gives naive learning.
    """

    algo: str = setting("pola-dice", "Learner: lola-dice, pola-dice, pola-om or loqa.", choices=POLA_ALGOS)
    inner_steps: int = setting(2, "Look-ahead SGD steps of the opponent per outer step.", low=0)
    outer_steps: int = setting(200, "Adam steps of the outer objective per update.", low=1)
    lr_in: float = setting(0.005, "Learning rate of the look-ahead (inner) SGD steps.", low=0.0)
    lr_out: float = setting(0.003, "Adam learning rate of the policy (outer steps).", low=0.0)
    lr_v: float = setting(0.0005, "Adam learning rate of the value network.", low=0.0)
    batch_size: int = setting(2000, "Episodes per rollout batch.", low=1)
    inner_beta: float = setting(10.0, "Weight of the inner KL proximal term (0: none, as in LOLA).", low=0.0)
    outer_beta: float = setting(100.0, "Weight of the outer KL proximal term (0: none, as in LOLA).", low=0.0)
    gamma: float = setting(0.96, "Discount factor.", low=0.0, high=1.0, low_open=True)
    gae_lambda: float = setting(1.0, "GAE lambda of the DiCE baseline.", low=0.0, high=1.0)
    baseline: bool = setting(True, "Use the value baseline (loaded DiCE with GAE).")
    kl: str = setting("ref-current", "KL direction: ref-current (official code today) or current-ref "
                      "(paper-era code).", choices=KL_DIRECTIONS)
    om_batches: int = setting(200, "POLA-OM: rollouts per update to fit the opponent model.", low=1)
    om_steps: int = setting(1, "POLA-OM: Adam steps per opponent-model rollout.", low=1)

    def __post_init__(self) -> None:
        """Every field: known names, integer counts (not bools or floats), finite rates in range."""
        check_settings(self)

    @property
    def uses_opponent_model(self) -> bool:
        return self.algo == "pola-om"

    def check_run(self, cfg: RunConfig) -> None:
        """Nothing beyond the fields: the POLA family runs on every game and view."""


SHAPING_LOSSES = ("loaded-dice", "loaded-aa", "loaded-ios")
Q_MODES = ("mean", "argmax")


@dataclass(frozen=True)
class LoqaHyper:
    """Hyperparameters of LOQA (Aghajohari et al., ICLR 2024; defaults of the official code's Coin
    Game configuration with its README's overrides).

    One parameter set plays both seats (self-play on agent-centric observations); every update is one
    clipped Adam step of the actor objective (TD(0) policy gradient, entropy bonus and the opponent-
    shaping term) and one Adam step of the Q network's Huber SARSA loss against an EMA target.
    ``shaping = loaded-aa`` or ``loaded-ios`` swaps the shaping term for the Advantage Alignment forms
    of the official LOQA code (how the published Coin Game AA agents were trained).
    """

    algo: str = setting("loqa", "Learner: loqa.", choices=("loqa",))
    batch_size: int = setting(512, "Episodes per rollout batch.", low=1)
    gamma: float = setting(0.96, "Discount factor.", low=0.0, high=1.0, low_open=True)
    lr_actor: float = setting(0.001, "LOQA, AA: Adam learning rate of the actor (policy) objective.", low=0.0)
    lr_q: float = setting(0.01, "LOQA: Adam learning rate of the Q network.", low=0.0)
    entropy_beta: float = setting(0.1, "LOQA, AA: weight of the entropy bonus.", low=0.0)
    grad_clip: float = setting(1.0, "LOQA, AA: global-norm clip of the actor gradient (0: none).", low=0.0)
    q_hidden: int = setting(64, "LOQA: width of the Q network.", low=1)
    q_layers_before_gru: int = setting(2, "LOQA: dense layers before the Q network's GRU (1 or 2).",
                                       choices=(1, 2))
    q_net: str = setting("gru", "LOQA: Q network: gru (over the history) or feed-forward (on the current "
                         "observation).", choices=("gru", "feed-forward"))
    q_mode: str = setting("mean", "LOQA: Q target: mean (SARSA on the next action taken, the official "
                          "default) or argmax.", choices=Q_MODES)
    ema_keep: float = setting(0.99, "LOQA: fraction of the EMA target kept at each update.", low=0.0, high=1.0)
    dice_lambda: float = setting(0.9, "LOQA: discount of the opponent-return estimator's DiCE terms.",
                                 low=0.0, high=1.0)
    current_reward: bool = setting(False, "LOQA: let the opponent's current reward carry shaping gradient.")
    stop_normaliser: bool = setting(False, "LOQA: stop the gradient through the opponent model's "
                                    "softmax normaliser.")
    stop_td_advantage: bool = setting(False, "LOQA: stop the gradient through the TD advantage (the "
                                      "paper's reading; the official code does not).")
    shaping: str = setting("loaded-dice", "LOQA: opponent-shaping term: loaded-dice (LOQA), loaded-aa or "
                           "loaded-ios (Advantage Alignment forms).", choices=SHAPING_LOSSES)
    shaping_weight: float = setting(1.0, "LOQA: weight of the opponent-shaping term.", low=0.0)
    temperature: float = setting(1.0, "LOQA: temperature of the opponent model's softmax.", low=0.0,
                                 low_open=True)
    epsilon: float = setting(0.0, "LOQA: probability of a uniformly random action in the training "
                             "rollouts (the official IPD code uses 0.2; the losses ignore it).", low=0.0, high=1.0)
    population_every: int = setting(10, "LOQA: updates between snapshots added to the opponent population "
                                    "(0: play the current parameters).", low=0)

    def __post_init__(self) -> None:
        check_settings(self)

    uses_opponent_model = False

    def check_run(self, cfg: RunConfig) -> None:
        """LOQA's one parameter set plays both seats, so each must see the game from its own side."""
        require(cfg.agent_centric, "loqa needs agent-centric observations (--agent-centric): one parameter "
                "set plays both seats")
        require(cfg.policy != "feed-forward", "loqa's actor is a gru (or memory-one on the ipd)")


@dispatch
def make_learner(hp: Hyper, cfg: RunConfig) -> Any:
    """The POLA-family learner (:mod:`pola_nb.sampled.pola_learner`): the run's policy and value
    networks and its game's rollouts."""
    from pola_nb.sampled.learners import game_rollout
    from pola_nb.sampled.pola_learner import PolaLearner

    return PolaLearner(hp, cfg.architecture(), game_rollout(cfg.make_game(), cfg.backend))


@dispatch
def make_learner(hp: LoqaHyper, cfg: RunConfig) -> Any:
    """LOQA (:mod:`pola_nb.sampled.loqa`): the actor is the run's policy network."""
    from pola_nb.sampled.loqa import make_loqa

    return make_loqa(hp, cfg)


@dispatch
def steps_per_update(hp: Hyper) -> int:
    """``outer_steps`` (the official plots' x axis counts outer steps)."""
    return hp.outer_steps


@dispatch
def steps_per_update(hp: LoqaHyper) -> int:
    """One actor step per update."""
    return 1


AA_FORMS = ("running-mean", "discounted")


@dataclass(frozen=True)
class AAHyper:
    """Hyperparameters of Advantage Alignment (Duque et al., ICLR 2025): ``aa`` (a policy gradient
    with the aligned advantage) and ``paa`` (Proximal AA: PPO clipping and KL early stopping).

    One parameter set (policy and critic networks of the run's kind) plays both seats (self-play on
    agent-centric observations); both seats' episodes are training data. The aligned advantage is
    ``A* = A + aa_beta * aa(A, A_opponent)`` with GAE advantages from the critic; the critic learns a
    Huber TD(0) loss against a Polyak-averaged target. Defaults: the released code's Melting Pot
    configuration for the learning rule (running-mean term, normalised advantages, beta 1, clip 0.1,
    2 epochs, KL 0.05, Polyak 0.005, gradient clip 10, GAE lambda 0.95) with the Coin Game's episode
    settings of the LOQA code (512 episodes of 50 steps, gamma 0.96).
    """

    algo: str = setting("paa", "Learner: aa or paa.", choices=AA_ALGOS)
    batch_size: int = setting(512, "Episodes per rollout batch.", low=1)
    gamma: float = setting(0.96, "Discount factor.", low=0.0, high=1.0, low_open=True)
    gae_lambda: float = setting(0.95, "GAE lambda of the advantages.", low=0.0, high=1.0)
    lr_actor: float = setting(0.001, "Adam learning rate of the policy.", low=0.0)
    lr_critic: float = setting(0.001, "AA: Adam learning rate of the critic.", low=0.0)
    entropy_beta: float = setting(0.1, "Weight of the entropy bonus.", low=0.0)
    grad_clip: float = setting(10.0, "Global-norm clip of the policy gradient (0: none).", low=0.0)
    aa_beta: float = setting(1.0, "AA: weight of the advantage-alignment term (0: plain PPO / policy gradient).",
                             low=0.0)
    aa_form: str = setting("running-mean", "AA: the alignment term: running-mean (released code) or "
                           "discounted (the paper's gamma-discounted sum).", choices=AA_FORMS)
    normalise: bool = setting(True, "AA: normalise both advantages over the batch before forming A*.")
    clip: float = setting(0.1, "AA: PPO clip range epsilon (paa).", low=0.0, low_open=True)
    epochs: int = setting(2, "AA: policy epochs per batch (paa; aa uses 1).", low=1)
    kl_threshold: float = setting(0.05, "AA: stop the epochs once the approximate KL exceeds this (paa).",
                                  low=0.0, low_open=True)
    polyak: float = setting(0.005, "AA: Polyak rate of the critic's target (target <- tau critic + "
                            "(1 - tau) target).", low=0.0, high=1.0)

    def __post_init__(self) -> None:
        check_settings(self)

    uses_opponent_model = False

    def check_run(self, cfg: RunConfig) -> None:
        """One parameter set plays both seats, so each must see the game from its own side."""
        require(cfg.agent_centric, f"{self.algo} needs agent-centric observations (--agent-centric): one "
                "parameter set plays both seats")


@dispatch
def make_learner(hp: AAHyper, cfg: RunConfig) -> Any:
    """Advantage Alignment (:mod:`pola_nb.sampled.advantage_alignment`): the run's policy and
    critic networks."""
    from pola_nb.sampled.advantage_alignment import make_aa

    return make_aa(hp, cfg)


@dispatch
def steps_per_update(hp: AAHyper) -> int:
    """One update per batch (its PPO epochs are not counted)."""
    return 1


#: The hyperparameter class of each algorithm.
HYPERS: dict[str, type] = {**{a: Hyper for a in POLA_ALGOS}, "loqa": LoqaHyper, **{a: AAHyper for a in AA_ALGOS}}


def hyper_class(algo: str) -> type:
    """The hyperparameter class of ``algo``; PolaUsageError for an unknown name."""
    require(algo in HYPERS, f"unknown algorithm {algo!r}; choose one of {', '.join(ALGOS)}")
    return HYPERS[algo]


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

    def make_game(self):
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
