"""The whole GRU recurrence as one autograd primitive, with hand-written first and second derivatives.

``gru_scan(ai, wh, bn) -> hs`` runs the cell of spec 2.3 over all ``T`` steps from a zero carry:

    gh_t = h_{t-1} @ wh                      wh = [W_hr | W_hz | W_hn]  (H, 3H)
    h_t  = gates(ai_t, gh_t, h_{t-1}, bn)    ai (T, B, 3H): input side incl. biases; bn = b_hn (H,)

Under the second-order updates the graph then has one node per net evaluation instead of a few per
time step, and the per-step weight gradients become one large matrix product each. The three
levels are:

- :func:`gru_scan` (forward, plain numpy);
- :func:`gru_scan_vjp` = its VJP: a reverse-time sweep with the carry cotangent
  ``c_t = d_h(direct)_t + d_gh_t @ wh.T`` entering step ``t - 1``; it is itself a primitive because
  the second-order updates differentiate it again;
- its VJP (``_scan_second_order``): the adjoint of that reverse sweep is a forward-time sweep over
  the per-step adjoint of the cell's VJP (:func:`pola_nb.sampled.fused._cell_adjoint`). The recurrence
  only carries ``B x H`` numbers; every weight cotangent and every cotangent that does not feed the
  recurrence is one matrix product over all steps after the loop.

The second level is plain numpy, so derivatives exist up to second order (all that LOLA and POLA
need: the outer gradient through differentiated inner gradient steps). Both sweeps read the cell
activations the forward kept (``_ACT``) rather than recomputing the gates. The per-operation GRU
(``GRUNet.reference_hidden_states``) is the slow twin the tests compare with.
"""

from __future__ import annotations

import weakref

import numpy as np
from autograd.extend import Box, defvjp_argnums, primitive

from pola_nb.sampled.fused import _cell_adjoint, _cell_vjp, _unbroadcast_np, mm_nn, mm_nt, mm_tn


def _previous(hs: np.ndarray) -> np.ndarray:
    """Carries entering each step: ``(0, h_0, ..., h_{T-2})``, shape ``(T, B, H)``."""
    hp = np.empty_like(hs)
    hp[0] = 0.0
    hp[1:] = hs[:-1]
    return hp


def _sigmoid_inplace(x: np.ndarray) -> None:
    x *= 0.5
    np.tanh(x, out=x)
    x += 1.0
    x *= 0.5


def _activations(ai, gh, bn, act):
    """The cell's activations ``r, z, m, n`` (``m = gh_n + b_hn``) for the pre-activations ``ai``,
    ``gh`` ``(..., 3H)``, written into ``act`` ``(4, ..., H)`` (each one contiguous) and returned."""
    H = bn.shape[-1]
    r, z, m, n = act
    np.add(ai[..., :H], gh[..., :H], out=r)
    _sigmoid_inplace(r)
    np.add(ai[..., H:2 * H], gh[..., H:2 * H], out=z)
    _sigmoid_inplace(z)
    np.add(gh[..., 2 * H:], bn, out=m)
    np.multiply(r, m, out=n)
    n += ai[..., 2 * H:]
    np.tanh(n, out=n)
    return act


#: Each forward's activations ``(4, T, B, H)`` by ``id`` of the carries ``hs`` it returned, kept while
#: ``hs`` lives: both derivative sweeps read them instead of recomputing the gates. For a recurrence
#: the sampler played (``known``), its pre-activations ``gh`` ``(T, B, 3H)`` instead (``_GH``): the
#: activations are computed, in one pass over all steps, only if a derivative is asked for.
_ACT: dict[int, np.ndarray] = {}
_GH: dict[int, np.ndarray] = {}


def _remember(memo: dict, key_array: np.ndarray, value) -> None:
    memo[id(key_array)] = value
    weakref.finalize(key_array, memo.pop, id(key_array), None)


@primitive
def gru_scan(ai, wh, bn, known=None):
    """Carries ``(T, B, H)`` after each step, from a zero carry (see the module docstring).

    ``known = (hs, gh)``: the carries and recurrent pre-activations of this very recurrence, computed
    elsewhere (by the sampler that played these steps); they are returned instead of recomputed.
    """
    if known is not None:
        hs, gh = known
        _remember(_GH, hs, gh)
        return hs
    T, B, H = ai.shape[0], ai.shape[1], wh.shape[0]
    dtype = np.result_type(ai, wh)
    act, hs = np.empty((4, T, B, H), dtype), np.empty((T, B, H), dtype)
    h = np.zeros((B, H), dtype)
    for t in range(T):
        gh = mm_nn(h, wh) if t else np.zeros((B, 3 * H), dtype)
        r, z, _, n = _activations(ai[t], gh, bn, act[:, t])
        h = hs[t] = n + z * (h - n)
    _remember(_ACT, hs, act)
    return hs


def _reverse_sweep(G, act, wh, hp):
    """The first-order sweep: ``(d_ai, d_gh, g)``, where ``g_t = G_t + c_{t+1}`` is the total cotangent
    of ``h_t`` (kept for the second order). All ``(T, B, .)``."""
    T, B, H = G.shape
    d_ai, d_gh, gs = np.empty((T, B, 3 * H), act.dtype), np.empty((T, B, 3 * H), act.dtype), np.empty_like(G)
    c = np.zeros_like(G[0])
    for t in range(T - 1, -1, -1):
        g = gs[t] = G[t] + c
        dur, duz, dun, dm, dh = _cell_vjp(g, hp[t], *act[:, t])
        d_ai[t, :, :H], d_ai[t, :, H:2 * H], d_ai[t, :, 2 * H:] = dur, duz, dun
        d_gh[t, :, :H], d_gh[t, :, H:2 * H], d_gh[t, :, 2 * H:] = dur, duz, dm
        if t:  # the cotangent of the zero start carry is not needed
            c = dh + mm_nt(d_gh[t], wh)
    return d_ai, d_gh, gs


def _sweep_inputs(ai, wh, bn, hs):
    """Carries entering each step ``hp`` and the activations ``act`` of a forward pass."""
    hp = _previous(hs)
    act = _ACT.get(id(hs))
    if act is None:
        gh = _GH.get(id(hs))
        if gh is None:
            gh = mm_nn(hp, wh)
        act = _activations(ai, gh, bn, np.empty((4, *hs.shape), hs.dtype))
    return hp, act


#: The sweep's inputs and intermediates ``(hp, act, d_gh, g)`` by ``id`` of the ``d_ai`` they produced, kept while that
#: array lives (the graph holds it until the second-order pass has used them); saves replaying the
#: sweep in the second order.
_SWEEPS: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}


@primitive
def gru_scan_vjp(G, ai, wh, bn, hs):
    """Cotangents ``(d_ai, d_wh, d_bn)`` of :func:`gru_scan` for the output cotangent ``G`` ``(T, B, H)``."""
    hp, act = _sweep_inputs(ai, wh, bn, hs)
    d_ai, d_gh, gs = _reverse_sweep(G, act, wh, hp)
    _remember(_SWEEPS, d_ai, (hp, act, d_gh, gs))
    H = wh.shape[0]
    return d_ai, mm_tn(hp, d_gh), d_gh[..., 2 * H:].sum(axis=(0, 1))


def _scan_vjp_maker(argnums, ans, args, kwargs):
    def vjp(G):
        d = gru_scan_vjp(G, *args, ans)
        return tuple(d[i] for i in argnums)

    return vjp


defvjp_argnums(gru_scan, _scan_vjp_maker)


def _scan_second_order(argnums, ans, args, kwargs):
    """VJP of :func:`gru_scan_vjp`: cotangents of ``(d_ai, d_wh, d_bn)`` -> of ``(G, ai, wh, bn, hs)``.

    Takes every step's total carry cotangent ``g_t`` and ``d_gh_t`` from the first-order sweep (or
    replays it), then runs its adjoint forward in time. With ``bc_t`` the cotangent of the carry cotangent ``c_t``
    (``bc_0 = 0``): step ``t``'s cell adjoint gets ``(C_ai_t, hp_t C_wh + bc_t wh, bc_t, C_bn)`` for
    its outputs ``(d_ai, d_gh, d_h, d_bn)``, and its cotangent for ``g_t`` is ``bc_{t+1}``.
    """
    G, ai, wh, bn, hs = args
    if any(isinstance(a, Box) for a in args):
        raise NotImplementedError("gru_scan is differentiable up to second order only")

    def vjp(cots):
        C_ai, C_wh, C_bn = cots
        memo = _SWEEPS.get(id(ans[0]))
        if memo is not None:
            hp, act, d_gh, gs = memo
        else:
            hp, act = _sweep_inputs(ai, wh, bn, hs)
            _, d_gh, gs = _reverse_sweep(G, act, wh, hp)
        base = mm_nn(hp, C_wh)  # the d_wh output's share of each step's d_gh cotangent
        need_wh, need_hs = 2 in argnums, 4 in argnums
        H = wh.shape[0]
        b_G, b_ai, b_gh = np.empty_like(G), np.empty_like(ai), np.empty_like(d_gh)
        b_hp, b_c = np.empty_like(hs), np.empty_like(hs)
        b_bn = np.zeros_like(bn)
        bc = np.zeros_like(G[0])
        for t in range(G.shape[0]):
            b_c[t] = bc
            c_gh = base[t] + mm_nn(bc, wh) if t else base[t]
            c_g, c_ur, c_uz, c_un, c_m, b_hp[t] = _cell_adjoint(C_ai[t], c_gh, bc, C_bn, gs[t], hp[t],
                                                                 *act[:, t])
            b_G[t] = bc = c_g
            b_ai[t, :, :H], b_ai[t, :, H:2 * H], b_ai[t, :, 2 * H:] = c_ur, c_uz, c_un
            b_gh[t, :, :H], b_gh[t, :, H:2 * H], b_gh[t, :, 2 * H:] = c_ur, c_uz, c_m
            b_bn += _unbroadcast_np(c_m, bn.shape)
        out = {0: b_G, 1: b_ai, 3: b_bn}
        if need_wh:  # only the cotangents asked for: the matrix products below are a third of the work
            out[2] = mm_tn(hp, b_gh) + mm_tn(b_c, d_gh)
        if need_hs:
            b_hp += mm_nt(b_gh, wh) + mm_nt(d_gh, C_wh)
            b_hs = out[4] = np.zeros_like(hs)
            b_hs[:-1] = b_hp[1:]
        return tuple(out[i] for i in argnums)

    return vjp


defvjp_argnums(gru_scan_vjp, _scan_second_order)
