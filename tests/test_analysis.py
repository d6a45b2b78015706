"""Analysis API and its commands: tidy tables of run files, aggregates over seeds, ``pola export``
and ``pola compare``."""

from __future__ import annotations

import json
import time

import h5py
import numpy as np
import pandas as pd
import pytest

from pola_nb import analysis
from pola_nb.cli import main
from pola_nb.errors import PolaUsageError
from pola_nb.generics import metric_names
from pola_nb.runfile import create_run_file, write_row
from pola_nb.sampled.config import preset_config
from pola_nb.sampled.games import make_game
from pola_nb.sampled.training import train

TINY = dict(hidden=4, steps=5, batch_size=16, outer_steps=1, updates=2, seeds=(1, 2))


def _synthetic(path, game="ipd", rows=3, seeds=(3, 7), lr_in=None, reached=None, offset=0.0):
    """A run file made by ``_create`` with known metrics; seed index k reaches ``reached[k]`` rows."""
    cfg = preset_config(game, "pola-dice", "quick", **{**TINY, "seeds": seeds, "lr_in": lr_in})
    create_run_file(path, cfg)
    reached = reached or [rows] * len(seeds)
    with h5py.File(path, "a") as f:
        for row in range(rows):
            for k in range(len(seeds)):
                if row < reached[k]:
                    write_row(f, cfg, row, k, {n: offset + row + 0.1 * k + 0.01 * i
                                                for i, n in enumerate(metric_names(make_game(game)))})
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("runs")
    a = train(d / "a.h5", preset_config("ipd", "pola-dice", "quick", **TINY))
    b = train(d / "b.h5", preset_config("ipd", "pola-dice", "quick", **TINY, lr_in=0.1))
    return a, b


def test_load_runs_round_trips_the_stored_metrics(trained):
    a, _ = trained
    df = analysis.load_runs(a)
    with h5py.File(a, "r") as f:
        stored = {k: f[f"metrics/{k}"][()] for k in f["metrics"]}
        seeds = json.loads(f.attrs["config"])["seeds"]
    assert set(df["run"]) == {str(a)} and set(df["game"]) == {"ipd"} and set(df["algo"]) == {"pola-dice"}
    assert set(df["preset"]) == {"quick"}
    for name, v in stored.items():
        if name in ("outer_steps", "update"):
            continue
        t = df[df["metric"] == name]
        got = np.full(v.shape, np.nan)
        got[t["update"].to_numpy(), [seeds.index(s) for s in t["seed"]]] = t["value"].to_numpy()
        np.testing.assert_array_equal(got, v)  # exact, every cell
        np.testing.assert_array_equal(t["outer_steps"].to_numpy(), stored["outer_steps"][t["update"].to_numpy()])
    each = df[df["metric"] == "score_each_other"].sort_values(["update", "seed"])["value"].to_numpy()
    np.testing.assert_array_equal(each, (0.5 * (stored["score1"] + stored["score2"])).ravel())
    assert {"score_vs_alld", "score_vs_allc", "score_vs_tft", "wall_time"} <= set(df["metric"])


def test_load_runs_drops_unreached_rows_and_adds_differing_fields(tmp_path):
    p = _synthetic(tmp_path / "p.h5", reached=[3, 1])
    q = _synthetic(tmp_path / "q.h5", lr_in=0.2)
    df = analysis.load_runs(str(tmp_path / "*.h5"))
    assert "hp.lr_in" in df and "hidden" not in df
    assert dict(df.groupby("run")["hp.lr_in"].first()) == {str(p): 0.05, str(q): 0.2}
    s1 = df[(df["run"] == str(p)) & (df["metric"] == "score1")]
    assert sorted(zip(s1["update"], s1["seed"], strict=True)) == [(0, 3), (0, 7), (1, 3), (2, 3)]
    assert not df["value"].isna().any()
    ds = analysis.to_dataset(df)
    assert ds["score1"].dims == ("run", "update", "seed") and ds["score1"].shape == (2, 3, 2)
    assert np.isnan(ds["score1"].sel(run=str(p), update=2, seed=7))
    assert float(ds["score1"].sel(run=str(q), update=2, seed=7)) == 2.1


def test_load_runs_expands_figure_files(tmp_path):
    from pola_nb.results import write_root_attrs

    for algo in ("x", "y"):
        _synthetic(tmp_path / f"f_{algo}.h5")
    with h5py.File(tmp_path / "f.h5", "w") as f:
        write_root_attrs(f, "fig4", {})
        f.attrs["runs"] = json.dumps({"x": "f_x.h5", "y": "f_y.h5"})
    df = analysis.load_runs([tmp_path / "f.h5", tmp_path / "f_x.h5"])
    assert sorted(set(df["run"])) == [str(tmp_path / "f_x.h5"), str(tmp_path / "f_y.h5")]


SWEEP = """
game = "ipd"
algo = "pola-dice"
preset = "quick"
seeds = [1, 2]

[set]
hidden = 4
steps = 5
batch_size = 16
outer_steps = 1
updates = 1

[grid]
lr_in = [0.01, 0.02]
outer_beta = [30.0]
"""


def test_load_runs_reads_a_sweep_index(tmp_path):
    from pola_nb.sweep import parse_sweep, run_sweep

    index = run_sweep(parse_sweep(SWEEP), tmp_path / "sw")
    files = [tmp_path / "sw" / f"lr_in={lr}_outer_beta=30.0.h5" for lr in ("0.01", "0.02")]
    via_index = analysis.load_runs(index)
    direct = analysis.load_runs(files)
    pd.testing.assert_frame_equal(via_index, direct, check_exact=True)
    assert sorted(set(via_index["run"])) == [str(p) for p in files]
    assert dict(via_index.groupby("run")["hp.lr_in"].first()) == {str(files[0]): 0.01, str(files[1]): 0.02}
    assert "hp.outer_beta" not in via_index  # the same in every run: no column
    # named twice (index and one of its files): each run once, in the index's order
    pd.testing.assert_frame_equal(analysis.load_runs([index, files[1]]), direct, check_exact=True)
    # a run file that the index lists but that is gone: one clear error
    files[1].unlink()
    with pytest.raises(PolaUsageError, match=r"sweep.h5 lists the run file .*0.02.*which does not exist"):
        analysis.load_runs(index)


def test_many_files_load_quickly(tmp_path):
    for i in range(100):
        _synthetic(tmp_path / f"r{i:03d}.h5", rows=5, offset=i)
    t = time.perf_counter()
    df = analysis.load_runs(str(tmp_path / "r*.h5"))
    assert time.perf_counter() - t < 10
    assert df["run"].nunique() == 100


def test_aggregate_matches_a_hand_computation():
    df = pd.DataFrame({"run": "r", "update": [0, 0, 0, 1], "metric": "m", "value": [1.0, 2.0, 6.0, 4.0]})
    agg = analysis.aggregate(df).set_index("update")
    v = np.array([1.0, 2.0, 6.0])
    se = np.sqrt(np.mean((v - 3.0) ** 2) / 3)
    assert agg.loc[0, "mean"] == 3.0 and agg.loc[0, "n"] == 3
    assert agg.loc[0, "low"] == pytest.approx(3.0 - 1.959964 * se) and agg.loc[0, "high"] == pytest.approx(
        3.0 + 1.959964 * se)
    assert agg.loc[1, "low"] == agg.loc[1, "high"] == 4.0
    boot = analysis.aggregate(df, ci="bootstrap", n_boot=500, seed=1).set_index("update")
    assert boot.loc[0, "low"] <= 3.0 <= boot.loc[0, "high"] and boot.loc[0, "low"] >= 1.0
    assert boot.loc[0, "high"] <= 6.0 and boot.loc[0, "low"] < boot.loc[0, "high"]
    again = analysis.aggregate(df, ci="bootstrap", n_boot=500, seed=1).set_index("update")
    pd.testing.assert_frame_equal(boot, again)
    with pytest.raises(PolaUsageError):
        analysis.aggregate(df, ci="t")


def test_compare_plots_the_aggregated_table(trained, tmp_path):
    a, b = trained
    out = tmp_path / "cmp.png"
    res = analysis.compare([a, b], out, csv=True)
    assert out.is_file() and out.with_suffix(".csv").is_file()
    df = analysis.load_runs([a, b])
    agg = analysis.aggregate(df[df["metric"].isin(["score_each_other", "score_vs_alld"])])
    assert len(res.figure.axes) == 2
    for ax, metric in zip(res.figure.axes, ["score_each_other", "score_vs_alld"], strict=True):
        lines = [ln for ln in ax.get_lines() if not ln.get_label().startswith("always")]
        assert [ln.get_label() for ln in lines] == ["POLA-DiCE (hp.lr_in=0.05)", "POLA-DiCE (hp.lr_in=0.1)"]
        for ln, run in zip(lines, [a, b], strict=True):
            want = agg[(agg["run"] == str(run)) & (agg["metric"] == metric)].sort_values("update")
            np.testing.assert_array_equal(ln.get_ydata(), want["mean"].to_numpy())
            np.testing.assert_array_equal(ln.get_xdata(), [0, 1, 2])
        refs = {ln.get_label() for ln in ax.get_lines()} - {ln.get_label() for ln in lines}
        assert refs == {"always cooperate", "always defect"}
    written = pd.read_csv(out.with_suffix(".csv"))
    np.testing.assert_allclose(written["mean"].to_numpy(), res.table["mean"].to_numpy())
    by_label = analysis.compare([a, b], tmp_path / "lab.pdf", label="hp.lr_in", x="update", metrics=["score1"])
    assert set(by_label.table["label"]) == {"hp.lr_in=0.05", "hp.lr_in=0.1"}


def test_compare_draws_reference_lines_only_for_one_setting(tmp_path):
    def refs(res):
        return {(ln.get_label(), round(float(ln.get_ydata()[0]), 6)) for ax in res.figure.axes
                for ln in ax.get_lines() if ln.get_label().startswith("always")}

    _synthetic(tmp_path / "a.h5")
    _synthetic(tmp_path / "b.h5", offset=1.0)
    cfg = preset_config("ipd", "pola-dice", "quick", **{**TINY, "cf": 1.5})
    create_run_file(tmp_path / "c.h5", cfg)
    same = analysis.compare([tmp_path / "a.h5", tmp_path / "b.h5"], tmp_path / "same.png")
    assert refs(same) == {("always cooperate", 0.33), ("always cooperate", -0.335), ("always defect", 0.0)}
    mixed = analysis.compare([tmp_path / "a.h5", tmp_path / "c.h5"], tmp_path / "mixed.png")
    assert refs(mixed) == set()


def test_export_csv(trained, tmp_path, capsys):
    a, _ = trained
    with pytest.raises(SystemExit) as e:
        main(["export", str(a), "--csv", str(tmp_path / "t.csv")])
    assert e.value.code == 0 and "wrote" in capsys.readouterr().out
    back = pd.read_csv(tmp_path / "t.csv")
    df = analysis.load_runs(a)
    assert list(back.columns) == list(df.columns)
    np.testing.assert_allclose(back["value"].to_numpy(), df["value"].to_numpy(), rtol=1e-15)


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    _synthetic(d / "ipd.h5")
    _synthetic(d / "ipd2.h5", lr_in=0.2)
    _synthetic(d / "coin.h5", game="coin")
    from pola_nb.results import write_root_attrs

    with h5py.File(d / "sweep.h5", "w") as f:  # a sweep index whose second run file is missing
        write_root_attrs(f, "sweep", {})
        f.attrs["sweep_runs"] = json.dumps([{"name": "ipd", "file": "ipd.h5"}, {"name": "gone", "file": "gone.h5"}])
    return d


BAD = {
    "missing file": ["compare", "{in}/nope.h5", "-o", "{out}/c.png"],
    "missing file (export)": ["export", "{in}/nope.h5", "--csv", "{out}/t.csv"],
    "no glob match (export)": ["export", "{in}/zz*.h5", "--csv", "{out}/t.csv"],
    "unknown metric": ["compare", "{in}/ipd.h5", "{in}/ipd2.h5", "--metric", "own_coin", "-o", "{out}/c.png"],
    "unknown x": ["compare", "{in}/ipd.h5", "--x", "time", "-o", "{out}/c.png"],
    "unknown label": ["compare", "{in}/ipd.h5", "--label", "hp.nope", "-o", "{out}/c.png", "--csv"],
    "unknown image format": ["compare", "{in}/ipd.h5", "-o", "{out}/c.xyz"],
    "existing figure": ["compare", "{in}/ipd.h5", "-o", "{out}/old.png"],
    "existing csv": ["compare", "{in}/ipd.h5", "-o", "{out}/old2.png", "--csv"],
    "existing export": ["export", "{in}/ipd.h5", "--csv", "{out}/old.csv"],
    "sweep lists a missing run (export)": ["export", "{in}/sweep.h5", "--csv", "{out}/t.csv"],
    "sweep lists a missing run (compare)": ["compare", "{in}/sweep.h5", "-o", "{out}/c.png"],
    "mixed games": ["compare", "{in}/ipd.h5", "{in}/coin.h5", "-o", "{out}/c.png", "--csv"],
    "export needs one output": ["export", "{in}/ipd.h5"],
    "export two outputs": ["export", "{in}/ipd.h5", "--csv", "{out}/t.csv", "--parquet", "{out}/t.parquet"],
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_input_is_refused(name, bad_inputs, tmp_path, capsys):
    for old in ("old.png", "old2.csv", "old.csv"):
        (tmp_path / old).write_bytes(b"old")
    before = sorted(p.name for p in tmp_path.iterdir())
    argv = [a.replace("{in}", str(bad_inputs)).replace("{out}", str(tmp_path)) for a in BAD[name]]
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2, err
    assert err.startswith("pola: error: ") and err.count("\n") == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert all((tmp_path / old).read_bytes() == b"old" for old in ("old.png", "old2.csv", "old.csv"))


def test_parquet_without_pyarrow_is_one_line(bad_inputs, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(analysis, "parquet_available", lambda: False)
    with pytest.raises(SystemExit) as e:
        main(["export", str(bad_inputs / "ipd.h5"), "--parquet", str(tmp_path / "t.parquet")])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1 and "pyarrow" in err
    assert list(tmp_path.iterdir()) == []


def test_compare_pools_files_that_differ_only_in_their_seeds(tmp_path):
    """One file per seed (as a cluster job writes them) is one line, averaged over all the files'
    seeds; a file that repeats a seed, or changes a hyperparameter, is a line of its own."""
    a = _synthetic(tmp_path / "a.h5", seeds=(1, 2), rows=3)
    b = _synthetic(tmp_path / "b.h5", seeds=(5,), rows=2, offset=1.0)
    again = _synthetic(tmp_path / "again.h5", seeds=(2,), rows=3, offset=5.0)
    other = _synthetic(tmp_path / "other.h5", seeds=(9,), rows=3, lr_in=0.1)
    res = analysis.compare([a, b, again, other], tmp_path / "pooled.png", metrics=["score1"], x="update")
    t = res.table
    assert list(dict.fromkeys(t["run"])) == [str(a), str(again), str(other)]
    assert list(t[t["run"] == str(a)]["n"]) == [3, 3, 2]  # b has no third row
    with h5py.File(a) as fa, h5py.File(b) as fb:
        va, vb = fa["metrics/score1"][()], fb["metrics/score1"][()]
    want = [np.mean([*va[row], *vb[row]]) for row in range(2)] + [np.mean(va[2])]
    np.testing.assert_allclose(t[t["run"] == str(a)]["mean"], want)
    labels = list(dict.fromkeys(t["label"]))
    assert labels == ["POLA-DiCE (hp.lr_in=0.05, seeds=[1, 2, 5])", "POLA-DiCE (hp.lr_in=0.05, seeds=[2])",
                      "POLA-DiCE (hp.lr_in=0.1, seeds=[9])"]
    assert analysis.pooled_lines(analysis.read_runs([a, b])) == {str(a): str(a), str(b): str(a)}
    with pytest.raises(SystemExit) as done:
        main(["compare", str(a), str(b), "-o", str(tmp_path / "each.png"), "--metric", "score1", "--csv",
              "--each-file"])
    assert done.value.code == 0
    each = pd.read_csv(tmp_path / "each.csv")
    assert list(dict.fromkeys(each["run"])) == [str(a), str(b)] and set(each["n"]) == {2, 1}


def _three_seed_files(tmp_path):
    """Three one-seed files of one experiment: seed files differ by an offset of 0, 0.3 and 1.2; the
    third reaches rows 0 and 1 only."""
    offsets = (0.0, 0.3, 1.2)
    files = [_synthetic(tmp_path / f"s{s}.h5", seeds=(s,), offset=o, reached=[3 if s != 9 else 2])
             for s, o in zip((3, 7, 9), offsets, strict=True)]
    return files, offsets


def test_seeds_table_matches_a_hand_computation(tmp_path):
    import statistics

    files, offsets = _three_seed_files(tmp_path)
    names = metric_names(make_game("ipd"))
    i1, i2 = names.index("score1"), names.index("score2")

    def expect(row, seeds, std):
        v = [o + row + 0.005 * (i1 + i2) for o in offsets[:seeds]]  # score_each_other of each seed
        return statistics.mean(v), 1.959964 * std(v) / seeds ** 0.5 if seeds > 1 else 0.0

    t = analysis.seeds_table(files, ["score_each_other", "score1"], at=[1, 2])
    assert list(t["update"]) == [1, 2] and list(t["n"]) == [3, 2] and set(t["label"]) == {"POLA-DiCE"}
    for _, r in t.iterrows():
        mean, half = expect(r["update"], r["n"], statistics.stdev)
        assert r["score_each_other"] == pytest.approx(mean)
        assert r["score_each_other_high"] - r["score_each_other"] == pytest.approx(half, rel=1e-5)
        assert r["score_each_other"] - r["score_each_other_low"] == pytest.approx(half, rel=1e-5)
    last = analysis.seeds_table(files, ["score_each_other"], ddof=0)  # all three seeds reached update 1
    assert list(last["update"]) == [1]
    mean, half = expect(1, 3, statistics.pstdev)
    assert last.loc[0, "score_each_other_high"] - mean == pytest.approx(half, rel=1e-5)
    each = analysis.seeds_table(files, ["score1"], at=[0], pool=False)
    assert len(each) == 3 and list(each["n"]) == [1, 1, 1]
    assert (each["score1_low"] == each["score1"]).all() and (each["score1_high"] == each["score1"]).all()
    with pytest.raises(PolaUsageError, match="no run reached update 5"):
        analysis.seeds_table(files, at=[5])
    with pytest.raises(PolaUsageError, match="ddof"):
        analysis.seeds_table(files, ddof=2)


def test_table_command_prints_markdown_and_refuses_bad_input(tmp_path, capsys):
    files, _ = _three_seed_files(tmp_path)
    out = tmp_path / "t.csv"
    with pytest.raises(SystemExit) as e:
        main(["table", *map(str, files), "--metric", "score1,wall_time", "--at", "0,2", "--csv", str(out)])
    assert e.value.code == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "| line | update | seeds | score1 | wall_time |"
    assert lines[2].startswith("| POLA-DiCE | 0 | 3 | 0.500 ± ") and lines[3].startswith("| POLA-DiCE | 2 | 2 | ")
    assert pd.read_csv(out)["update"].tolist() == [0, 2]
    for bad in (["--at", "x"], ["--metric", "nope"], ["--ddof", "3"], ["--csv", str(out)]):
        with pytest.raises(SystemExit) as e:
            main(["table", *map(str, files), *bad])
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
