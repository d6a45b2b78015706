"""Process settings of the training processes (pola_nb.sampled.process)."""

import ctypes
import subprocess
import sys
import textwrap

import numba
import pytest

PROBE = textwrap.dedent("""
    import ctypes, sys
    import numpy as np
    from pola_nb.sampled.process import training_process

    class MallInfo2(ctypes.Structure):  # glibc >= 2.33
        _fields_ = [(n, ctypes.c_size_t) for n in
                    ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                     "uordblks", "fordblks", "keepcost")]

    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = MallInfo2
    if sys.argv[1] == "keep":
        training_process()
    a = np.ones(20_000_000, np.float32)  # 80 MB, above glibc's largest mmap threshold
    mapped_while_alive = libc.mallinfo2().hblkhd
    del a
    print(mapped_while_alive, libc.mallinfo2().arena)
""")


def malloc_state(mode: str) -> tuple[int, int]:
    """(bytes in mmap-ed blocks while an 80 MB array lives, heap bytes kept after it is freed)."""
    out = subprocess.run([sys.executable, "-c", PROBE, mode], check=True, capture_output=True, text=True)
    mapped, heap = out.stdout.split()
    return int(mapped), int(heap)


def has_mallinfo2() -> bool:
    try:
        return hasattr(ctypes.CDLL("libc.so.6"), "mallinfo2")
    except OSError:
        return False


@pytest.mark.skipif(not has_mallinfo2(), reason="needs glibc >= 2.33")
def test_large_arrays_come_from_the_heap_and_stay_there():
    mapped, heap = malloc_state("default")
    assert mapped >= 80_000_000 and heap < 80_000_000  # glibc's default: its own mapping, unmapped on free
    mapped, heap = malloc_state("keep")
    assert mapped < 80_000_000 and heap >= 80_000_000  # from the heap, kept after the free


BIT_IDENTITY = textwrap.dedent("""
    import pickle
    import dask
    import numpy as np
    from pola_nb.sampled import learners, tree
    from pola_nb.sampled.cluster import QUIET_WORKERS, open_cluster
    from pola_nb.sampled.config import preset_config
    from pola_nb.sampled.process import blas_thread_counts, limit_blas_threads
    from pola_nb.sampled.training import init_seed, timed_task

    if __name__ == "__main__":
        cfg = preset_config("ipd", "pola-dice", "quick", hidden=32, steps=20, batch_size=100, outer_steps=1,
                            inner_steps=1, seeds=(3,))
        agents = init_seed(cfg, 3).agents
        rollout = learners.game_rollout(cfg.make_game())
        jobs = [(cfg.architecture(), agents, i, cfg.hp, rollout, 7 + i, None) for i in (0, 1)]
        limit_blas_threads(2)
        here = [learners.agent_step(*job)[0] for job in jobs]
        unpickled = [learners.agent_step(*pickle.loads(pickle.dumps(job)))[0] for job in jobs]
        with open_cluster("local:2") as executor:
            counts = executor.client.run(blas_thread_counts)
            assert len(counts) == 2 and all(set(c) <= {1} for c in counts.values()), counts
            quiet = executor.client.run(lambda: {k: dask.config.get(k) for k in QUIET_WORKERS})
            assert all(q == QUIET_WORKERS for q in quiet.values()), quiet
            futures = [executor.submit(timed_task, learners.agent_step, job) for job in jobs]
            there = [f.result()[0][0] for f in futures]
        for k in (0, 1):
            for name, other in (("unpickled", unpickled), ("dask worker", there)):
                np.testing.assert_array_equal(tree.flat(here[k]), tree.flat(other[k]), err_msg=f"agent {k + 1}, {name}")
        print("ok")
""")


def test_agent_step_in_process_and_in_a_dask_worker_are_bit_identical(tmp_path):
    """Both agents' parts of an update, run in one process, run there again on unpickled inputs, and
    run in the worker processes of a Dask LocalCluster (``--cluster local:2``, workers set up by
    training_process and the quiet Dask settings of ``local:N``), on the same inputs.

    The process keeps two BLAS threads (as a caller that never ran training_process may); the
    workers run single-threaded. The sizes are large enough for OpenBLAS to split the
    weight-gradient products (M * N * K above its threading threshold), so the parameters agree bit
    for bit only if the update fixes the BLAS thread count itself.

    All of it runs with OpenBLAS's Haswell kernels (x86-64), whose sgemm rounds a product of one
    step's rows differently from the same rows inside a whole sequence: the results then agree only
    if every process reuses the sampler's recorded forward pass in the same way, unpickled
    parameters included. (With the AVX-512 kernels the two products happen to agree.)
    """
    import os
    import platform

    env = dict(os.environ)
    if platform.machine() in ("x86_64", "AMD64"):
        env["OPENBLAS_CORETYPE"] = "Haswell"
    script = tmp_path / "bit_identity.py"
    script.write_text(BIT_IDENTITY)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-3000:]


def test_cluster_texts():
    """``--cluster`` texts and the ``--workers`` alias, parsed without connecting to anything."""
    from pola_nb.errors import PolaUsageError
    from pola_nb.sampled.cluster import ClusterSpec, cluster_option, parse_cluster

    assert parse_cluster("local") == parse_cluster("local:1") == ClusterSpec("local", 1)
    assert parse_cluster("local:1").in_process and not parse_cluster("local:3").in_process
    assert parse_cluster("tcp://10.0.0.5:8786") == ClusterSpec("tcp", address="tcp://10.0.0.5:8786")
    assert parse_cluster("tcp://[::1]:8786").kind == "tcp"
    assert parse_cluster(__file__) == ClusterSpec("file", address=__file__)
    for bad in ("", "local:0", "local:", "tcp://h", "tcp://h:0", "inproc://x", "no/such/file.json"):
        with pytest.raises(PolaUsageError):
            parse_cluster(bad)
    assert cluster_option(None, None) == "local:1"
    assert cluster_option(None, 2) == "local:2"
    assert cluster_option("tcp://h:1", None) == "tcp://h:1"
    for cluster, workers in (("local:2", 2), (None, 0), (None, True)):
        with pytest.raises(PolaUsageError):
            cluster_option(cluster, workers)


def test_in_process_executor_runs_tasks_in_submission_order():
    from pola_nb.sampled.cluster import InProcess

    ran = []
    ex = InProcess()
    futures = [ex.submit(ran.append, i) for i in range(3)]
    assert ran == []  # nothing runs before it is waited for
    assert ex.wait_any(futures[1:]) == [futures[1]] and ran == [1]
    assert ex.wait_any(futures) == [futures[1]]  # a finished one is returned at once
    assert ex.wait_any([futures[0], futures[2]]) == [futures[0]] and ran == [1, 0]
    bad = ex.submit(int, "x")
    assert ex.wait_any([bad]) == [bad]
    with pytest.raises(ValueError):
        bad.result()


def test_the_library_leaves_process_settings_to_its_caller(tmp_path):
    """`train()` in a notebook keeps the notebook's BLAS and numba threads; `pola train` sets them."""
    code = textwrap.dedent(f"""
        import numba
        from pola_nb.sampled.process import blas_thread_counts, limit_blas_threads
        from pola_nb.sampled.config import preset_config
        from pola_nb.sampled.training import train
        limit_blas_threads(2)
        numba.set_num_threads(2)
        cfg = preset_config("ipd", "lola-dice", "quick", policy="memory-one", updates=1, batch_size=8, steps=4)
        train({str(tmp_path / 'run.h5')!r}, cfg)
        print(blas_thread_counts(), numba.get_num_threads())
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    counts, numba_threads = out.rsplit(" ", 1)
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("one CPU: numba cannot be given two threads")
    assert int(numba_threads) == 2
    assert all(c == 2 for c in eval(counts)) or eval(counts) == []
