"""Faults while ``pola train`` runs its update tasks on a Dask cluster: a killed worker, a scheduler
that goes away and Ctrl-C. Each run ends (at once or after ``--resume``) in the same file as an
uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager

import h5py
import numpy as np
import psutil
import pytest

from pola_nb.sampled.config import preset_config
from pola_nb.sampled.training import train

FAULT_TINY = dict(hidden=4, steps=5, batch_size=16, outer_steps=2, inner_steps=1, updates=3, seeds=(1, 2),
                  checkpoint_every=1)


def _config():
    return preset_config("ipd", "pola-dice", "quick", **FAULT_TINY)


def _same_runs(a, b):
    """Every metric but ``wall_time``, every checkpoint and the resume state bit for bit."""
    from pola_nb.runfile import load_state, load_tree
    from pola_nb.sampled.tree import flat

    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        assert fa.attrs["status"] == fb.attrs["status"] == "complete"
        names = [k for k in fa["metrics"] if k != "wall_time"]
        assert names == [k for k in fb["metrics"] if k != "wall_time"]
        for k in names:
            np.testing.assert_array_equal(fa[f"metrics/{k}"][()], fb[f"metrics/{k}"][()], err_msg=k)
        assert set(fa["checkpoints"]) == set(fb["checkpoints"])
        for u in fa["checkpoints"]:
            for s in fa[f"checkpoints/{u}"]:
                np.testing.assert_array_equal(flat(load_tree(fa[f"checkpoints/{u}/{s}"])),
                                              flat(load_tree(fb[f"checkpoints/{u}/{s}"])), err_msg=f"{u} {s}")
        for k in range(len(fa["state"])):
            sa, sb = load_state(fa, k), load_state(fb, k)
            assert sa.done == sb.done
            assert sa.rng.bit_generator.state == sb.rng.bit_generator.state
            np.testing.assert_array_equal(flat(sa.agents), flat(sb.agents))


def _status(path):
    with h5py.File(path, "r") as f:
        return f.attrs["status"], f["metrics/score1"][()]


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """The uninterrupted run, in this process."""
    return train(tmp_path_factory.mktemp("straight") / "straight.h5", _config())


def test_a_killed_worker_s_task_runs_again(tmp_path, straight):
    """SIGKILL to a worker of ``local:2`` that holds a pending task of the run: Dask runs the task
    again, the nanny starts a new worker, and the file is the uninterrupted run's."""
    from pola_nb.sampled.cluster import open_cluster

    killed: list[tuple[str, int, list]] = []
    with open_cluster("local:2") as executor:
        client = executor.client
        pids = client.run(os.getpid)
        assert len(pids) == 2

        def kill(u, k, m):
            # seed index 0's first update has just been submitted; seed index 1's has not
            if (u, k) != (0, 1) or killed:
                return
            busy = {w: list(keys) for w, keys in client.processing().items() if keys}
            held = {w: list(keys) for w, keys in client.has_what().items() if keys}
            where = busy or held
            assert where, "no task of the run is on a worker"
            worker = sorted(where)[0]
            killed.append((worker, pids[worker], where[worker]))
            os.kill(pids[worker], signal.SIGKILL)

        out = train(tmp_path / "killed.h5", _config(), cluster=executor, progress=kill)
        assert killed and killed[0][2], killed
        client.wait_for_workers(2, timeout=60)
        after = client.run(os.getpid)
    assert killed[0][1] not in after.values()  # a new worker took its place
    _same_runs(straight, out)


_SCHEDULER = """
import json, os, sys, time
from distributed import LocalCluster

cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp://",
                       host="127.0.0.1", dashboard_address=None)
with open(sys.argv[1] + ".part", "w") as f:
    json.dump({"address": cluster.scheduler_address}, f)
os.replace(sys.argv[1] + ".part", sys.argv[1])
while True:
    time.sleep(1)
"""


def _cli_args(out, *extra):
    return ["train", "ipd", "--algo", "pola-dice", "--preset", "quick", "--updates", "3", "--batch-size", "16",
            "--hidden", "4", "--steps", "5", "--outer-steps", "2", "--inner-steps", "1", "--seeds", "1,2",
            "--checkpoint-every", "1", "--out", str(out), *extra]


def test_a_lost_scheduler_stops_with_one_line_and_the_run_resumes(tmp_path, straight, monkeypatch, capfd):
    """A scheduler in another process, reached with ``--cluster tcp://``, killed after the first update
    of seed index 0: ``pola train`` exits with status 2 and one error line (no traceback), the file
    stays ``running``, and ``--resume`` in this process completes it to the uninterrupted run."""
    from pola_nb.cli import main, train_cmd

    sched_file = tmp_path / "scheduler.json"
    proc = subprocess.Popen([sys.executable, "-c", _SCHEDULER, str(sched_file)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not sched_file.is_file():
            assert proc.poll() is None and time.monotonic() < deadline, "the scheduler did not start"
            time.sleep(0.1)
        address = json.loads(sched_file.read_text())["address"]

        @contextmanager
        def killing_progress_display(cfg, quiet, title=None):
            def progress(u, k, m):
                if (u, k) == (1, 0):
                    proc.kill()
                    proc.wait(30)

            yield progress

        monkeypatch.setattr(train_cmd, "progress_display", killing_progress_display)
        out = tmp_path / "lost.h5"
        capfd.readouterr()
        with pytest.raises(SystemExit) as e:
            main(_cli_args(out, "--cluster", address, "--quiet"))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    err = capfd.readouterr().err
    assert e.value.code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pola: error: lost the Dask scheduler at"), err
    assert "--resume" in lines[0] and "Traceback" not in err
    status, score = _status(out)
    assert status == "stopped" and not np.isnan(score[1, 0]) and np.isnan(score).any()
    monkeypatch.undo()
    with pytest.raises(SystemExit) as e:
        main(["train", "ipd", "--out", str(out), "--resume", "--quiet"])
    assert e.value.code == 0
    _same_runs(straight, out)


def test_ctrl_c_closes_the_local_cluster_and_the_run_resumes(tmp_path, straight):
    """KeyboardInterrupt in the client loop of a ``local:2`` run: no process of the cluster is left,
    the file is marked ``stopped`` and resumes to the uninterrupted run."""
    children: list[psutil.Process] = []

    def interrupt(u, k, m):
        if (u, k) == (1, 1):
            # the nannies and workers (multiprocessing's resource tracker serves the whole process)
            children.extend(p for p in psutil.Process().children(recursive=True)
                            if "resource_tracker" not in " ".join(p.cmdline()))
            raise KeyboardInterrupt

    out = tmp_path / "ctrl_c.h5"
    with pytest.raises(KeyboardInterrupt):
        train(out, _config(), cluster="local:2", progress=interrupt)
    assert len(children) >= 2  # two workers (and their nannies, where they are processes)
    gone, alive = psutil.wait_procs(children, timeout=30)
    assert not alive, alive
    status, score = _status(out)
    assert status == "stopped" and (score.shape[0] < 4 or np.isnan(score[3]).any())  # stopped early
    train(out, resume=True, cluster="local:1")
    _same_runs(straight, out)
