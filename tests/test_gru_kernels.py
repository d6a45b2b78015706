"""The GRU cell kernels (pola_kernels.gru): float32 transcendentals against numpy in float64, and the
float32 fast path of the whole-sequence primitive against the literal float64 recurrence."""

from __future__ import annotations

import numpy as np
from numba import njit
from pola_kernels import gru
from test_scan import _inputs, _loop, nested

from pola_nb.sampled.scan import gru_scan


@njit
def _apply(fn, x, out):
    for i in range(x.size):
        out[i] = fn(x[i])


def _on(fn, x):
    out = np.empty_like(x)
    _apply(fn, x, out)
    return out


def _ulps(got, want):
    """Distance in float32 units in the last place of ``want`` (correctly rounded from float64)."""
    want32 = want.astype(np.float32)
    return np.abs(got.astype(np.float64) - want) / np.spacing(np.abs(want32)).astype(np.float64)


def test_exp32_is_within_2_ulp_over_the_float32_range():
    x = np.linspace(-87.0, 88.0, 2_000_003, dtype=np.float32)
    assert _ulps(_on(gru.exp32, x), np.exp(x.astype(np.float64))).max() <= 2.0


def test_tanh32_absolute_error_below_2_4e_7():
    x = np.concatenate([np.linspace(-20, 20, 2_000_001, dtype=np.float32),
                        np.float32([0.0, -0.0, 1e-30, -1e-6, 50.0, -100.0, 1e6, -1e6])])
    err = np.abs(_on(gru.tanh32, x).astype(np.float64) - np.tanh(x.astype(np.float64)))
    assert err.max() < 2.4e-7
    assert np.isfinite(_on(gru.tanh32, x)).all()


@njit
def _tanh_fast(x, out):
    for i in range(x.size):
        out[i] = gru.tanh_fast(x[i])


def test_tanh_fast_is_tanh32_on_float32_and_libm_on_float64():
    x = np.linspace(-5, 5, 1001)
    out = np.empty_like(x)
    _tanh_fast(x, out)
    np.testing.assert_allclose(out, np.tanh(x), rtol=1e-15, atol=0)
    x32, out32 = x.astype(np.float32), np.empty(x.shape, np.float32)
    _tanh_fast(x32, out32)
    assert np.abs(out32 - np.tanh(x)).max() < 2.4e-7  # tanh32 (libm would be within 1 ulp, ~6e-8)
    assert np.abs(out32 - np.tanh(x)).max() > 6.5e-8


def test_float32_scan_and_nested_derivative_match_the_float64_loop():
    """The float32 kernels (fast tanh, float32 arithmetic) through values, a gradient and a LOLA-like
    nested derivative, against the per-operation recurrence in float64: float32 rounding only."""
    args = _inputs(8, T=12, B=7, H=16)
    f32 = [a.astype(np.float32) for a in args]
    x0 = np.random.default_rng(9).standard_normal(args[0].shape[-1])

    np.testing.assert_allclose(gru_scan(*f32[:4]), _loop(*args[:4]), rtol=1e-5, atol=2e-6)
    (v32, g32), (v64, g64) = nested(gru_scan, *f32, x0.astype(np.float32), 0.05), nested(_loop, *args, x0, 0.05)
    assert g32.dtype == np.float32
    np.testing.assert_allclose(v32, v64, rtol=1e-5)
    assert np.linalg.norm(g32 - g64) / np.linalg.norm(g64) < 1e-5
