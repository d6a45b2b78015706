"""Training loop and run files: layout, exact resume after an interruption, CLI."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from pola_nb.sampled.training import load_checkpoint, metric_names, preset_config, train

TINY = dict(hidden=4, steps=5, batch_size=16, outer_steps=2, inner_steps=1, updates=3, seeds=(1, 2),
            checkpoint_every=2)


def _metrics(path):
    with h5py.File(path, "r") as f:
        return {k: f[f"metrics/{k}"][()] for k in f["metrics"] if k != "wall_time"}


def _state(path):
    from pola_nb.sampled.training import _load_state

    with h5py.File(path, "r") as f:
        return [_load_state(f, k) for k in range(2)]


def test_run_file_layout(tmp_path):
    cfg = preset_config("coin", "pola-om", "quick", om_batches=2, **TINY)
    p = train(tmp_path / "run.h5", cfg)
    with h5py.File(p, "r") as f:
        assert f.attrs["status"] == "complete" and f.attrs["kind"] == "train"
        assert set(metric_names("coin")) | {"outer_steps"} == set(f["metrics"])
        assert f["metrics/score1"].shape == (4, 2)
        assert not np.isnan(f["metrics/own_coin"][()]).any()
        np.testing.assert_array_equal(f["metrics/outer_steps"][()], [0, 2, 4, 6])
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
        assert f.attrs["status"] == "running"
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


def test_two_worker_processes_give_the_same_run(tmp_path):
    cfg = preset_config("ipd", "pola-dice", "quick", **dict(TINY, updates=2, seeds=(5,)))
    a = train(tmp_path / "serial.h5", cfg)
    b = train(tmp_path / "parallel.h5", cfg, workers=2)
    ma, mb = _metrics(a), _metrics(b)
    for k in ma:
        np.testing.assert_array_equal(ma[k], mb[k], err_msg=k)


def test_reproduce_figure_summary_and_plot(tmp_path, capsys):
    import json

    from pola_nb.cli import main
    from pola_nb.cli.reproduce_sampled import run_sampled_figure

    tiny = dict(TINY, updates=2, seeds=None, om_batches=2)
    tiny.pop("seeds")
    out = run_sampled_figure("fig5", "quick", 2, tmp_path / "fig5.h5", False, False, 1, True, overrides=tiny)
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
    from pola_nb.sampled.rollout import rollout, scores
    from pola_nb.sampled.training import checkpoint_agent, parse_checkpoint_spec

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
