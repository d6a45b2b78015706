"""The paper's exact-IPD experiments: Figure 1, Figure 3 and Appendix B.1.6.

Each experiment is a list of :class:`Method` (a learner, a parameterisation, epochs, seed and
hyperparameters per contribution factor). :func:`run_method` runs all repeats at all contribution
factors of one method as a single batch; :func:`write_method` stores it under one HDF5 group with
the same layout for every experiment:

    <method>/cf            (C,)                     contribution factors
    <method>/probs         (E+1, C, R, 2, 5)        cooperation probabilities (epoch 0 = initial)
    <method>/values        (E+1, C, R, 2)           exact discounted values
    <method>/tft           (E+1, C, R)              TFT criterion per epoch
    <method>/found_tft     (C, R)                   any epoch >= 1 met it
    <method>/iterations    (E, C, R, 2)             outer iterations per agent and epoch
    attrs: family, learner (JSON), epochs, seed, repeats, seconds
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace

import h5py
import numpy as np

from pola_nb.errors import require, require_int, require_real
from pola_nb.exact.game import IPDExact
from pola_nb.exact.learners import PER_ROW, ExactLearner, lola, outer_pola
from pola_nb.exact.params import NeuralNet, Precond, Tabular
from pola_nb.exact.run import ExactHistory, run_exact
from pola_nb.generics import init_params
from pola_nb.settings import check_settings, setting

PAPER_CFS = (1.1, 1.25, 1.33, 1.4, 1.6)


@dataclass(frozen=True)
class Method:
    """One bar group of a figure: learner hyperparameters per contribution factor.

    ``learners`` maps a contribution factor to its learner; a requested cf not in the table uses the
    nearest one. ``om_family`` turns on exact opponent modelling (Appendix B.1.6).
    """

    name: str
    family: object
    epochs: int
    learners: dict[float, ExactLearner]
    seed: int = 1
    om_family: object | None = None
    om_lr: float = 0.2
    note: str = ""

    def learner_for(self, cf: float) -> ExactLearner:
        return self.learners[min(self.learners, key=lambda c: abs(c - cf))]


def _per_cf(values: Sequence, make: Callable[..., ExactLearner]) -> dict[float, ExactLearner]:
    return {cf: make(*v) if isinstance(v, tuple) else make(v) for cf, v in zip(PAPER_CFS, values, strict=True)}


def fig1_methods() -> list[Method]:
    """Figure 1: one LOLA and one outer-POLA update under the two H = 2 nets NN1 and NN2 (cf 1.33)."""
    lola1 = {1.33: lola(0.2, 0.05)}
    pola1 = {1.33: outer_pola(0.2, 0.005, 5.0)}
    return [
        Method(f"{algo}-{net}", NeuralNet(2, init=net), 1, table)
        for algo, table in (("lola", lola1), ("pola", pola1))
        for net in ("nn1", "nn2")
    ]


def fig3_methods() -> list[Method]:
    """Figure 3 hyperparameters (README commands of the official code), per contribution factor."""
    nn16 = NeuralNet(16)
    return [
        Method("lola-tabular", Tabular(), 30, _per_cf([(3, 25)] * 5, lola)),
        Method("lola-nn", nn16, 100,
               _per_cf([(0.4, 0.05), (0.4, 0.05), (0.4, 0.05), (0.3, 0.1), (0.12, 0.05)], lola),
               note="cf 1.1 and 1.25 have no official command; they use the cf 1.33 setting"),
        Method("lola-precond", Precond(), 100, _per_cf([(0.4, 0.05)] * 5, lola),
               note="no official command; lr_in 0.4 and lr_out 0.05 as in outer-POLA pre-conditioned, "
                    "100 epochs"),
        Method("pola-tabular", Tabular(), 2,
               _per_cf([(5, 0.3, 0.1), (5, 0.3, 0.1), (5, 0.3, 0.1), (4, 0.3, 0.1), (2.5, 0.3, 0.1)],
                       outer_pola)),
        Method("pola-nn", nn16, 2,
               _per_cf([(0.3, 0.03, 0.1), (0.25, 0.03, 0.13), (0.25, 0.02, 0.13), (0.2, 0.03, 0.1),
                        (0.12, 0.03, 0.05)], outer_pola)),
        Method("pola-precond", Precond(), 10,
               _per_cf([(0.4, 0.05, 0.5), (0.5, 0.05, 0.5), (0.4, 0.05, 0.5), (0.3, 0.05, 0.5),
                        (0.3, 0.05, 0.5)], outer_pola), seed=2),
    ]


def b16_methods() -> list[Method]:
    """Appendix B.1.6: tabular agents, opponent models tabular / NN (H 16) / pre-conditioned, cf 1.33."""
    oms = {"tabular": Tabular(), "nn": NeuralNet(16), "precond": Precond()}
    lola_in = {"tabular": (1, 3.0, 0.0), "nn": (1, 0.2, 0.0), "precond": (1, 1.0, 0.0)}
    pola_in = {"tabular": (100, 0.2, 3.0), "nn": (100, 0.05, 3.0), "precond": (200, 0.15, 3.0)}
    methods = []
    for algo, table in (("lola", lola_in), ("pola", pola_in)):
        for om, (steps, lr_in, beta_in) in table.items():
            learner = ExactLearner(lr_out=1.0, lr_in=lr_in, lookahead_steps=steps, beta_in=beta_in)
            methods.append(Method(f"{algo}-om-{om}", Tabular(), 50, {1.33: learner}, om_family=oms[om]))
    return methods


def quick(methods: list[Method], max_epochs: int, prox_max_iters: int) -> list[Method]:
    """A reduced version for demos and tests: fewer epochs and a lower proximal iteration cap."""
    return [replace(m, epochs=min(m.epochs, max_epochs),
                    learners={cf: replace(lr, prox_max_iters=min(lr.prox_max_iters, prox_max_iters))
                              for cf, lr in m.learners.items()})
            for m in methods]


# ------------------------------------------------------------------------------------------------ settings

#: Reduced settings of ``quick`` figures (demos, tests): (repeats, contribution factors, max epochs, prox cap).
QUICK_SETTINGS: dict[str, tuple[int, tuple[float, ...], int, int]] = {
    "fig1": (1, (1.33,), 1, 5000),
    "fig3": (3, (1.1, 1.33, 1.6), 10, 400),
    "b16": (3, (1.33,), 10, 5000),
}
DEFAULT_CFS: dict[str, tuple[float, ...]] = {"fig1": (1.33,), "fig3": PAPER_CFS, "b16": (1.33,)}
DEFAULT_REPEATS: dict[str, int] = {"fig1": 1, "fig3": 20, "b16": 10}


def check_run_settings(cfs: Sequence[float], repeats: int, gamma: float, seed: int | None) -> None:
    """Refuse settings of :func:`run_method` that cannot run: no or non-finite contribution factors,
    one outside (1, 2), ``repeats`` not a positive integer, ``gamma`` outside (0, 1), a negative seed."""
    require(len(cfs) > 0, "at least one contribution factor is needed")
    for cf in cfs:
        require_real("contribution factor", cf, 1.0, 2.0, low_open=True)
    require_int("repeats", repeats, 1)
    require_real("gamma", gamma, 0.0, 1.0, low_open=True)
    if seed is not None:
        require_int("seed", seed, 0)


@dataclass(frozen=True)
class FigureSettings:
    """Everything that defines one exact-IPD figure run; validated on construction.

    Build it with :func:`figure_settings`, which fills in the paper's (or the quick) defaults.
    """

    figure: str = setting("fig3", "Exact-IPD figure: fig1, fig3 or b16.", choices=("fig1", "fig3", "b16"))
    cfs: tuple[float, ...] = (1.33,)
    repeats: int = setting(20, "Runs per contribution factor (default: the paper's).", low=1)
    seed: int | None = setting(None, "Seed for every method (default: the paper's per method).", low=0)
    gamma: float = setting(0.96, "Discount factor.", low=0.0, high=1.0, low_open=True, high_open=True)
    quick: bool = setting(False, "Reduced version: fewer repeats, contribution factors and epochs.")

    def __post_init__(self) -> None:
        check_settings(self)
        require(isinstance(self.cfs, tuple), f"cfs must be a tuple, got {self.cfs!r}")
        check_run_settings(self.cfs, self.repeats, self.gamma, self.seed)

    def methods(self) -> list[Method]:
        """The figure's methods, reduced with :func:`quick` for a quick figure."""
        methods = EXPERIMENTS[self.figure]()
        if self.quick:
            _, _, epochs, prox = QUICK_SETTINGS[self.figure]
            methods = quick(methods, epochs, prox)
        return methods

    def config(self) -> dict:
        """The ``config`` stored in the results file."""
        return {"figure": self.figure, "cfs": self.cfs, "repeats": self.repeats, "seed": self.seed,
                "gamma": self.gamma, "quick": self.quick}


def figure_settings(figure: str, quick: bool = False, *, repeats: int | None = None,
                    cfs: Sequence[float] | None = None, seed: int | None = None,
                    gamma: float | None = None) -> FigureSettings:
    """The settings of ``figure`` with the paper's defaults (or the quick ones) for what is ``None``."""
    require(figure in EXPERIMENTS, f"unknown figure {figure!r}; choose one of {', '.join(EXPERIMENTS)}")
    q_repeats, q_cfs, _, _ = QUICK_SETTINGS[figure]
    return FigureSettings(
        figure,
        tuple(cfs) if cfs is not None else (q_cfs if quick else DEFAULT_CFS[figure]),
        repeats if repeats is not None else (q_repeats if quick else DEFAULT_REPEATS[figure]),
        seed, 0.96 if gamma is None else gamma, quick)


# ------------------------------------------------------------------------------------------------ running


@dataclass
class MethodResult:
    method: Method
    cfs: np.ndarray
    repeats: int
    history: ExactHistory
    seconds: float
    learners: list[ExactLearner] = field(default_factory=list)

    def fraction_tft(self) -> np.ndarray:
        """Fraction of repeats that found TFT, per contribution factor, shape (C,)."""
        return self.history.found_tft.reshape(len(self.cfs), self.repeats).mean(axis=1)


def run_method(method: Method, cfs: Sequence[float], repeats: int, gamma: float = 0.96,
               seed: int | None = None, on_epoch: Callable[[int], None] | None = None) -> MethodResult:
    """Run ``repeats`` runs at each contribution factor as one batch of ``len(cfs) * repeats`` runs.

    Repeat r gets the r-th draw of one RNG seeded with ``seed`` (default: the method's), the same at
    every contribution factor, as when the official code is run once per cf with a fixed seed.
    """
    check_run_settings(cfs, repeats, gamma, seed)
    rng = np.random.default_rng(method.seed if seed is None else seed)
    th1 = init_params(method.family, rng, repeats)
    th2 = init_params(method.family, rng, repeats)
    c = len(cfs)
    om_theta = None
    if method.om_family is not None:
        om = init_params(method.om_family, rng, 2 * repeats)
        om_theta = np.concatenate([np.tile(om[:repeats], (c, 1)), np.tile(om[repeats:], (c, 1))])
    learners = [method.learner_for(cf) for cf in cfs]
    stacked = _stack_learners(learners, repeats)
    cf_rows = np.repeat(np.asarray(cfs, float), repeats)
    start = time.perf_counter()
    hist = run_exact(IPDExact(cf=cf_rows, gamma=gamma), method.family, stacked, method.epochs,
                     np.tile(th1, (c, 1)), np.tile(th2, (c, 1)), om_family=method.om_family,
                     om_theta=om_theta, om_lr=method.om_lr, on_epoch=on_epoch)
    return MethodResult(method, np.asarray(cfs, float), repeats, hist, time.perf_counter() - start, learners)


def _stack_learners(learners: list[ExactLearner], repeats: int) -> ExactLearner:
    """One learner whose per-row hyperparameters hold each cf's values repeated ``repeats`` times."""
    first = learners[0]
    for lr in learners[1:]:
        same = (lr.lookahead_steps, lr.outer_steps, lr.prox, lr.prox_max_iters)
        assert same == (first.lookahead_steps, first.outer_steps, first.prox, first.prox_max_iters)
    rows = {k: np.repeat([float(getattr(lr, k)) for lr in learners], repeats) for k in PER_ROW}
    return replace(first, **rows)


def write_method(parent: h5py.Group, res: MethodResult) -> None:
    """Store one method's result under ``parent[res.method.name]`` (layout in the module docstring)."""
    g = parent.create_group(res.method.name)
    c, r = len(res.cfs), res.repeats
    h = res.history
    e1 = h.probs.shape[0]
    g["cf"] = res.cfs
    g["probs"] = h.probs.reshape(e1, c, r, 2, 5)
    g["values"] = h.values.reshape(e1, c, r, 2)
    g["tft"] = h.tft.reshape(e1, c, r)
    g["found_tft"] = h.found_tft.reshape(c, r)
    g["iterations"] = h.iterations.reshape(e1 - 1, c, r, 2)
    g.attrs["family"] = repr(res.method.family)
    g.attrs["om_family"] = repr(res.method.om_family)
    g.attrs["learners"] = json.dumps([{k: _plain(v) for k, v in asdict(lr).items()} for lr in res.learners])
    g.attrs["epochs"] = res.method.epochs
    g.attrs["seed"] = res.method.seed
    g.attrs["repeats"] = r
    g.attrs["seconds"] = res.seconds
    g.attrs["note"] = res.method.note


def _plain(v):
    return v.tolist() if hasattr(v, "tolist") else v


EXPERIMENTS: dict[str, Callable[[], list[Method]]] = {
    "fig1": fig1_methods,
    "fig3": fig3_methods,
    "b16": b16_methods,
}
