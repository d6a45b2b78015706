"""The whole GRU recurrence as one autograd primitive, with hand-written first and second derivatives.

``gru_scan(xw, bi, wh, bn) -> hs`` runs the GRU cell (flax ``GRUCell``, as in the official code) over
all ``T`` steps from a zero carry:

    ai_t = xw_t + bi                         xw (T, B, 3H): input side x_t @ W_i; bi (3H,): its bias
    gh_t = h_{t-1} @ wh                      wh = [W_hr | W_hz | W_hn]  (H, 3H)
    h_t  = cell(ai_t, gh_t, h_{t-1}, bn)     bn = b_hn (H,)

Under the second-order updates the graph then has one node per net evaluation instead of a few per
time step, and the per-step weight gradients become one large matrix product each. The three
levels are:

- :func:`gru_scan` (forward, plain numpy);
- :func:`gru_scan_vjp` = its VJP: a reverse-time sweep with the carry cotangent
  ``c_t = d_h(direct)_t + d_gh_t @ wh.T`` entering step ``t - 1``; it is itself a primitive because
  the second-order updates differentiate it again;
- its VJP (``_scan_second_order``): the adjoint of that reverse sweep is a forward-time sweep over
  the per-step adjoint of the cell's VJP (:func:`pola_kernels.gru.cell_adjoint`). The recurrence
  only carries ``B x H`` numbers; every weight cotangent and every cotangent that does not feed the
  recurrence is one matrix product over all steps after the loop.

Every step's elementwise work is one fused kernel of :mod:`pola_kernels.gru` (forward, sweep,
adjoint), which also adds the bias ``bi`` and sums the bias cotangents as it goes, so no
``(T, B, 3H)`` array is made, summed or broadcast for ``bi``. The second level is plain numpy, so
derivatives exist up to second order (all that LOLA and POLA need: the outer gradient through
differentiated inner gradient steps). Both sweeps read the cell activations the forward kept
(``_ACT``) rather than recomputing the gates. The per-operation GRU
(``GRUNet.reference_hidden_states``) is the slow twin the tests compare with.
"""

from __future__ import annotations

import weakref

import numpy as np
from autograd.extend import Box, defvjp_argnums, primitive
from pola_kernels import gru as kernels

from pola_nb.sampled.fused import mm_nn, mm_nt, mm_tn


def _previous(hs: np.ndarray) -> np.ndarray:
    """Carries entering each step: ``(0, h_0, ..., h_{T-2})``, shape ``(T, B, H)``."""
    hp = np.empty_like(hs)
    hp[0] = 0.0
    hp[1:] = hs[:-1]
    return hp


def _activations(xw, bi, gh, bn, act):
    """The cell's activations ``r, z, m, n`` (``m = gh_n + b_hn``) for the pre-activations ``xw + bi``
    and ``gh`` ``(..., 3H)``, written into ``act`` ``(4, ..., H)`` (each one contiguous) and returned."""
    H = bn.shape[-1]
    rows = [np.ascontiguousarray(x).reshape(-1, 3 * H) for x in (xw, gh)]
    kernels.activations(rows[0], bi, rows[1], bn, *(a.reshape(-1, H) for a in act))
    return act


#: Each forward's activations ``(4, T, B, H)`` by ``id`` of the carries ``hs`` it returned, kept while
#: ``hs`` lives: both derivative sweeps read them instead of recomputing the gates. A recurrence the
#: sampler played (``known``) comes with the activations the sampler kept.
_ACT: dict[int, np.ndarray] = {}


def _remember(memo: dict, key_array: np.ndarray, value) -> None:
    memo[id(key_array)] = value
    weakref.finalize(key_array, memo.pop, id(key_array), None)


@primitive
def gru_scan(xw, bi, wh, bn, known=None):
    """Carries ``(T, B, H)`` after each step, from a zero carry (see the module docstring).

    ``known = (hs, act)``: the carries ``(T, B, H)`` and activations ``(4, T, B, H)`` of this very
    recurrence, computed elsewhere (by the sampler that played these steps); they are returned
    instead of recomputed.
    """
    if known is not None:
        hs, act = known
        _remember(_ACT, hs, act)
        return hs
    T, B, H = xw.shape[0], xw.shape[1], wh.shape[0]
    dtype = np.result_type(xw, wh)
    xw, bi, bn = (np.ascontiguousarray(a, dtype) for a in (xw, bi, bn))
    act, hs = np.empty((4, T, B, H), dtype), np.empty((T, B, H), dtype)
    h, gh = np.zeros((B, H), dtype), np.zeros((B, 3 * H), dtype)
    for t in range(T):
        if t:
            gh = mm_nn(h, wh)
        kernels.forward_step(xw[t], bi, gh, h, bn, *act[:, t], hs[t])
        h = hs[t]
    _remember(_ACT, hs, act)
    return hs


def _reverse_sweep(G, act, wh, hp):
    """The first-order sweep: ``(d_ai, d_gh, g, d_bi, d_bn)``, where ``g_t = G_t + c_{t+1}`` is the
    total cotangent of ``h_t`` (kept for the second order); ``(T, B, .)``, and the bias cotangents
    ``d_bi`` ``(3H,)``, ``d_bn`` ``(H,)`` in float64."""
    T, B, H = G.shape
    G = np.ascontiguousarray(G)
    d_ai, d_gh, gs = np.empty((T, B, 3 * H), act.dtype), np.empty((T, B, 3 * H), act.dtype), np.empty_like(G)
    cm, dh, dh_next = np.zeros_like(G[0]), np.empty_like(G[0]), np.zeros_like(G[0])
    d_bi, d_bn = np.zeros(3 * H), np.zeros(H)
    for t in range(T - 1, -1, -1):
        kernels.vjp_step(G[t], cm, dh_next, hp[t], *act[:, t], d_ai[t], d_gh[t], gs[t], dh, d_bi, d_bn)
        if t:  # the cotangent of the zero start carry is not needed
            cm = mm_nt(d_gh[t], wh)
            dh, dh_next = dh_next, dh
    return d_ai, d_gh, gs, d_bi, d_bn


def _sweep_inputs(xw, bi, wh, bn, hs):
    """Carries entering each step ``hp`` and the activations ``act`` of a forward pass."""
    hp = _previous(hs)
    act = _ACT.get(id(hs))
    if act is None:
        act = _activations(xw, bi, mm_nn(hp, wh), bn, np.empty((4, *hs.shape), hs.dtype))
    return hp, act


#: The sweep's inputs and intermediates ``(hp, act, d_gh, g)`` by ``id`` of the ``d_ai`` they produced, kept while that
#: array lives (the graph holds it until the second-order pass has used them); saves replaying the
#: sweep in the second order.
_SWEEPS: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}


@primitive
def gru_scan_vjp(G, xw, bi, wh, bn, hs):
    """Cotangents ``(d_xw, d_bi, d_wh, d_bn)`` of :func:`gru_scan` for the output cotangent ``G``
    ``(T, B, H)``."""
    hp, act = _sweep_inputs(xw, bi, wh, bn, hs)
    d_ai, d_gh, gs, d_bi, d_bn = _reverse_sweep(G, act, wh, hp)
    _remember(_SWEEPS, d_ai, (hp, act, d_gh, gs))
    return d_ai, d_bi.astype(bi.dtype), mm_tn(hp, d_gh), d_bn.astype(bn.dtype)


def _scan_vjp_maker(argnums, ans, args, kwargs):
    def vjp(G):
        d = gru_scan_vjp(G, *args, ans)
        return tuple(d[i] for i in argnums)

    return vjp


defvjp_argnums(gru_scan, _scan_vjp_maker)


def _scan_second_order(argnums, ans, args, kwargs):
    """VJP of :func:`gru_scan_vjp`: cotangents of ``(d_xw, d_bi, d_wh, d_bn)`` -> of
    ``(G, xw, bi, wh, bn, hs)``.

    Takes every step's total carry cotangent ``g_t`` and ``d_gh_t`` from the first-order sweep (or
    replays it), then runs its adjoint forward in time. With ``bc_t`` the cotangent of the carry
    cotangent ``c_t`` (``bc_0 = 0``): step ``t``'s cell adjoint gets ``(C_xw_t + C_bi, hp_t C_wh + bc_t wh,
    bc_t, C_bn)`` for its outputs ``(d_ai, d_gh, d_h, d_bn)``, and its cotangent for ``g_t`` is ``bc_{t+1}``.
    """
    G, xw, bi, wh, bn, hs = args
    if any(isinstance(a, Box) for a in args):
        raise NotImplementedError("gru_scan is differentiable up to second order only")

    def vjp(cots):
        C_ai, C_bi, C_wh, C_bn = cots
        memo = _SWEEPS.get(id(ans[0]))
        if memo is not None:
            hp, act, d_gh, gs = memo
        else:
            hp, act = _sweep_inputs(xw, bi, wh, bn, hs)
            _, d_gh, gs, _, _ = _reverse_sweep(G, act, wh, hp)
        base = mm_nn(hp, C_wh)  # the d_wh output's share of each step's d_gh cotangent
        C_ai, C_bi, C_bn = (np.ascontiguousarray(c) for c in (C_ai, C_bi, C_bn))
        b_G, b_ai = np.empty(G.shape, G.dtype), np.empty(xw.shape, xw.dtype)
        b_gh, b_hp = np.empty(d_gh.shape, d_gh.dtype), np.empty(hs.shape, hs.dtype)
        b_bi, b_bn = np.zeros(bi.shape), np.zeros(bn.shape)
        bc, cm = np.zeros_like(G[0]), np.zeros_like(d_gh[0])
        for t in range(G.shape[0]):
            if t:
                cm = mm_nn(bc, wh)
            kernels.adjoint_step(C_ai[t], C_bi, base[t], cm, bc, C_bn, gs[t], hp[t], *act[:, t], b_ai[t], b_gh[t],
                                 b_G[t], b_hp[t], b_bi, b_bn)
            bc = b_G[t]
        out = {0: b_G, 1: b_ai, 2: b_bi.astype(bi.dtype), 4: b_bn.astype(bn.dtype)}
        if 3 in argnums:  # only the cotangents asked for: the matrix products below are a third of the work
            out[3] = mm_tn(hp, b_gh) + mm_tn(_previous(b_G), d_gh)  # b_G[t - 1] = cotangent of c_t
        if 5 in argnums:
            b_hp += mm_nt(b_gh, wh) + mm_nt(d_gh, C_wh)
            b_hs = out[5] = np.zeros_like(hs)
            b_hs[:-1] = b_hp[1:]
        return tuple(out[i] for i in argnums)

    return vjp


defvjp_argnums(gru_scan_vjp, _scan_second_order)
