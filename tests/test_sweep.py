"""``pola sweep``: run files equal to ``train``, exact resume, summary numbers, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from pola_nb.cli import main
from pola_nb.sampled.config import preset_config
from pola_nb.sampled.training import train
from pola_nb.sweep import SweepCounter, load_sweep, plan_sweep, run_sweep

SWEEP = """
game = "coin"
algo = "pola-dice"
preset = "quick"
seeds = [1, 2]

[set]
hidden = 4
steps = 5
batch_size = 16
outer_steps = 1
inner_steps = 1
updates = 2

[grid]
lr_in = [0.01, 0.02]
outer_beta = [30.0]
"""
NAMES = ("lr_in=0.01_outer_beta=30.0", "lr_in=0.02_outer_beta=30.0")
TINY = dict(hidden=4, steps=5, batch_size=16, outer_steps=1, inner_steps=1, updates=2, seeds=(1, 2))


def _metrics(path: Path) -> dict[str, np.ndarray]:
    with h5py.File(path, "r") as f:
        return {k: f[f"metrics/{k}"][()] for k in f["metrics"] if k != "wall_time"}


def _same(a: Path, b: Path) -> None:
    ma, mb = _metrics(a), _metrics(b)
    assert set(ma) == set(mb)
    for k in ma:
        np.testing.assert_array_equal(ma[k], mb[k], err_msg=k)


@pytest.fixture
def sweep_file(tmp_path: Path) -> Path:
    p = tmp_path / "sweep.toml"
    p.write_text(SWEEP)
    return p


def test_sweep_runs_equal_train(tmp_path, sweep_file):
    out = tmp_path / "out"
    seen: list[tuple[str, int, int]] = []
    run_sweep(load_sweep(sweep_file), out, progress=lambda name, u, k, m: seen.append((name, u, k)))
    assert sorted(p.name for p in out.iterdir()) == sorted([*(n + ".h5" for n in NAMES), "sweep.h5"])
    assert len(seen) == 2 * 2 * 3
    for name, lr in zip(NAMES, (0.01, 0.02), strict=True):
        ref = train(tmp_path / f"ref_{lr}.h5", preset_config("coin", "pola-dice", "quick", lr_in=lr,
                                                              outer_beta=30.0, **TINY))
        _same(out / f"{name}.h5", ref)
        with h5py.File(out / f"{name}.h5", "r") as f:
            assert f.attrs["status"] == "complete"
    with h5py.File(out / "sweep.h5", "r") as f:
        assert f.attrs["kind"] == "sweep" and f.attrs["status"] == "complete"
        assert f.attrs["sweep_toml"] == SWEEP
        runs = json.loads(f.attrs["sweep_runs"])
        assert [r["name"] for r in runs] == list(NAMES)
        assert [r["grid"] for r in runs] == [{"lr_in": 0.01, "outer_beta": 30.0}, {"lr_in": 0.02, "outer_beta": 30.0}]


def test_resume_after_interruption_equals_uninterrupted(tmp_path, sweep_file, capsys):
    sweep = load_sweep(sweep_file)
    full = tmp_path / "full"
    run_sweep(sweep, full)

    def stop(name, u, k, m):
        if name == NAMES[1] and u == 1:
            raise KeyboardInterrupt

    part = tmp_path / "part"
    with pytest.raises(KeyboardInterrupt):
        run_sweep(sweep, part, progress=stop)
    with h5py.File(part / f"{NAMES[1]}.h5", "r") as f:
        assert f.attrs["status"] == "stopped"
    with pytest.raises(SystemExit) as e:  # an existing sweep without --resume/--force is refused
        main(["sweep", str(sweep_file), "--out", str(part), "--quiet"])
    assert e.value.code == 2
    todo = plan_sweep(sweep, part, resume=True)
    assert [(r.name, again) for r, again in todo] == [(NAMES[1], True)]
    now = [100.0]
    counter = SweepCounter(sweep, part, todo, clock=lambda: now[0])
    # the first run is finished; the second stopped after its first seed's first update
    assert counter.done[NAMES[1]] == [1, 0]
    assert (counter.runs_done, counter.updates_done, counter.total, counter.eta_s()) == (1, 5, 8, None)
    assert counter.text() == "runs 1/2, updates 5/8, 0:00 elapsed, ETA ?"
    resumed: list[str] = []

    def count(name, u, k, m):
        resumed.append(name)
        now[0] += 10.0
        counter.update(name, u, k)

    run_sweep(sweep, part, resume=True, progress=count)
    assert (counter.runs_done, counter.updates_done) == (2, 8)
    counter.update(NAMES[1], 1, 0)  # an older report changes nothing
    assert counter.updates_done == 8 and counter.eta_s() == 0.0
    assert set(resumed) == {NAMES[1]}  # the finished run is skipped
    for name in NAMES:
        _same(part / f"{name}.h5", full / f"{name}.h5")
    with pytest.raises(SystemExit) as e:  # CLI resume of a finished sweep: nothing left to do
        main(["sweep", str(sweep_file), "--out", str(part), "--resume", "--quiet"])
    assert e.value.code == 0


def test_cli_and_summary_json(tmp_path, sweep_file, capsys):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as e:
        main(["sweep", str(sweep_file), "--out", str(out)])
    assert e.value.code == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 2 * 2 * 3 and "update 2/2 seed 2" in err
    lines = err.splitlines()
    assert "[runs 0/2, updates 0/8, " in lines[0] and "ETA ?]" in lines[0]  # the first run's update 0
    assert "[runs 2/2, updates 8/8, " in lines[-1] and lines[-1].endswith("ETA 0:00]")
    with pytest.raises(SystemExit) as e:
        main(["summary", str(out / "sweep.h5"), "--json"])
    assert e.value.code == 0
    s = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in s["runs"]] == list(NAMES)
    for r in s["runs"]:
        m = _metrics(out / r["file"])
        assert r["updates"] == 2 and r["grid"]["outer_beta"] == 30.0
        for key, x in (("score_each_other", 0.5 * (m["score1"][-1] + m["score2"][-1])),
                       ("score_vs_alld", 0.5 * (m["vs_alld1"][-1] + m["vs_alld2"][-1])),
                       ("own_coin", m["own_coin"][-1])):
            assert r[key] == pytest.approx(np.mean(x), rel=1e-12, abs=1e-12)
            assert r[key + "_ci95"] == pytest.approx(1.96 * np.std(x) / np.sqrt(len(x)), rel=1e-12, abs=1e-12)
    with pytest.raises(SystemExit) as e:
        main(["summary", str(out / "sweep.h5")])
    assert e.value.code == 0
    assert NAMES[0] in capsys.readouterr().out


BAD = {
    "malformed": "game = \n",
    "unknown_key": SWEEP + "\n[extra]\nx = 1\n",
    "unknown_override": SWEEP.replace("hidden = 4", "hiden = 4"),
    "empty_grid_list": SWEEP.replace("outer_beta = [30.0]", "outer_beta = []"),
    "invalid_grid_value": SWEEP.replace("lr_in = [0.01, 0.02]", "lr_in = [0.01, -0.1]"),
    "invalid_set_value": SWEEP.replace("steps = 5", "gamma = 2.0"),
    "grid_not_list": SWEEP.replace("outer_beta = [30.0]", "outer_beta = 30.0"),
    "set_and_grid": SWEEP.replace("hidden = 4", "lr_in = 0.1"),
    "bad_seeds": SWEEP.replace("seeds = [1, 2]", "seeds = []"),
    "no_grid": SWEEP.split("[grid]")[0],
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input(tmp_path, capsys, case):
    p = tmp_path / "bad.toml"
    p.write_text(BAD[case])
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as e:
        main(["sweep", str(p), "--out", str(out), "--quiet"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("pola: error:") and err.count("\n") == 1, err
    assert not out.exists()


def test_bad_cluster_and_missing_file(tmp_path, sweep_file, capsys):
    out = tmp_path / "out"
    for args in ([str(sweep_file), "--cluster", "nowhere:x"], [str(tmp_path / "missing.toml")]):
        with pytest.raises(SystemExit) as e:
            main(["sweep", *args, "--out", str(out), "--quiet"])
        assert e.value.code == 2 and capsys.readouterr().err.count("\n") == 1
    assert not out.exists()


def test_dask_cluster_threads_equal_in_process(tmp_path, sweep_file):
    """On a Dask cluster each run's loop has its own client thread; the files are the same."""
    pytest.importorskip("distributed")
    sweep = load_sweep(sweep_file)
    run_sweep(sweep, tmp_path / "a")
    run_sweep(sweep, tmp_path / "b", cluster="local:2")
    for name in NAMES:
        _same(tmp_path / "b" / f"{name}.h5", tmp_path / "a" / f"{name}.h5")

    def stop(name, u, k, m):
        if name == NAMES[1] and u == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):  # one thread's interruption stops the sweep
        run_sweep(sweep, tmp_path / "c", cluster="local:2", progress=stop)
    with h5py.File(tmp_path / "c" / "sweep.h5", "r") as f:
        assert f.attrs["status"] == "stopped"
    run_sweep(sweep, tmp_path / "c", resume=True, cluster="local:2")
    for name in NAMES:
        _same(tmp_path / "c" / f"{name}.h5", tmp_path / "a" / f"{name}.h5")


def test_existing_output_refused(tmp_path, sweep_file, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "sweep.h5").write_bytes(b"old")
    (out / f"{NAMES[0]}.h5").write_bytes(b"old run")
    for extra in ([], ["--resume"]):
        with pytest.raises(SystemExit) as e:
            main(["sweep", str(sweep_file), "--out", str(out), "--quiet", *extra])
        assert e.value.code == 2
        assert capsys.readouterr().err.count("\n") == 1
    assert sorted(p.name for p in out.iterdir()) == sorted(["sweep.h5", f"{NAMES[0]}.h5"])
    assert (out / "sweep.h5").read_bytes() == b"old"
    out2 = tmp_path / "out2"
    out2.mkdir()
    (out2 / f"{NAMES[0]}.h5").write_bytes(b"old run")  # a run file in the way of a new sweep
    with pytest.raises(SystemExit) as e:
        main(["sweep", str(sweep_file), "--out", str(out2), "--quiet"])
    assert e.value.code == 2
    assert sorted(p.name for p in out2.iterdir()) == [f"{NAMES[0]}.h5"]
