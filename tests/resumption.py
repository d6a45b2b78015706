"""A check shared by the learners' tests: a run interrupted and resumed ends as an uninterrupted one."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from pola_nb.runfile import load_checkpoint
from pola_nb.sampled import tree
from pola_nb.sampled.training import train


def interrupted_and_resumed(tmp_path: Path, cfg, stop_update: int, stop_seed: int = 1) -> tuple[Path, Path]:
    """Train ``cfg`` uninterrupted (``full.h5``), and again (``cut.h5``) stopped by Ctrl-C when seed
    index ``stop_seed`` reports its evaluation at update ``stop_update``, then resumed. Asserts that
    seed ``stop_seed`` had done exactly ``stop_update`` updates when stopped (the file marked
    ``stopped``, then ``complete``), that every metric but
    the wall time is equal, and that both agents' last checkpoints of every seed are equal.
    Returns ``(full, cut)``."""
    full = train(tmp_path / "full.h5", cfg)

    def stop(u, k, m):
        if u >= stop_update and k == stop_seed:
            raise KeyboardInterrupt

    cut = tmp_path / "cut.h5"
    with pytest.raises(KeyboardInterrupt):
        train(cut, cfg, progress=stop)
    with h5py.File(cut) as f:
        assert int(f[f"state/seed_{stop_seed}"].attrs["done"]) == stop_update
        assert f.attrs["status"] == "stopped"
    train(cut, resume=True)
    with h5py.File(cut) as f:
        assert f.attrs["status"] == "complete"
    with h5py.File(full) as a, h5py.File(cut) as b:
        for name in a["metrics"]:
            if name != "wall_time":
                np.testing.assert_array_equal(a[f"metrics/{name}"][()], b[f"metrics/{name}"][()], err_msg=name)
    for k in range(len(cfg.seeds)):
        pa, pb = load_checkpoint(full, cfg.updates, k)[2], load_checkpoint(cut, cfg.updates, k)[2]
        np.testing.assert_array_equal(tree.flat(pa), tree.flat(pb))
    return full, cut
