"""``pola league``: closed forms on the IPD, the Coin Game's own-coin proportion, agreement with
``pola eval`` pair by pair, ``@*`` and glob expansion, summary and plot, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from pola_nb.cli import main
from pola_nb.league import pair_seed, run_league
from pola_nb.sampled.games import make_game


def _run_file(path: Path, game: str, algo: str = "pola-dice", seeds: tuple[int, ...] = (1,)) -> None:
    """A small training run file with a checkpoint at update 0 for every seed index."""
    from pola_nb.runfile import create_run_file, save_checkpoint
    from pola_nb.sampled.config import preset_config
    from pola_nb.sampled.training import init_seed

    cfg = preset_config(game, algo, "quick", updates=2, hidden=4, steps=5, batch_size=16, outer_steps=2,
                        om_batches=2, seeds=seeds)
    create_run_file(path, cfg)
    with h5py.File(path, "a") as f:
        for k, s in enumerate(seeds):
            save_checkpoint(f, cfg, 0, k, init_seed(cfg, s).agents)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("runs")
    _run_file(d / "ipd_a.h5", "ipd", seeds=(1, 2))
    _run_file(d / "ipd_b.h5", "ipd", algo="pola-om")
    _run_file(d / "coin.h5", "coin")
    return d


def _cli(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        main([str(a) for a in argv])
        code = 0
    except SystemExit as e:
        code = e.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _index(names: list[str], name: str) -> int:
    return names.index(name)


# ------------------------------------------------------------------------------------------------ closed forms


def test_ipd_strategies_match_closed_forms(tmp_path):
    steps = 6
    s = run_league([], tmp_path / "l.h5", strategies=["alld", "allc", "tft"], game="ipd", batch=20, steps=steps)
    pay = make_game("ipd", steps=steps).payoff_table().astype(np.float64)  # [DD, DC, CD, CC] by 2*my+other
    dd, dc, cd, cc = pay
    names = s["agents"]
    a, c, t = (_index(names, n) for n in ("alld", "allc", "tft"))
    row, col = np.array(s["score_row"]), np.array(s["score_col"])
    # ALLD vs ALLC: temptation for ALLD, sucker's payoff for ALLC, every step.
    assert row[a, c] == pytest.approx(dc, abs=1e-6) and col[a, c] == pytest.approx(cd, abs=1e-6)
    assert row[c, a] == pytest.approx(cd, abs=1e-6) and col[c, a] == pytest.approx(dc, abs=1e-6)
    # TFT vs ALLD: C then D for T-1 steps (TFT: sucker once, then mutual defection).
    assert row[t, a] == pytest.approx((cd + (steps - 1) * dd) / steps, abs=1e-6)
    assert col[t, a] == pytest.approx((dc + (steps - 1) * dd) / steps, abs=1e-6)
    # TFT vs ALLC and TFT vs TFT: mutual cooperation throughout.
    assert row[t, c] == pytest.approx(cc, abs=1e-6) and row[t, t] == pytest.approx(cc, abs=1e-6)
    with h5py.File(tmp_path / "l.h5") as f:
        assert f.attrs["kind"] == "league" and f.attrs["status"] == "complete"
        assert json.loads(f.attrs["config"])["game"] == "ipd"
        assert np.all(f["se_row"][()] == 0)  # deterministic strategies: no spread over episodes
        assert [g.decode() for g in f["groups"][()]] == names


def test_coin_allc_vs_allc_own_coin_is_one(tmp_path):
    run_league([], tmp_path / "c.h5", strategies=["allc", "alld"], game="coin", batch=200)
    with h5py.File(tmp_path / "c.h5") as f:
        assert f["own_coin_row"][0, 0] == 1.0 and f["own_coin_col"][0, 0] == 1.0
        assert f["pickups"].shape == (2, 2, 4)
        rr, rb, br, bb = f["pickups"][0, 0]
        assert rb == 0 and br == 0 and rr + bb > 0


# ------------------------------------------------------------------------------------------------ vs pola eval


def test_entry_equals_eval_of_the_same_pair(runs, tmp_path):
    from pola_nb.sampled.matches import play_match

    spec = str(runs / "ipd_a.h5@1")
    s = run_league([spec], tmp_path / "l.h5", strategies=["random", "tft"], batch=64, seed=3)
    names = s["agents"]
    assert names == [spec, "random", "tft"]
    for i, j in ((0, 1), (1, 0), (0, 0), (2, 1)):
        r = play_match("ipd", names[i], names[j], batch=64, steps=5, seed=pair_seed(3, i, j))
        assert s["score_row"][i][j] == r["score1"] and s["score_col"][i][j] == r["score2"]


def test_pair_seed_depends_only_on_the_pair():
    assert pair_seed(0, 1, 2) == pair_seed(0, 1, 2)
    assert len({pair_seed(0, i, j) for i in range(4) for j in range(4)}) == 16
    assert pair_seed(1, 1, 2) != pair_seed(0, 1, 2)


def test_cli_expands_seeds_and_globs_then_summary_and_plot(runs, tmp_path, capsys):
    out = tmp_path / "l.h5"
    code, stdout, err = _cli(["league", f"{runs}/ipd_a.h5@*", f"{runs}/ipd_[b].h5", "--strategies", "alld",
                              "--batch-size", "8", "--out", out, "--json"], capsys)
    assert code == 0, err
    s = json.loads(stdout)
    assert s["agents"] == [f"{runs}/ipd_a.h5@0", f"{runs}/ipd_a.h5@1", f"{runs}/ipd_b.h5", "alld"]
    assert s["groups"] == ["pola-dice", "pola-dice", "pola-om", "alld"]
    assert set(s["group_scores"]) == {"pola-dice", "pola-om", "alld"}
    code, stdout, err = _cli(["summary", out], capsys)
    assert code == 0, err
    assert "pola-dice vs pola-dice" in stdout and "vs alld" in stdout
    code, stdout, err = _cli(["plot", out], capsys)
    assert code == 0, err
    assert out.with_suffix(".png").is_file()


# ------------------------------------------------------------------------------------------------ batched strategies


@pytest.mark.parametrize("game_name", ["ipd", "coin"])
def test_strategy_pairs_in_one_call_equal_their_own_rollouts(game_name):
    from pola_nb.sampled.rollout import rollout, rollout_strategy_pairs

    game = make_game(game_name, steps=7, grid=3)
    names = ["alld", "allc", "tft", "random"]
    pairs = [(a, b, 100 + 4 * i + j) for i, a in enumerate(names) for j, b in enumerate(names)]
    batched = rollout_strategy_pairs(game, pairs, 33)
    assert len(batched) == len(pairs)
    for (a, b, s), t in zip(pairs, batched, strict=True):
        want = rollout(game, a, b, 33, seed=s, keep_obs=False)
        for name in ("actions", "rewards", "pickups"):
            got, ref = getattr(t, name), getattr(want, name)
            if ref is None:
                assert got is None
            else:
                assert got.flags.c_contiguous
                np.testing.assert_array_equal(got, ref, err_msg=f"{a} vs {b} {name}")


CUDA_PAIRS_SCRIPT = """
import os, sys
import numpy as np
import pola_nb.backends
from pola_kernels import config
from pola_nb.sampled.games import make_game
from pola_nb.sampled.rollout import rollout_strategy_pairs
if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":  # the simulator's device has no name
    pola_nb.backends.cuda_status = lambda: "available (numba CUDA simulator)"
config.THREADS_PER_BLOCK, config.MAX_BLOCKS = 4, 3
out = {}
for g in ("ipd", "coin"):
    pairs = [("tft", "random", 1), ("allc", "alld", 2), ("random", "tft", 3)]
    for p, t in enumerate(rollout_strategy_pairs(make_game(g, steps=4, grid=3), pairs, 6, backend="cuda")):
        out[f"{g}_{p}"] = t.rewards
        if t.pickups is not None:
            out[f"{g}_{p}_pickups"] = t.pickups
np.savez(sys.argv[1], **out)
"""


def test_strategy_pairs_on_cuda_equal_cpu_rollouts(tmp_path):
    """The CUDA ``rollout_pairs`` kernels (numba's simulator unless POLA_TEST_REAL_CUDA=1) give each
    pair the CPU rollout of that pair alone."""
    import os
    import subprocess
    import sys

    from pola_nb.sampled.rollout import rollout

    env = dict(os.environ)
    if os.environ.get("POLA_TEST_REAL_CUDA") != "1":
        env["NUMBA_ENABLE_CUDASIM"] = "1"
    out = tmp_path / "out.npz"
    proc = subprocess.run([sys.executable, "-c", CUDA_PAIRS_SCRIPT, str(out)], env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = dict(np.load(out))
    for g in ("ipd", "coin"):
        for p, (a, b, s) in enumerate([("tft", "random", 1), ("allc", "alld", 2), ("random", "tft", 3)]):
            want = rollout(make_game(g, steps=4, grid=3), a, b, 6, seed=s, keep_obs=False)
            np.testing.assert_array_equal(got[f"{g}_{p}"], want.rewards, err_msg=f"{g} {a} vs {b}")
            if want.pickups is not None:
                np.testing.assert_array_equal(got[f"{g}_{p}_pickups"], want.pickups)


def _league_arrays(path: Path) -> dict[str, np.ndarray]:
    with h5py.File(path) as f:
        return {k: f[k][()] for k in f}


def _assert_same_league(a: Path, b: Path) -> None:
    x, y = _league_arrays(a), _league_arrays(b)
    assert set(x) == set(y)
    for k in x:
        np.testing.assert_array_equal(x[k], y[k], err_msg=k)


@pytest.mark.parametrize("game_name", ["ipd", "coin"])
def test_batched_strategy_pairs_equal_pair_by_pair(game_name, runs, monkeypatch):
    """The pairs of two strategies share kernel calls (several: a small chunk limit here), and every
    entry equals the league played pair by pair, bit for bit."""
    from importlib import import_module

    import pola_nb.league as league

    rollout_module = import_module("pola_nb.sampled.rollout")

    spec = str(runs / ("coin.h5" if game_name == "coin" else "ipd_a.h5@1"))
    agents = league.load_agents(league.expand_specs([spec, "alld", "allc", "tft", "random"]))
    settings = league.game_settings(agents, None, None, None, None)
    game = make_game(game_name, steps=settings["steps"], grid=settings["grid"], cf=settings["cf"])
    monkeypatch.setattr(league, "MAX_BATCHED_ENV_STEPS", 5 * 40 * game.steps)  # 5 pairs per call
    tasks = league.league_tasks(agents, game, 40, 9)
    assert sorted(len(cells) for cells, _, _ in tasks) == [1] * 9 + [1, 5, 5, 5]  # 9 with the checkpoint
    one_by_one = league.play_league(agents, settings, 40, 9, batch_strategies=False)
    calls = []
    real = rollout_module.rollout
    monkeypatch.setattr(rollout_module, "rollout", lambda *a, **k: calls.append(a[1:3]) or real(*a, **k))
    batched = league.play_league(agents, settings, 40, 9)
    assert len(calls) == 9  # only the pairs with the checkpoint were rolled out one by one
    assert set(batched) == set(one_by_one)
    for k in batched:
        np.testing.assert_array_equal(batched[k], one_by_one[k], err_msg=k)
    assert not np.isnan(batched["score_row"]).any()


# ------------------------------------------------------------------------------------------------ cluster


def test_league_on_a_local_dask_cluster_equals_in_process(runs, tmp_path, capsys):
    args = [f"{runs}/ipd_a.h5@*", f"{runs}/ipd_b.h5", "--batch-size", "24", "--seed", "5", "--json"]
    code, _, err = _cli(["league", *args, "--out", tmp_path / "here.h5"], capsys)
    assert code == 0, err
    code, stdout, err = _cli(["league", *args, "--cluster", "local:2", "--out", tmp_path / "dask.h5"], capsys)
    assert code == 0, err
    assert len(json.loads(stdout)["agents"]) == 7
    _assert_same_league(tmp_path / "here.h5", tmp_path / "dask.h5")
    with h5py.File(tmp_path / "dask.h5") as f:
        assert not np.isnan(f["score_row"][()]).any()


# ------------------------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize("args", [
    ["foo", "--game", "ipd"],
    ["{in}/missing.h5"],
    ["{in}/nothing_*.h5"],
    ["{in}/ipd_a.h5:7"],
    ["{in}/ipd_a.h5@5"],
    ["{in}/ipd_a.h5@x"],
    ["{in}/ipd_a.h5", "{in}/coin.h5"],
    ["{in}/coin.h5", "--game", "ipd"],
    ["--game", "chess"],
    ["--strategies", "alld"],  # no checkpoint and no --game
    ["--game", "ipd", "--batch-size", "0"],
    ["--game", "ipd", "--batch-size", "-1"],
    ["--game", "ipd", "--seed", "-1"],
    ["--game", "ipd", "--strategies", "alld,nice"],
    ["--game", "ipd", "--out", "{out}/old.h5"],
    ["--game", "ipd", "--workers", "0"],
    ["--game", "ipd", "--cluster", "local:0"],
    ["--game", "ipd", "--cluster", "tcp://host"],
    ["--game", "ipd", "--cluster", "{out}/missing.json"],
    ["--game", "ipd", "--cluster", "local:2", "--workers", "2"],
    ["--game", "ipd", "--cluster", "tcp://127.0.0.1:1"],
], ids=["unknown-spec", "missing-file", "glob-no-match", "missing-update", "missing-seed", "bad-seed",
        "mixed-games", "game-mismatch", "unknown-game", "no-game", "batch-0", "batch-neg", "seed-neg",
        "unknown-strategy", "existing-output", "workers-0", "cluster-local-0", "cluster-no-port",
        "cluster-missing-file", "cluster-and-workers", "cluster-unreachable"])
def test_bad_input_is_refused(args, runs, tmp_path, capsys, monkeypatch):
    from importlib import import_module

    rollout = import_module("pola_nb.sampled.rollout")

    def started(*a, **k):
        raise AssertionError("the league started playing on invalid input")

    monkeypatch.setattr(rollout, "rollout", started)
    monkeypatch.setattr(rollout, "rollout_strategy_pairs", started)
    monkeypatch.setattr(import_module("pola_nb.sampled.cluster"), "CONNECT_TIMEOUT_S", 1.0)
    (tmp_path / "old.h5").write_bytes(b"old")
    argv = ["league", *[a.replace("{in}", str(runs)).replace("{out}", str(tmp_path)) for a in args]]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "l.h5")]
    code, stdout, err = _cli(argv, capsys)
    assert code == 2, f"{argv}: exit {code}, stderr {err!r}"
    assert err.startswith("pola: error: ") and err.count("\n") == 1, err
    assert stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.h5"]
    assert (tmp_path / "old.h5").read_bytes() == b"old"


def test_heatmap_labels_are_short():
    from pola_nb.league import short_label

    assert short_label("/a/long/path/run_pola-dice.h5@2", "pola-dice") == "pola-dice #2"
    assert short_label("run.h5:5@1", "lola-dice") == "lola-dice #1:5"
    assert short_label("run.h5", "pola-om") == "pola-om #0"
    assert short_label("alld", "alld") == "alld"
