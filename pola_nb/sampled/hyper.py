"""The learners' hyperparameters: one frozen dataclass per family, its fields declared with
:func:`~pola_nb.settings.setting` (type, default, allowed range, help).

- :class:`Hyper`: LOLA-DiCE, POLA-DiCE and POLA-OM (named after the official POLA code's flags);
- :class:`LoqaHyper`: LOQA;
- :class:`AAHyper`: Advantage Alignment (``aa``) and Proximal AA (``paa``).

A run's ``RunConfig.hp`` is one of them (``hp.algo`` names the algorithm, :data:`HYPERS` maps it to
its class). Each class has the methods ``make_learner`` (its learner type) and
``steps_per_update`` of :mod:`pola_nb.generics`, and ``check_run(cfg)``: what it needs of the run
around it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pola_nb.errors import require
from pola_nb.generics import dispatch
from pola_nb.sampled.aa_terms import AA_FORMS
from pola_nb.sampled.loqa_terms import SHAPING_KINDS
from pola_nb.settings import check_settings, setting

POLA_ALGOS = ("lola-dice", "pola-dice", "pola-om")
AA_ALGOS = ("aa", "paa")
ALGOS = (*POLA_ALGOS, "loqa", *AA_ALGOS)
KL_DIRECTIONS = ("ref-current", "current-ref")


@dataclass(frozen=True)
class Hyper:
    """Hyperparameters of one learner (names follow the official code's flags).

    LOLA-DiCE is one outer step with one un-penalised inner step; POLA-DiCE is ``outer_steps`` Adam
    steps with a KL-penalised outer objective around ``inner_steps`` chained KL-penalised inner SGD
    steps; POLA-OM is POLA-DiCE against a learned opponent model. ``lr_in = 0`` gives naive learning.
    """

    algo: str = setting("pola-dice", "Learner: lola-dice, pola-dice or pola-om.", choices=POLA_ALGOS)
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

    def check_run(self, cfg: Any) -> None:
        """Nothing beyond the fields: the POLA family runs on every game and view."""


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
                           "loaded-ios (Advantage Alignment forms).", choices=SHAPING_KINDS)
    shaping_weight: float = setting(1.0, "LOQA: weight of the opponent-shaping term.", low=0.0)
    temperature: float = setting(1.0, "LOQA: temperature of the opponent model's softmax.", low=0.0,
                                 low_open=True)
    epsilon: float = setting(0.0, "LOQA: probability of a uniformly random action in the training "
                             "rollouts (the official IPD code uses 0.2; the losses ignore it).", low=0.0, high=1.0)
    population_every: int = setting(10, "LOQA: updates between snapshots added to the opponent population "
                                    "(0: play the current parameters).", low=0)

    def __post_init__(self) -> None:
        check_settings(self)

    def check_run(self, cfg: Any) -> None:
        """LOQA's one parameter set plays both seats, so each must see the game from its own side."""
        require(cfg.agent_centric, "loqa needs agent-centric observations (--agent-centric): one parameter "
                "set plays both seats")
        require(cfg.policy != "feed-forward", "loqa's actor is a gru (or memory-one on the ipd)")


@dispatch
def make_learner(hp: Hyper, cfg: Any) -> Any:
    """The POLA-family learner (:mod:`pola_nb.sampled.pola_learner`): the run's policy and value
    networks and its game's rollouts."""
    from pola_nb.sampled.learners import game_rollout
    from pola_nb.sampled.pola_learner import PolaLearner

    return PolaLearner(hp, cfg.architecture(), game_rollout(cfg.make_game(), cfg.backend))


@dispatch
def make_learner(hp: LoqaHyper, cfg: Any) -> Any:
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

    def check_run(self, cfg: Any) -> None:
        """One parameter set plays both seats, so each must see the game from its own side."""
        require(cfg.agent_centric, f"{self.algo} needs agent-centric observations (--agent-centric): one "
                "parameter set plays both seats")


@dispatch
def make_learner(hp: AAHyper, cfg: Any) -> Any:
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
