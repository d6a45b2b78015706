"""Training loop and run files: layout, exact resume after an interruption, CLI."""

from __future__ import annotations

from dataclasses import replace

import h5py
import numpy as np
import pytest

from pola_nb.generics import metric_names
from pola_nb.runfile import load_checkpoint
from pola_nb.sampled.config import preset_config
from pola_nb.sampled.games import make_game
from pola_nb.sampled.training import train

TINY = dict(hidden=4, steps=5, batch_size=16, outer_steps=2, inner_steps=1, updates=3, seeds=(1, 2),
            checkpoint_every=2)


def _metrics(path):
    with h5py.File(path, "r") as f:
        return {k: f[f"metrics/{k}"][()] for k in f["metrics"] if k != "wall_time"}


def _state(path):
    from pola_nb.runfile import load_state

    with h5py.File(path, "r") as f:
        return [load_state(f, k) for k in range(len(f["state"]))]


def test_run_file_layout(tmp_path):
    cfg = preset_config("coin", "pola-om", "quick", om_batches=2, **TINY)
    p = train(tmp_path / "run.h5", cfg)
    with h5py.File(p, "r") as f:
        assert f.attrs["status"] == "complete" and f.attrs["kind"] == "train"
        assert set(metric_names(make_game("coin"))) | {"outer_steps", "update"} == set(f["metrics"])
        assert f["metrics/score1"].shape == (4, 2)
        assert not np.isnan(f["metrics/own_coin"][()]).any()
        np.testing.assert_array_equal(f["metrics/outer_steps"][()], [0, 2, 4, 6])
        np.testing.assert_array_equal(f["metrics/update"][()], [0, 1, 2, 3])
        assert sorted(f["checkpoints"], key=int) == ["0", "2", "3"]
        assert np.all(np.diff(f["metrics/wall_time"][()], axis=0) > 0)
    cfg2, arch, agents = load_checkpoint(p, 2, seed_index=1)
    assert cfg2 == cfg and len(agents) == 2 and agents[0]["pol"]["head_w"].dtype == np.float32


@pytest.mark.parametrize("algo", ["pola-dice", "pola-om"])
def test_interrupted_run_resumes_exactly(tmp_path, algo):
    cfg = preset_config("ipd", algo, "quick", om_batches=2, **TINY)
    straight = train(tmp_path / "a.h5", cfg)

    class Stop(Exception):
        pass

    def interrupt(u, k, m):
        if u == 2 and k == 0:  # seed index 0 finished update 2, seed index 1 has not
            raise Stop

    with pytest.raises(Stop):
        train(tmp_path / "b.h5", cfg, progress=interrupt)
    with h5py.File(tmp_path / "b.h5", "r") as f:
        assert f.attrs["status"] == "stopped"
        assert np.isnan(f["metrics/score1"][2, 1]) and not np.isnan(f["metrics/score1"][2, 0])
    train(tmp_path / "b.h5", resume=True)
    a, b = _metrics(straight), _metrics(tmp_path / "b.h5")
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    for sa, sb in zip(_state(straight), _state(tmp_path / "b.h5"), strict=True):
        assert sa.done == sb.done == 3
        assert sa.rng.bit_generator.state == sb.rng.bit_generator.state
        from pola_nb.sampled.tree import flat

        np.testing.assert_array_equal(flat(sa.agents), flat(sb.agents))
        if algo == "pola-om":
            np.testing.assert_array_equal(flat(sa.models), flat(sb.models))


def test_extending_a_finished_run_equals_running_longer(tmp_path):
    from pola_nb.cli import main
    from pola_nb.sampled.tree import flat

    cfg = preset_config("ipd", "pola-dice", "quick", **dict(TINY, updates=2))
    long = train(tmp_path / "long.h5", preset_config("ipd", "pola-dice", "quick", **TINY))
    train(tmp_path / "ext.h5", cfg)
    with pytest.raises(SystemExit) as e:
        main(["train", "ipd", "--algo", "pola-dice", "--out", str(tmp_path / "ext.h5"), "--resume", "--updates", "3",
              "--quiet"])
    assert e.value.code == 0
    a, b = _metrics(long), _metrics(tmp_path / "ext.h5")
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    for sa, sb in zip(_state(long), _state(tmp_path / "ext.h5"), strict=True):
        np.testing.assert_array_equal(flat(sa.agents), flat(sb.agents))
    assert load_checkpoint(tmp_path / "ext.h5")[0].updates == 3
    for bad in (["--updates", "2"], ["--lr-in", "0.1"]):  # shrinking, or changing the configuration
        with pytest.raises(SystemExit) as e:
            main(["train", "ipd", "--algo", "pola-dice", "--out", str(tmp_path / "ext.h5"), "--resume", "--quiet",
                  *bad])
        assert e.value.code == 2, bad


def test_train_cli(tmp_path):
    from pola_nb.cli import main

    out = tmp_path / "cli.h5"
    args = ["train", "ipd", "--algo", "lola-dice", "--preset", "quick", "--updates", "2", "--batch-size", "8",
            "--hidden", "3", "--steps", "4", "--seeds", "3,4", "--kl", "current-ref", "--out", str(out), "--quiet"]
    with pytest.raises(SystemExit) as e:
        main(args)
    assert e.value.code == 0
    cfg, _, _ = load_checkpoint(out)
    assert cfg.seeds == (3, 4) and cfg.hp.kl == "current-ref" and cfg.hp.batch_size == 8 and cfg.hidden == 3
    with pytest.raises(SystemExit) as e:  # resuming a complete run does nothing and succeeds
        main(["train", "ipd", "--algo", "lola-dice", "--out", str(out), "--resume", "--quiet"])
    assert e.value.code == 0
    for resume, code in ((["--out", str(out), "--resume"], 0),  # the stored file knows its algorithm
                         (["--algo", "pola-dice", "--out", str(out), "--resume"], 2),
                         (["--out", str(tmp_path / "no_algo.h5")], 2)):
        with pytest.raises(SystemExit) as e:
            main(["train", "ipd", *resume, "--quiet"])
        assert e.value.code == code, resume
    assert not (tmp_path / "no_algo.h5").exists()
    for bad in (["--seeds", "1,1"], ["--algo", "sgd"], ["--batch-size", "-1"], ["--kl", "both"]):
        a = list(args)
        key = bad[0]
        a[a.index(key) + 1] = bad[1]
        a[a.index("--out") + 1] = str(tmp_path / "bad.h5")
        with pytest.raises(SystemExit) as e:
            main(a)
        assert e.value.code == 2, bad


def _same_runs(a, b) -> None:
    """Two run files agree bit for bit: every metric but wall_time, every checkpoint, and the resume
    state (parameters, opponent models, random generator, updates done) of every seed."""
    from pola_nb.runfile import load_tree
    from pola_nb.sampled.tree import flat

    ma, mb = _metrics(a), _metrics(b)
    assert set(ma) == set(mb)
    for k in ma:
        np.testing.assert_array_equal(ma[k], mb[k], err_msg=k)
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        assert sorted(fa["checkpoints"]) == sorted(fb["checkpoints"])
        for u in fa["checkpoints"]:
            for s in fa[f"checkpoints/{u}"]:
                np.testing.assert_array_equal(flat(load_tree(fa[f"checkpoints/{u}/{s}"])),
                                              flat(load_tree(fb[f"checkpoints/{u}/{s}"])), err_msg=f"{u} {s}")
    for sa, sb in zip(_state(a), _state(b), strict=True):
        assert sa.done == sb.done
        assert sa.rng.bit_generator.state == sb.rng.bit_generator.state
        np.testing.assert_array_equal(flat(sa.agents), flat(sb.agents))
        if sa.models is not None:
            np.testing.assert_array_equal(flat(sa.models), flat(sb.models))


DASK_TINY = dict(hidden=4, steps=5, batch_size=16, outer_steps=2, inner_steps=1, updates=2, seeds=(1, 2),
                 checkpoint_every=1, om_batches=2)


def test_in_process_and_dask_local_cluster_give_bit_identical_runs(tmp_path):
    """--cluster local:1 (this process, no Dask) and local:2 (a Dask LocalCluster of two worker
    processes): the same file, whatever the order in which the tasks finish."""
    cfg = preset_config("ipd", "pola-om", "quick", **DASK_TINY)
    calls = []
    a = train(tmp_path / "here.h5", cfg, cluster="local:1")
    b = train(tmp_path / "dask.h5", cfg, cluster="local:2", progress=lambda u, k, m: calls.append((u, k)))
    _same_runs(a, b)
    assert sorted(calls) == [(u, k) for u in range(3) for k in range(2)]
    for k in range(2):  # each seed's updates are reported in order
        assert [u for u, kk in calls if kk == k] == [0, 1, 2]


def test_a_remote_scheduler_by_address_and_by_scheduler_file(tmp_path):
    """--cluster tcp://HOST:PORT and a scheduler file reach a running Dask scheduler (here one in this
    process with a thread worker) and give the same run as this process alone."""
    import json

    from distributed import LocalCluster

    cfg = preset_config("ipd", "pola-dice", "quick", **dict(DASK_TINY, seeds=(3,), updates=1))
    here = train(tmp_path / "here.h5", cfg)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp://", host="127.0.0.1",
                      dashboard_address=None) as cluster:
        by_address = train(tmp_path / "tcp.h5", cfg, cluster=cluster.scheduler_address)
        (tmp_path / "scheduler.json").write_text(json.dumps({"address": cluster.scheduler_address}))
        by_file = train(tmp_path / "file.h5", cfg, cluster=str(tmp_path / "scheduler.json"))
    _same_runs(here, by_address)
    _same_runs(here, by_file)


class LastFirst:
    """An executor that always runs the newest pending task: one seed runs all its updates before the
    next starts, so rows are written out of order across seeds."""

    dashboard_link = None

    def __init__(self) -> None:
        from pola_nb.sampled.cluster import InProcess

        self.inner = InProcess()

    def submit(self, fn, *args):
        return self.inner.submit(fn, *args)

    def wait_any(self, futures):
        return self.inner.wait_any([max(futures, key=lambda f: next(
            i for i, (g, _, _) in enumerate(self.inner._queue) if g is f))])


def test_seeds_advance_independently_and_resume_exactly(tmp_path):
    """Tasks that finish in another order than submitted: seed index 1 finishes every update before
    seed index 0 does its first; an interruption then leaves the seeds at different updates, the rows
    of the one behind NaN, and --resume completes both to the same file as a straight run."""
    from pola_nb.sampled.cluster import open_cluster

    cfg = preset_config("ipd", "pola-dice", "quick", **dict(TINY, seeds=(1, 2, 3)))
    straight = train(tmp_path / "a.h5", cfg)
    calls = []
    train(tmp_path / "b.h5", cfg, cluster=LastFirst(), progress=lambda u, k, m: calls.append((u, k)))
    assert calls[:6] == [(0, 0), (0, 1), (0, 2), (1, 2), (2, 2), (3, 2)]
    _same_runs(straight, tmp_path / "b.h5")

    class Stop(Exception):
        pass

    def interrupt(u, k, m):
        if (u, k) == (2, 1):
            raise Stop

    with pytest.raises(Stop):
        train(tmp_path / "c.h5", cfg, cluster=LastFirst(), progress=interrupt)
    with h5py.File(tmp_path / "c.h5", "r") as f:
        score = f["metrics/score1"][()]
        assert score.shape == (4, 3) and not np.isnan(score[:, 2]).any()  # seed index 2: done
        assert not np.isnan(score[:3, 1]).any() and np.isnan(score[3, 1])  # seed index 1: 2 updates
        assert not np.isnan(score[0, 0]) and np.isnan(score[1:, 0]).all()  # seed index 0: none
    with open_cluster("local:1") as executor:
        train(tmp_path / "c.h5", resume=True, cluster=executor)
    _same_runs(straight, tmp_path / "c.h5")


def test_reproduce_figure_summary_and_plot(tmp_path, capsys):
    import json

    from pola_nb.cli import main
    from pola_nb.reproduce import sampled_figure

    tiny = dict(TINY, updates=2, seeds=None, om_batches=2)
    tiny.pop("seeds")
    out, png = sampled_figure("fig5", tmp_path / "fig5.h5", preset="quick", seeds=(1, 2), overrides=tiny)
    assert png == out.with_suffix(".png")
    assert out.with_suffix(".png").is_file()
    for algo in ("lola-dice", "pola-dice", "pola-om"):
        assert (tmp_path / f"fig5_{algo}.h5").is_file()
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        main(["summary", "--json", str(out)])
    assert e.value.code == 0
    s = json.loads(capsys.readouterr().out)
    assert set(s["score_each_other"]) == {"lola-dice", "pola-dice", "pola-om"}
    assert all(0 <= v <= 1 for v in s["own_coin"].values())
    with pytest.raises(SystemExit) as e:
        main(["plot", str(tmp_path / "fig5_pola-om.h5"), "--out", str(tmp_path / "om.png")])
    assert e.value.code == 0 and (tmp_path / "om.png").is_file()


def test_checkpoint_agents_play_in_the_driver(tmp_path):
    from pola_nb.runfile import checkpoint_agent, parse_checkpoint_spec
    from pola_nb.sampled.rollout import rollout, scores

    assert parse_checkpoint_spec("a/b.h5:20@1") == (tmp_path.__class__("a/b.h5"), 20, 1)
    assert parse_checkpoint_spec("c:/x.h5") == (tmp_path.__class__("c:/x.h5"), None, 0)
    cfg = preset_config("ipd", "lola-dice", "quick", **dict(TINY, updates=2))
    p = train(tmp_path / "run.h5", cfg)
    c, a1 = checkpoint_agent(f"{p}:2", 0)
    _, a2 = checkpoint_agent(f"{p}@1", 1)
    s = scores(rollout(c.make_game(), a1, "tft", 64, seed=0))
    assert -1 <= s[0] <= 1
    from pola_nb.errors import PolaUsageError

    with pytest.raises(PolaUsageError):
        checkpoint_agent(f"{p}:1", 0)  # no checkpoint at update 1


@pytest.mark.parametrize("seed", [1, pytest.param(2, marks=pytest.mark.slow)])
def test_lola_dice_learns_reciprocity_with_memory_one_policies(tmp_path, seed):
    """End to end: sampled LOLA-DiCE with memory-one tables on the IPD moves from random play
    (~0.165 with each other, ~-0.165 vs ALLD) towards reciprocity: cooperative with each other,
    hardly exploitable by ALLD (the exact-IPD result, here through rollouts and DiCE)."""
    cfg = preset_config("ipd", "lola-dice", "quick", policy="memory-one", updates=100, batch_size=500,
                        lr_in=1.0, lr_out=0.05, lr_v=0.05, seeds=(seed,), checkpoint_every=100)
    p = train(tmp_path / "m1.h5", cfg)
    with h5py.File(p, "r") as f:
        m = f["metrics"]
        each_other = 0.5 * (m["score1"][-10:] + m["score2"][-10:]).mean()
        vs_alld = 0.5 * (m["vs_alld1"][-10:] + m["vs_alld2"][-10:]).mean()
    assert each_other > 0.2 and vs_alld > -0.1


def test_a_reader_holding_the_run_file_does_not_break_training(tmp_path):
    """HDF5 locks a file while another process has it open; the training loop opens its file only to
    write a row, so a reader (``pola summary`` while it runs) and the writer can meet. The writer waits."""
    import subprocess
    import sys

    from pola_nb.results import open_h5

    path = tmp_path / "run.h5"
    with h5py.File(path, "w") as f:
        f.attrs["x"] = 1
    reader = subprocess.Popen([sys.executable, "-c", (
        "import sys, time, h5py\n"
        f"f = h5py.File({str(path)!r}, 'r')\n"
        "print('open', flush=True)\n"
        "time.sleep(1.0)\n"
        "f.close()\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline().strip() == "open"
        with pytest.raises(BlockingIOError):  # what the writer met before it waited
            open_h5(path, "a", wait_s=0)
        with open_h5(path, "a") as f:  # waits for the reader to let go
            f.attrs["x"] = 2
    finally:
        reader.wait(10)
    with h5py.File(path, "r") as f:
        assert f.attrs["x"] == 2


def test_train_cli_logs_one_line_per_update_without_a_terminal(tmp_path, capsys):
    from pola_nb.cli import main

    args = ["train", "ipd", "--algo", "lola-dice", "--preset", "quick", "--updates", "2", "--batch-size", "8",
            "--hidden", "3", "--steps", "4", "--seeds", "3,4", "--out", str(tmp_path / "log.h5")]
    with pytest.raises(SystemExit) as e:
        main(args)
    assert e.value.code == 0
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("ipd lola-dice update")]
    assert len(lines) == 6  # before training and after each of 2 updates, for 2 seeds
    assert lines[-1].startswith("ipd lola-dice update 2/2 seed 4") and "vs ALLD" in lines[-1]


def test_train_cli_cluster_and_workers_alias(tmp_path):
    """``--cluster local`` and ``--workers 2`` (= ``--cluster local:2``) write the same run file."""
    from pola_nb.cli import main

    args = ["train", "ipd", "--algo", "pola-dice", "--preset", "quick", "--updates", "2", "--batch-size", "16",
            "--hidden", "4", "--steps", "5", "--outer-steps", "1", "--seeds", "1,2", "--quiet"]
    for name, option in (("local.h5", ["--cluster", "local"]), ("workers.h5", ["--workers", "2"])):
        with pytest.raises(SystemExit) as e:
            main([*args, *option, "--out", str(tmp_path / name)])
        assert e.value.code == 0, option
    _same_runs(tmp_path / "local.h5", tmp_path / "workers.h5")


def test_paper_presets_perform_as_many_updates_as_the_official_commands():
    """The official README's ``--n_update`` values (Figures 4 and 5); its loop performs exactly that many."""
    official = {("ipd", "lola-dice"): 20001, ("ipd", "pola-dice"): 101, ("ipd", "pola-om"): 101,
                ("coin", "lola-dice"): 50001, ("coin", "pola-dice"): 251, ("coin", "pola-om"): 251}
    for (game, algo), n_update in official.items():
        assert preset_config(game, algo, "paper").updates == n_update, (game, algo)


def test_reproduce_all_writes_every_figure_a_league_and_a_report(tmp_path):
    """A tiny `pola reproduce all`: every file the report refers to exists, and its tables are the
    files' own summaries."""
    from pola_nb.errors import PolaUsageError
    from pola_nb.reproduce import figure_table, reproduce_all

    tiny = dict(TINY, updates=1, om_batches=2)
    tiny.pop("seeds")
    report = reproduce_all(tmp_path / "r", preset="quick", seeds=(1, 2), overrides=tiny, league_batch=16,
                           exact_overrides=dict(repeats=1, cfs=(1.6,)), log=lambda s: None)
    text = report.read_text()
    names = ["fig1_quick", "fig3_quick", "b16_quick", "fig4_quick", "fig5_quick", "league_fig4_quick"]
    for name in names:
        assert (tmp_path / "r" / f"{name}.h5").is_file() and f"({name}.png)" in text
        assert (tmp_path / "r" / f"{name}.png").is_file()
        assert figure_table(tmp_path / "r" / f"{name}.h5") in text
    assert text.count("Training time (summed over seeds") == 2
    for key in ("commit", "numpy", "load average", "wall time"):
        assert f"| {key} |" in text
    # a second run without --force or --resume is refused before anything is written
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "r").iterdir()}
    with pytest.raises(PolaUsageError):
        reproduce_all(tmp_path / "r", preset="quick", seeds=(1, 2), overrides=tiny, log=lambda s: None)
    assert before == {p: p.stat().st_mtime_ns for p in (tmp_path / "r").iterdir()}


def test_eval_every_rows_and_resume(tmp_path):
    """With eval_every = 2 over 5 updates the rows are updates 0, 2, 4 and 5 (the last). A run
    interrupted after update 3 (between evaluations) and resumed, and a 4-update run extended to 5,
    end with the same metrics as the uninterrupted run."""
    cfg = preset_config("ipd", "lola-dice", "quick", updates=5, eval_every=2, checkpoint_every=2,
                        seeds=(1, 2), hidden=4, steps=5, batch_size=16)
    full = train(tmp_path / "full.h5", cfg)
    with h5py.File(full) as f:
        np.testing.assert_array_equal(f["metrics/update"][()], [0, 2, 4, 5])
        np.testing.assert_array_equal(f["metrics/outer_steps"][()], [0, 2, 4, 5])
        assert not np.isnan(f["metrics/score1"][()]).any()
        assert sorted(f["checkpoints"], key=int) == ["0", "2", "4", "5"]
    part = train(tmp_path / "part.h5", replace(cfg, updates=4))
    train(part, resume=True, updates=5)

    def stop_after_3(u, k, m):
        if u >= 3:
            raise KeyboardInterrupt

    cut = tmp_path / "cut.h5"
    with pytest.raises(KeyboardInterrupt):
        train(cut, replace(cfg, seeds=(1,), eval_every=1), progress=stop_after_3)
    with h5py.File(cut, "a") as f:  # as if eval_every had been 2 (it only decides which rows are written)
        f.attrs["config"] = replace(cfg, seeds=(1,)).to_json()
    train(cut, resume=True)
    with h5py.File(full) as a, h5py.File(part) as b, h5py.File(cut) as c:
        for name in ("score1", "vs_alld2"):
            np.testing.assert_array_equal(a[f"metrics/{name}"][()], b[f"metrics/{name}"][()])
        assert c["state/seed_0"].attrs["done"] == 5
