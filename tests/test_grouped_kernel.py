"""The grouped product of :mod:`pola_kernels.grouped` against a float64 numpy loop over the groups."""

import numpy as np
import pytest
from pola_kernels.grouped import grouped_matmul


@pytest.mark.parametrize("sizes", [[1], [3], [1, 2, 1, 4], [2, 1, 1, 1, 5, 1]])
def test_grouped_matmul_is_each_groups_product(sizes):
    rng = np.random.default_rng(len(sizes))
    K, N = 37, 19
    bounds = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    x = rng.standard_normal((bounds[-1], K)).astype(np.float32)
    w = rng.standard_normal((len(sizes), K, N)).astype(np.float32)
    out = np.full((bounds[-1], N), np.nan, np.float32)
    grouped_matmul(x, w, bounds, out)
    for g in range(len(sizes)):
        rows = slice(bounds[g], bounds[g + 1])
        ref = x[rows].astype(np.float64) @ w[g].astype(np.float64)
        np.testing.assert_allclose(out[rows], ref, rtol=1e-5, atol=1e-5)


def test_grouped_matmul_uses_each_groups_own_weights():
    """Swapping two groups' weights changes exactly their rows (a kernel reading the wrong group fails)."""
    rng = np.random.default_rng(0)
    bounds = np.array([0, 2, 3, 5], np.int64)
    x = rng.standard_normal((5, 8)).astype(np.float32)
    w = rng.standard_normal((3, 8, 4)).astype(np.float32)
    a, b = np.empty((5, 4), np.float32), np.empty((5, 4), np.float32)
    grouped_matmul(x, w, bounds, a)
    grouped_matmul(x, w[[1, 0, 2]].copy(), bounds, b)
    assert not np.allclose(a[:3], b[:3])
    np.testing.assert_array_equal(a[3:], b[3:])
