"""Process settings of the training processes (pola_nb.sampled.process)."""

import ctypes
import subprocess
import sys
import textwrap

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


def test_agent_step_in_process_and_in_a_worker_are_bit_identical():
    """Both agents' parts of an update, run here and in a spawned worker (worker_init), on the same inputs.

    This process keeps the OpenBLAS default thread count (as a caller that never ran training_process
    does); the worker runs single-threaded. The sizes are large enough for OpenBLAS to split the
    weight-gradient products (M * N * K above its threading threshold), so the parameters agree
    bit for bit only if the update fixes the BLAS thread count itself.
    """
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    import numpy as np

    from pola_nb.sampled import learners, tree
    from pola_nb.sampled.process import blas_thread_counts, limit_blas_threads, worker_init
    from pola_nb.sampled.training import init_seed, preset_config

    cfg = preset_config("ipd", "pola-dice", "quick", hidden=32, steps=20, batch_size=100, outer_steps=1,
                        inner_steps=1, seeds=(3,))
    arch = cfg.architecture()
    agents = init_seed(cfg, arch, 3).agents
    rollout = learners.game_rollout(cfg.make_game())
    jobs = [(arch, agents, i, cfg.hp, rollout, 7 + i, None) for i in (0, 1)]
    before = blas_thread_counts()
    limit_blas_threads(2)
    try:
        here = [learners._agent_step(job)[0] for job in jobs]
    finally:
        if before:
            limit_blas_threads(max(before))
    with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn"), initializer=worker_init) as pool:
        there = [new for new, _ in pool.map(learners._agent_step, jobs)]
    for k in (0, 1):
        np.testing.assert_array_equal(tree.flat(here[k]), tree.flat(there[k]), err_msg=f"agent {k + 1}")
