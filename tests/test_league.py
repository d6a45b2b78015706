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
            save_checkpoint(f, cfg, 0, k, init_seed(cfg, cfg.architecture(), s))


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
], ids=["unknown-spec", "missing-file", "glob-no-match", "missing-update", "missing-seed", "bad-seed",
        "mixed-games", "game-mismatch", "unknown-game", "no-game", "batch-0", "batch-neg", "seed-neg",
        "unknown-strategy", "existing-output"])
def test_bad_input_is_refused(args, runs, tmp_path, capsys, monkeypatch):
    from importlib import import_module

    rollout = import_module("pola_nb.sampled.rollout")

    def started(*a, **k):
        raise AssertionError("the league started playing on invalid input")

    monkeypatch.setattr(rollout, "rollout", started)
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
