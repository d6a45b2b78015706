"""Fused autograd primitives for the GRU: the cell's elementwise work and closed matrix products.

- :func:`gru_gates`: all elementwise work of one GRU step as one primitive. Its VJP
  (:func:`gru_gates_vjp`, plain numpy, one pass) is a primitive too, whose own VJP is written out by
  hand with ``autograd.numpy`` operations (``_second_order``), so derivatives of every order exist.
  The sampler steps with it (forward: the fused kernel :func:`pola_kernels.gru.forward_step`). The
  cell's arithmetic is written once, as the scalar bodies of :mod:`pola_kernels.gru`, which run
  here on arrays and autograd boxes and, compiled, inside the kernels of the scorer's
  whole-sequence primitive (:mod:`pola_nb.sampled.scan`).
- ``mm_nn``/``mm_nt``/``mm_tn``: matrix products that are each other's VJPs (BLAS calls on views at
  every order, no ``tensordot`` copies). ``FLOPS`` counts them and ``SHAPES`` times them for the
  benchmarks. ``mm_known`` is ``mm_nn`` with the product supplied by the caller.

The tests compare values, first and second derivatives with the slow per-operation twin
(``GRUNet.reference_hidden_states``), and ``check_grads(order=2)``.

Gate layout: ``ai``, ``gh`` are ``(B, 3H)`` with blocks [r, z, n] (flax `GRUCell`):
``r = σ(ai_r + gh_r)``, ``z = σ(ai_z + gh_z)``, ``m = gh_n + b_hn``, ``n = tanh(ai_n + r m)``,
``h' = n + z (h - n)``.
"""

from __future__ import annotations

import time

import autograd.numpy as anp
import numpy as np
from autograd.extend import defvjp, defvjp_argnums, primitive
from pola_kernels import gru as kernels
from pola_kernels._compile import _rebind

#: The cell's activations on arrays and autograd boxes alike: the kernels' body with autograd's tanh.
_gates_body = _rebind(kernels.gates, {**vars(kernels), "tanh": anp.tanh}, "gates_autograd")


def _split(a, H):
    return a[..., :H], a[..., H:2 * H], a[..., 2 * H:]


def _forward(ai, gh, bn):
    """The cell's activations ``r, z, m = gh_n + b_hn, n`` from its pre-activations ``ai``, ``gh``
    ``(..., 3H)`` (differentiable: autograd boxes pass through)."""
    H = bn.shape[-1]
    return _gates_body(*_split(ai, H), *_split(gh, H), bn)


def _reduced_axes(shape, target):
    lead = len(shape) - len(target)
    return tuple(range(lead)) + tuple(lead + i for i, n in enumerate(target) if n == 1 and shape[lead + i] != 1)


def _unbroadcast_np(x, target):
    """Sum ``x`` down to the broadcast-compatible shape ``target`` (plain numpy)."""
    return x.sum(axis=_reduced_axes(x.shape, target)).reshape(target)


def _unbroadcast(x, target):
    """The same with ``autograd.numpy`` (differentiable)."""
    return anp.reshape(anp.sum(x, axis=_reduced_axes(x.shape, target)), target)


def _gates_np(ai, gh, h, bn):
    """One fused pass (:func:`pola_kernels.gru.forward_step`) over ``B`` cells; plain arrays."""
    dtype = np.result_type(ai, gh, h, bn)
    ai, gh, h, bn = (np.ascontiguousarray(x, dtype) for x in (ai, gh, h, bn))
    act, h_new = np.empty((4, *h.shape), dtype), np.empty(h.shape, dtype)
    kernels.forward_step(ai, np.zeros(ai.shape[-1], dtype), gh, h, bn, *act, h_new)
    return h_new


@primitive
def gru_gates(ai, gh, h, bn):
    """New carry ``(B, H)`` from gate pre-activations ``ai``, ``gh`` ``(B, 3H)``, carry ``h``, ``b_hn``."""
    return _gates_np(ai, gh, h, bn)


@primitive
def gru_gates_vjp(g, ai, gh, h, bn):
    """Cotangents ``(d_ai, d_gh, d_h, d_bn)`` of :func:`gru_gates` for the output cotangent ``g``."""
    return _gates_vjp_np(g, ai, gh, h, bn)


_cell_vjp = kernels.cell_vjp


def _gates_vjp_parts(g, ai, gh, h, bn):
    """:func:`_cell_vjp` from the pre-activations ``ai``, ``gh`` ``(B, 3H)``."""
    r, z, m, n = _forward(ai, gh, bn)
    return _cell_vjp(g, h, r, z, m, n)


def _gates_vjp_np(g, ai, gh, h, bn):
    dur, duz, dun, dm, dh = _gates_vjp_parts(g, ai, gh, h, bn)
    d_ai = np.concatenate([dur, duz, dun], axis=-1)
    d_gh = np.concatenate([dur, duz, dm], axis=-1)
    return d_ai, d_gh, dh, _unbroadcast_np(dm, bn.shape)


def _gates_vjp_maker(argnums, ans, args, kwargs):
    def vjp(g):
        grads = gru_gates_vjp(g, *args)
        return tuple(grads[i] for i in argnums)

    return vjp


defvjp_argnums(gru_gates, _gates_vjp_maker)


def _cell_adjoint(c_ai, c_gh, c_h, c_bn, g, h, r, z, m, n):
    """:func:`pola_kernels.gru.cell_adjoint` for the cotangents of the VJP's outputs ``d_ai = [dur, duz,
    dun]``, ``d_gh = [dur, duz, dm]`` (``c_ai``, ``c_gh`` ``(B, 3H)``), ``d_h = g z`` (``c_h`` ``(B, H)``) and
    ``d_bn = sum_b dm`` (``c_bn`` ``(H,)``). Arithmetic only (plain arrays and autograd boxes)."""
    H = r.shape[-1]
    a_r, a_z, a_n = _split(c_ai, H)
    g_r, g_z, g_n = _split(c_gh, H)
    return kernels.cell_adjoint(a_r + g_r, a_z + g_z, a_n, g_n + c_bn, c_h, g, h, r, z, m, n)


def _second_order(argnums, ans, args, kwargs):
    """VJP of :func:`gru_gates_vjp`: cotangents of its outputs -> cotangents of (g, ai, gh, h, bn)."""
    g, ai, gh, h, bn = args

    def vjp(cots):
        r, z, m, n = _forward(ai, gh, bn)
        c_g, c_ur, c_uz, c_un, c_m, c_hh = _cell_adjoint(*cots, g, h, r, z, m, n)
        out = (c_g, anp.concatenate([c_ur, c_uz, c_un], axis=-1), anp.concatenate([c_ur, c_uz, c_m], axis=-1),
               c_hh, _unbroadcast(c_m, bn.shape))
        return tuple(out[i] for i in argnums)

    return vjp


defvjp_argnums(gru_gates_vjp, _second_order)


# ------------------------------------------------------------------------------------------------
# matrix products with closed-under-differentiation VJPs (no tensordot, no transposed copies)


#: Set to ``[0]`` to count the floating-point operations of all matrix products (benchmarks).
FLOPS: list[int] | None = None


def _flat(x):
    return x.reshape(-1, x.shape[-1])


#: Set to ``{}`` to time the products by kind and operand shapes (``bench/profile_step.py --by-shape``):
#: ``{(kind, shape_a, shape_b): [calls, flops, seconds]}``, kind ``nn``/``nt``/``tn``/``into``.
SHAPES: dict | None = None


def _clock() -> float:
    return time.perf_counter() if SHAPES is not None else 0.0


def _count(n: int, kind: str, a: np.ndarray, b: np.ndarray, start: float) -> None:
    """Count a product of ``n`` FLOPs (``FLOPS``) and, when ``SHAPES`` is set, its time since ``start``."""
    if FLOPS is not None:
        FLOPS[0] += n
    if SHAPES is not None:
        entry = SHAPES.setdefault((kind, a.shape, b.shape), [0, 0, 0.0])
        entry[0] += 1
        entry[1] += n
        entry[2] += time.perf_counter() - start


@primitive
def mm_nn(x, w):
    """``x @ w`` for ``x`` ``(..., n)`` and a matrix ``w`` ``(n, m)``: shape ``(..., m)``."""
    start = _clock()
    out = (_flat(x) @ w).reshape(*x.shape[:-1], w.shape[1])
    _count(2 * x.size * w.shape[1], "nn", x, w, start)
    return out


@primitive
def mm_nt(g, w):
    """``g @ w.T`` for ``g`` ``(..., m)``, ``w`` ``(n, m)``: shape ``(..., n)``."""
    start = _clock()
    out = (_flat(g) @ w.T).reshape(*g.shape[:-1], w.shape[0])
    _count(2 * g.size * w.shape[0], "nt", g, w, start)
    return out


@primitive
def mm_tn(x, g):
    """``x.T @ g`` with all leading axes contracted: ``(..., n), (..., m) -> (n, m)``."""
    start = _clock()
    out = _flat(x).T @ _flat(g)
    _count(2 * x.size * g.shape[-1], "tn", x, g, start)
    return out


defvjp(mm_nn, lambda ans, x, w: lambda G: mm_nt(G, w), lambda ans, x, w: lambda G: mm_tn(x, G))
defvjp(mm_nt, lambda ans, g, w: lambda G: mm_nn(G, w), lambda ans, g, w: lambda G: mm_tn(G, g))
defvjp(mm_tn, lambda ans, x, g: lambda G: mm_nt(g, G), lambda ans, x, g: lambda G: mm_nn(x, G))


def mm_into(x: np.ndarray, w: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``x @ w`` written into ``out`` ``(..., m)`` (plain arrays, no derivative; counted in ``FLOPS``)."""
    start = _clock()
    np.matmul(x, w, out=out)
    _count(2 * x.size * w.shape[1], "into", x, w, start)
    return out


@primitive
def mm_known(x, w, value):
    """``x @ w`` whose value the caller already has (``value``, e.g. from the sampler's pass): nothing
    is computed; the derivatives are those of :func:`mm_nn`."""
    return value


defvjp(mm_known, lambda ans, x, w, value: lambda G: mm_nt(G, w), lambda ans, x, w, value: lambda G: mm_tn(x, G))
