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
