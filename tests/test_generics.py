"""The generic functions of ``pola_nb.generics``: declared once with a contract, a method for every
type they serve, a clear error on any other type."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import h5py
import numpy as np
import pytest
from plum import Function, NotFoundLookupError

from pola_nb import generics
from pola_nb.errors import PolaUsageError
from pola_nb.exact.params import NeuralNet, Precond, Tabular
from pola_nb.report import kind_of, known_kinds
from pola_nb.results import ResultsKind, write_root_attrs
from pola_nb.sampled.advantage_alignment import AdvantageAlignment
from pola_nb.sampled.config import AAHyper, Hyper, LoqaHyper, RunConfig
from pola_nb.sampled.games import CoinGame, IPDHistory, SampledGame, make_game
from pola_nb.sampled.loqa import Loqa
from pola_nb.sampled.pola_learner import PolaLearner
from pola_nb.sampled.policies import FeedForwardNet, GRUNet, MemoryOneTable, Net
from pola_nb.sampled.rollout import Trajectory

FAMILIES = (Tabular, Precond, NeuralNet)
GAMES = (IPDHistory, CoinGame)
NETS = (GRUNet, MemoryOneTable, FeedForwardNet)
KINDS = tuple(known_kinds().values())
HYPERS = (Hyper, LoqaHyper, AAHyper)
LEARNERS = (PolaLearner, Loqa, AdvantageAlignment)

#: Each generic: the types of its first argument it must have a method for, and the types of the
#: other arguments used to resolve that method.
MEANT_FOR = {
    "logits": (FAMILIES, (object,)),
    "n_params": (FAMILIES, ()),
    "init_params": (FAMILIES, (np.random.Generator, int)),
    "logits_vjp": (FAMILIES, (object, object)),
    "init_net": (NETS, (np.random.Generator,)),
    "net_step": (NETS, (dict, np.ndarray, np.ndarray)),
    "net_sequence": (NETS, (dict, np.ndarray)),
    "obs_dim": (GAMES, ()),
    "swap_seats": (GAMES, (np.ndarray,)),
    "metric_names": (GAMES, ()),
    "reference_strategies": (GAMES, ()),
    "reference_lines": (GAMES, ()),
    "game_stats": (GAMES, (Trajectory,)),
    "game_metrics": (GAMES, (Trajectory,)),
    "league_entries": (GAMES, (Trajectory,)),
    "match_settings": (GAMES, ()),
    "check_trained_on": (GAMES, (SampledGame, str)),
    "run_summary": (GAMES, (h5py.File,)),
    "stats_lines": (GAMES, (dict,)),
    "make_learner": (HYPERS, (RunConfig,)),
    "steps_per_update": (HYPERS, ()),
    "init_state": (LEARNERS, (SampledGame, np.random.Generator)),
    "step_tasks": (LEARNERS, (SampledGame, dict, np.random.Generator)),
    "finish_step": (LEARNERS, (SampledGame, dict, list)),
    "train_step": (LEARNERS, (SampledGame, dict, np.random.Generator)),
    "players": (LEARNERS, (dict,)),
    "summary": (KINDS, (h5py.File,)),
    "table": (KINDS, (dict,)),
    "plot": (KINDS, (h5py.File, str)),
    "require_complete": (KINDS, (h5py.File,)),
}


def _declared() -> dict[str, str | None]:
    """Name -> docstring of every function declared in generics.py."""
    tree = ast.parse(Path(inspect.getfile(generics)).read_text())
    return {n.name: ast.get_docstring(n) for n in tree.body if isinstance(n, ast.FunctionDef)}


def test_the_module_declares_generics_and_nothing_else():
    declared = _declared()
    public = {k: v for k, v in vars(generics).items() if not k.startswith("_")}
    assert set(public) == set(declared) | {"dispatch", "annotations", "Dispatcher"}
    for name in declared:
        assert isinstance(public[name], Function), name


@pytest.mark.parametrize("name", sorted(_declared()))
def test_every_generic_states_its_contract(name):
    doc = _declared()[name]
    assert doc and len(doc.split()) >= 8, f"{name} needs a docstring with its arguments and return"


def test_the_table_of_this_test_covers_every_generic():
    assert set(MEANT_FOR) == set(_declared())


@pytest.mark.parametrize("name", sorted(MEANT_FOR))
def test_every_generic_has_a_method_for_each_type_it_serves(name):
    types, rest = MEANT_FOR[name]
    f = getattr(generics, name)
    assert types, name
    for t in types:
        f.invoke(t, *rest)  # raises NotFoundLookupError if there is no method


def test_every_concrete_game_net_and_kind_is_covered():
    games = set(SampledGame.__subclasses__())
    assert games == set(GAMES)
    assert set(Net.__subclasses__()) == set(NETS)
    assert set(KINDS) == {c for c in _all_subclasses(ResultsKind) if c.__dict__.get("name")}
    assert set(known_kinds()) == {"fig1", "fig3", "b16", "train", "fig4", "fig5", "league", "sweep"}


def _all_subclasses(cls: type) -> set[type]:
    out = set()
    for c in cls.__subclasses__():
        out |= {c} | _all_subclasses(c)
    return out


@pytest.mark.parametrize("call", [
    lambda: generics.obs_dim("ipd"),
    lambda: generics.metric_names(None),
    lambda: generics.reference_lines(Tabular()),
    lambda: generics.game_stats("coin", None),
    lambda: generics.match_settings(RunConfig()),
    lambda: generics.init_net("gru", np.random.default_rng(0)),
    lambda: generics.net_sequence(IPDHistory(), {}, np.zeros((1, 1, 6), np.float32)),
    lambda: generics.logits(IPDHistory(), 0.0),
    lambda: generics.table(object(), {}),
    lambda: generics.summary(IPDHistory(), None),
    lambda: generics.init_state(Hyper(), IPDHistory(), None),
    lambda: generics.steps_per_update(RunConfig()),
])
def test_an_unsupported_type_raises_a_lookup_error_naming_the_generic(call):
    with pytest.raises(NotFoundLookupError) as e:
        call()
    name = str(e.value).split("(")[0].strip("`")
    assert name in MEANT_FOR


def test_kind_of_maps_the_kind_attribute_to_its_type(tmp_path):
    for name, cls in known_kinds().items():
        with h5py.File(tmp_path / f"{name}.h5", "w") as f:
            write_root_attrs(f, name, {})
            assert kind_of(f) == cls() and type(kind_of(f)) is cls


def test_kind_of_refuses_an_unknown_kind_and_a_failed_file(tmp_path):
    with h5py.File(tmp_path / "x.h5", "w") as f:
        write_root_attrs(f, "zzz", {})
        with pytest.raises(PolaUsageError, match="unknown results kind 'zzz'"):
            kind_of(f)
        f.attrs["kind"] = "fig1"
        f.attrs["status"] = "failed"
        with pytest.raises(PolaUsageError, match="marked failed"):
            kind_of(f)


def test_game_generics_keep_their_values():
    ipd, coin = make_game("ipd"), make_game("coin")
    assert generics.obs_dim(ipd) == ipd.obs_dim == 6
    assert generics.obs_dim(coin) == coin.obs_dim == 36
    assert generics.obs_dim(make_game("coin", grid=4)) == 64
    scores = ("score1", "score2", "vs_alld1", "vs_alld2", "vs_allc1", "vs_allc2", "vs_tft1", "vs_tft2", "wall_time")
    assert generics.metric_names(ipd) == scores
    assert generics.metric_names(coin) == scores + ("rr", "rb", "br", "bb", "own_coin")
    assert list(generics.reference_lines(ipd)) == ["score_each_other", "score_vs_alld"]
    assert list(generics.reference_lines(coin)) == ["own_coin", "score_each_other", "score_vs_alld"]
    assert generics.reference_lines(coin)["score_vs_alld"][0] == (-0.26, "always cooperate")


def test_ipd_reference_lines_follow_the_contribution_factor():
    # cooperating puts 1 in the pot, multiplied by cf and split: cf - 1 with itself, cf / 2 - 1 against D
    for cf in (1.33, 1.5, 1.9):
        lines = generics.reference_lines(make_game("ipd", cf=cf))
        assert lines["score_each_other"][0][0] == pytest.approx(cf - 1)
        assert lines["score_vs_alld"][0][0] == pytest.approx(cf / 2 - 1)
    assert generics.reference_lines(make_game("ipd"))["score_vs_alld"][0][0] == pytest.approx(-0.335)


def test_coin_reference_lines_follow_the_grid():
    """Off the paper's 3x3 game the ALLC lines are ALLC's scores on that grid, here checked against the
    numpy twin of the game on uniforms of its own (within 5 standard errors of the twin's mean)."""
    import reference_games as ref

    from pola_nb.sampled.rollout import draw_uniforms, make_rng

    for grid, steps in ((5, 50), (4, 20)):
        game = make_game("coin", grid=grid, steps=steps)
        lines = generics.reference_lines(game)
        got = {"score_each_other": lines["score_each_other"][0][0], "score_vs_alld": lines["score_vs_alld"][0][0]}
        for metric, pair in (("score_each_other", ("allc", "allc")), ("score_vs_alld", ("allc", "alld"))):
            u_reset, u_step = draw_uniforms(game, 4096, steps, make_rng(12345))
            r = ref.coin_rollout(grid, *pair, u_reset, u_step, keep_obs=False)["rewards"]
            per_episode = r[:, :, 0].mean(axis=0) if metric == "score_vs_alld" else r.mean(axis=(0, 2))
            se = per_episode.std() / np.sqrt(per_episode.size)
            assert abs(got[metric] - per_episode.mean()) < 5 * se + 1e-9, (grid, metric)
        assert lines["own_coin"] == [(1.0, "always cooperate"), (0.5, "always defect")]
    assert generics.reference_lines(make_game("coin", grid=5))["score_each_other"][0][0] < 0.25  # not 3x3's 1/3
