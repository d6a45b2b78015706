"""GRU cell kernels for the scorer's whole-sequence primitive: one pass over ``(B, H)`` rows per step.

The cell (gate layout ``[r, z, n]`` in blocks of ``H``; ``h`` = the carry entering the step)::

    r = σ(ai_r + gh_r)    z = σ(ai_z + gh_z)    m = gh_n + b_hn    n = tanh(ai_n + r m)
    h' = n + z (h - n)

Three scalar bodies hold all of its arithmetic, written once:

- :func:`gates` -- the activations ``r, z, m, n`` from the pre-activations;
- :func:`cell_vjp` -- the cell's VJP from those activations;
- :func:`cell_adjoint` -- the adjoint of that VJP (the second order).

They use only arithmetic and the global ``tanh``, so they run elementwise on numpy arrays and on
autograd boxes (:mod:`pola_nb.sampled.fused` binds ``tanh`` to ``autograd.numpy.tanh``) and, compiled by
numba, per element inside the kernels below (``tanh`` bound to :func:`tanh_fast`). The kernels
read and write whole ``(B, .)`` blocks in one pass where numpy needs one pass per operation, and
accumulate the ``b_hn`` cotangents in float64 in a fixed order (deterministic).

Transcendentals: numba has no vectorised ``exp``/``tanh`` here (the PyPI llvmlite has no SVML, so a
``tanh`` in a loop is a scalar libm call, ~8x slower than numpy's SIMD ``tanh``). :func:`exp32` is
plain arithmetic that LLVM vectorises: ``2^k`` by an exponent bit pattern, ``e^f`` on
``|f| <= ln 2 / 2`` by its degree-7 Taylor polynomial (truncation below 6e-9 relative); measured
error at most 2 ulp over the float32 range. ``tanh32(x) = 2 / (1 + e^(-2x)) - 1`` then has an
absolute error below 2.4e-7 (tested against numpy in ``tests/test_gru_kernels.py``); the sigmoid is
``(tanh(x / 2) + 1) / 2`` on every path, as in numpy's twin. float64 arrays use libm's ``tanh``.

Loops are written so that LLVM vectorises them: ``error_model="numpy"`` (no division checks), and
no loop stores into one array at two offsets (the ``[r, z, n]`` blocks of an output are written by
separate loops, since an unknown block distance ``H`` defeats the dependence analysis).
Arrays must be C-contiguous; ``B`` rows of any length work (steps or whole sequences).
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload
from pola_kernels import config
from pola_kernels._compile import _rebind

#: No reassociation (sums keep their order; results do not depend on vector width), but FMA
#: contraction, reciprocal division and signed zeros are allowed.
FASTMATH = frozenset({"contract", "arcp", "nsz"})
_SCALAR = dict(inline="always", fastmath=set(FASTMATH), error_model="numpy")
_KERNEL = dict(cache=config.CACHE, fastmath=set(FASTMATH), error_model="numpy")

def describe() -> str:
    """One line for ``pola info``: how the cell kernels compute."""
    return (f"numba {numba.__version__}, float32 exp/tanh as plain arithmetic, fastmath "
            f"{'/'.join(sorted(FASTMATH))}, float64 libm tanh")


# ------------------------------------------------------------------ float32 transcendentals

_LOG2E = np.float32(1.4426950408889634)
_LN2_HI = np.float32(0.693359375)  # ln 2 split in two so that k * _LN2_HI is exact (Cody-Waite)
_LN2_LO = np.float32(-2.12194440e-4)
_TAYLOR = tuple(np.float32(1.0 / c) for c in (5040.0, 720.0, 120.0, 24.0, 6.0, 2.0, 1.0, 1.0))


@intrinsic
def _float32_from_bits(typingctx, bits):
    """Reinterpret an int32 bit pattern as a float32 (LLVM ``bitcast``)."""
    sig = types.float32(types.int32)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return sig, codegen


@njit(**_SCALAR)
def exp32(x):
    """``e^x`` for a float32 ``x``, clamped to ``[-87, 88]`` (no infinities, no subnormals)."""
    x = min(max(x, np.float32(-87.0)), np.float32(88.0))
    k = np.floor(x * _LOG2E + np.float32(0.5))
    f = (x - k * _LN2_HI) - k * _LN2_LO
    c = _TAYLOR
    p = ((((((c[0] * f + c[1]) * f + c[2]) * f + c[3]) * f + c[4]) * f + c[5]) * f + c[6]) * f + c[7]
    return p * _float32_from_bits((np.int32(k) + np.int32(127)) << np.int32(23))


@njit(**_SCALAR)
def tanh32(x):
    """``tanh`` of a float32 through :func:`exp32`; absolute error below 2.4e-7."""
    return np.float32(2.0) / (np.float32(1.0) + exp32(np.float32(-2.0) * x)) - np.float32(1.0)


def tanh_fast(x):
    """``tanh`` for the kernels: :func:`tanh32` on float32, libm's ``tanh`` on float64."""
    return np.tanh(x)


@overload(tanh_fast, inline="always", fastmath=set(FASTMATH))
def _tanh_fast(x):
    if x == types.float32:
        return lambda x: tanh32(x)
    return lambda x: np.tanh(x)


# ------------------------------------------------------------------ scalar bodies (written once)

# float32 constants: they keep float32 arithmetic float32 under numba (a Python float is a float64
# there) and do not promote float32 arrays or float64 anything under numpy.
HALF, ONE, TWO = np.float32(0.5), np.float32(1.0), np.float32(2.0)
#: The ``tanh`` the bodies call: numpy's here; rebound to autograd's and to :func:`tanh_fast` per target.
tanh = np.tanh


def gates(ar, az, an, gr, gz, gn, bn):
    """Activations ``(r, z, m, n)`` from the input-side ``a*`` and recurrent ``g*`` pre-activations."""
    r = HALF * (tanh(HALF * (ar + gr)) + ONE)
    z = HALF * (tanh(HALF * (az + gz)) + ONE)
    m = gn + bn
    n = tanh(an + r * m)
    return r, z, m, n


def cell_vjp(g, h, r, z, m, n):
    """The cell's VJP for the cotangent ``g`` of ``h'``: cotangents ``(dur, duz, dun, dm, dh)`` of the
    r, z, n pre-activations, of ``m`` and of the carry ``h`` (direct path)."""
    dun = g * (ONE - z) * (ONE - n * n)
    dur = dun * m * r * (ONE - r)
    duz = g * (h - n) * z * (ONE - z)
    return dur, duz, dun, dun * r, g * z


def cell_adjoint(u_r, u_z, u_n, c_dm, c_h, g, h, r, z, m, n):
    """Adjoint of :func:`cell_vjp` (reverse mode through it).

    Cotangents in: ``u_r``, ``u_z`` of ``dur``, ``duz`` (summed over the VJP's two outputs that hold
    them, ``d_ai`` and ``d_gh``), ``u_n`` of ``dun``, ``c_dm`` of ``dm``, ``c_h`` of ``dh``. Returns the
    cotangents ``(c_g, c_ur, c_uz, c_un, c_m, c_h_in)`` of ``g``, of the r, z, n pre-activations, of
    ``m`` and of the carry ``h``.
    """
    sr, sz, sn = r * (ONE - r), z * (ONE - z), ONE - n * n
    dn = g * (ONE - z)
    dz = g * (h - n)
    dun = dn * sn
    # dur = dr sr, dr = dun m ; duz = dz sz ; dm = dun r
    c_dr = u_r * sr
    c_r = u_r * dun * m * (ONE - TWO * r) + c_dm * dun
    c_dz = u_z * sz
    c_z = u_z * dz * (ONE - TWO * z) + c_h * g
    c_dun = u_n + c_dm * r + c_dr * m
    c_m = c_dr * dun
    # dun = dn sn ; dz = g (h - n) ; dn = g (1 - z) ; dh = g z
    c_dn = c_dun * sn
    c_n = c_dun * dn * (-TWO * n) - c_dz * g
    c_g = c_h * z + c_dz * (h - n) + c_dn * (ONE - z)
    c_z = c_z - c_dn * g
    # n = tanh(un), un = an + r m ; r, z sigmoids
    c_un = c_n * sn
    return c_g, (c_r + c_un * m) * sr, c_z * sz, c_un, c_m + c_un * r, c_dz * g


_gates = njit(**_SCALAR)(_rebind(gates, {**globals(), "tanh": tanh_fast}, "gates_kernel"))
_cell_vjp = njit(**_SCALAR)(cell_vjp)
_cell_adjoint = njit(**_SCALAR)(cell_adjoint)


# ------------------------------------------------------------------ kernels over (B, .) blocks


@njit(**_KERNEL)
def activations(xw, bi, gh, bn, r, z, m, n):
    """Write the activations of ``B`` cells with input-side pre-activations ``ai = xw + bi``: ``xw``,
    ``gh`` ``(B, 3H)``, ``bi`` ``(3H,)``, ``bn`` ``(H,)``; out ``(B, H)`` each."""
    B, H = r.shape
    for b in range(B):
        for j in range(H):
            r[b, j], z[b, j], m[b, j], n[b, j] = _gates(xw[b, j] + bi[j], xw[b, H + j] + bi[H + j],
                                                        xw[b, 2 * H + j] + bi[2 * H + j], gh[b, j],
                                                        gh[b, H + j], gh[b, 2 * H + j], bn[j])


@njit(**_KERNEL)
def forward_step(xw, bi, gh, h, bn, r, z, m, n, h_out):
    """One step of ``B`` cells: :func:`activations` and the new carry ``h_out = n + z (h - n)`` ``(B, H)``."""
    activations(xw, bi, gh, bn, r, z, m, n)
    B, H = h.shape
    for b in range(B):
        for j in range(H):
            h_out[b, j] = n[b, j] + z[b, j] * (h[b, j] - n[b, j])


@njit(**_KERNEL)
def vjp_step(G, cm, dh_next, h, r, z, m, n, d_ai, d_gh, g, dh, d_bi, d_bn):
    """One step of the reverse sweep over ``B`` cells.

    The total cotangent of the step's output is ``g = G + cm + dh_next`` (its direct cotangent, and
    the next step's carry cotangent in two parts, ``d_gh_next @ W_h^T`` and the direct ``dh``). Writes
    ``g`` and ``dh`` ``(B, H)``, ``d_ai = [dur, duz, dun]`` and ``d_gh = [dur, duz, dm]`` ``(B, 3H)``, and
    adds the column sums of ``d_ai`` to the float64 ``d_bi`` ``(3H,)`` and those of ``dm`` to the
    float64 ``d_bn`` ``(H,)``. Each loop stores one block of each output (recomputing the cheap
    body; see the module docstring).
    """
    B, H = G.shape
    for b in range(B):
        for j in range(H):
            g[b, j] = G[b, j] + cm[b, j] + dh_next[b, j]
        for j in range(H):
            dur, duz, dun, dm, dh[b, j] = _cell_vjp(g[b, j], h[b, j], r[b, j], z[b, j], m[b, j], n[b, j])
            d_ai[b, j] = dur
            d_gh[b, 2 * H + j] = dm
            d_bi[j] += dur
            d_bn[j] += dm
        for j in range(H):
            dur, duz, dun, dm, _ = _cell_vjp(g[b, j], h[b, j], r[b, j], z[b, j], m[b, j], n[b, j])
            d_ai[b, H + j] = duz
            d_gh[b, j] = dur
            d_bi[H + j] += duz
        for j in range(H):
            dur, duz, dun, dm, _ = _cell_vjp(g[b, j], h[b, j], r[b, j], z[b, j], m[b, j], n[b, j])
            d_ai[b, 2 * H + j] = dun
            d_gh[b, H + j] = duz
            d_bi[2 * H + j] += dun


@njit(**_KERNEL)
def adjoint_step(C_ai, C_bi, base, cm, bc, C_bn, g, h, r, z, m, n, b_ai, b_gh, c_g, b_h, b_bi, b_bn):
    """One step of the second-order (forward-time) sweep over ``B`` cells: :func:`cell_adjoint` with
    the cotangents of the step's VJP outputs ``d_ai`` (``C_ai + C_bi``, ``(B, 3H)`` and ``(3H,)``: the
    latter is the cotangent of ``d_bi``, the sum of ``d_ai``), ``d_gh`` (``base + cm``, both ``(B, 3H)``),
    ``dh`` (``bc`` ``(B, H)``) and ``d_bn`` (``C_bn`` ``(H,)``).

    Writes ``b_ai = [c_ur, c_uz, c_un]`` and ``b_gh = [c_ur, c_uz, c_m]`` ``(B, 3H)``, ``c_g`` and
    ``b_h`` ``(B, H)``, and adds the column sums of ``b_ai`` to the float64 ``b_bi`` ``(3H,)`` and
    those of ``c_m`` to the float64 ``b_bn`` ``(H,)``.
    """
    B, H = bc.shape
    for b in range(B):
        for j in range(H):
            c_g[b, j], c_ur, c_uz, c_un, c_m, b_h[b, j] = _adjoint_at(C_ai, C_bi, base, cm, bc, C_bn, g, h, r, z,
                                                                      m, n, b, j, H)
            b_ai[b, j] = c_ur
            b_gh[b, 2 * H + j] = c_m
            b_bi[j] += c_ur
            b_bn[j] += c_m
        for j in range(H):
            _, c_ur, c_uz, c_un, c_m, _ = _adjoint_at(C_ai, C_bi, base, cm, bc, C_bn, g, h, r, z, m, n, b, j, H)
            b_ai[b, H + j] = c_uz
            b_gh[b, j] = c_ur
            b_bi[H + j] += c_uz
        for j in range(H):
            _, c_ur, c_uz, c_un, c_m, _ = _adjoint_at(C_ai, C_bi, base, cm, bc, C_bn, g, h, r, z, m, n, b, j, H)
            b_ai[b, 2 * H + j] = c_un
            b_gh[b, H + j] = c_uz
            b_bi[2 * H + j] += c_un


@njit(**_SCALAR)
def _adjoint_at(C_ai, C_bi, base, cm, bc, C_bn, g, h, r, z, m, n, b, j, H):
    u_r = C_ai[b, j] + C_bi[j] + base[b, j] + cm[b, j]
    u_z = C_ai[b, H + j] + C_bi[H + j] + base[b, H + j] + cm[b, H + j]
    c_dm = base[b, 2 * H + j] + cm[b, 2 * H + j] + C_bn[j]
    return _cell_adjoint(u_r, u_z, C_ai[b, 2 * H + j] + C_bi[2 * H + j], c_dm, bc[b, j], g[b, j], h[b, j], r[b, j],
                         z[b, j], m[b, j], n[b, j])
