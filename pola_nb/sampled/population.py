"""A population of frozen snapshots of one net, played as one rollout agent (LOQA's opponent buffer).

LOQA (Aghajohari et al., ICLR 2024; JAX code `coin_train.py`) trains one parameter set in self-play
against past copies of itself: a copy is pushed to a buffer every few iterations, and each of the
``B`` episodes of an iteration draws one copy uniformly, with replacement, to play the other seat.
This module holds such a buffer as *stacked* parameters (every array with a leading snapshot axis
``K``) and plays it in the rollout driver (:mod:`pola_nb.sampled.rollout`):

- :func:`stack_params` / :func:`unstack` / :func:`snapshot`: ``K`` parameter dicts <-> one dict of
  ``(K, ...)`` float32 arrays;
- :func:`draw_population_index`: the snapshot of each episode, ``(B,)`` int64, uniform over ``0..K-1``;
- :class:`PopulationSampler`: ``reset(batch)`` / ``act(obs, last_reward, u)``; episode ``b`` is played
  by snapshot ``index[b]`` and sampled exactly as :class:`~pola_nb.sampled.policies.PolicySampler` of
  that snapshot would sample it (same logits, same inverse CDF at ``u``);
- :func:`population_sequence`: each episode's own snapshot's outputs along recorded observations
  (plain numpy, e.g. the opponent's values).

How a step is computed. Rows are sorted by snapshot; each layer of a GRU net is one grouped
product (:func:`pola_kernels.grouped.grouped_matmul`: each snapshot's weights on its own rows) and
one elementwise pass over all rows (biases gathered per row); the cell is the same fused kernel
(:func:`pola_kernels.gru.forward_step`) as the sampler's. The grouped product sums in another order
than BLAS, so every row's logits equal those of ``PolicySampler`` to float32 rounding (checked in
``tests/test_population.py``); a population whose rows all play one snapshot steps as that
sampler does, bit for bit. Other nets (memory-one table, feed-forward) step once per snapshot with
their own ``step``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from autograd.tracer import getval
from pola_kernels import grouped
from pola_kernels import gru as gru_kernels

from pola_nb.errors import require
from pola_nb.generics import net_sequence, net_step
from pola_nb.sampled.policies import F32, GRUNet, Net, Params, log_softmax

# ----------------------------------------------------------------------------------------------
# stacked parameters


def stack_params(params_list: Sequence[Params]) -> Params:
    """``K`` parameter dicts of one net -> one dict of float32 arrays ``(K, *shape)`` (copies)."""
    require(len(params_list) > 0, "no snapshots to stack")
    keys = list(params_list[0])
    for p in params_list:
        require(list(p) == keys, f"snapshots must have the same parameter names, got {list(p)} and {keys}")
    out = {}
    for k in keys:
        arrays = [np.asarray(getval(p[k]), F32) for p in params_list]
        require(all(a.shape == arrays[0].shape for a in arrays), f"parameter {k!r} changes shape across snapshots")
        out[k] = np.stack(arrays)
    return out


def population_size(stacked: Params) -> int:
    """Number of snapshots ``K`` of stacked parameters."""
    sizes = {int(np.shape(v)[0]) for v in stacked.values()}
    require(len(sizes) == 1, f"stacked parameters disagree on the number of snapshots: {sorted(sizes)}")
    return sizes.pop()


def snapshot(stacked: Params, k: int) -> Params:
    """Parameters of snapshot ``k`` (views into ``stacked``)."""
    return {name: v[k] for name, v in stacked.items()}


def unstack(stacked: Params) -> list[Params]:
    """The ``K`` parameter dicts (copies) of stacked parameters."""
    return [{name: np.array(v[k]) for name, v in stacked.items()} for k in range(population_size(stacked))]


def draw_population_index(n_snapshots: int, batch: int, rng: np.random.Generator) -> np.ndarray:
    """Snapshot of each of ``batch`` episodes: int64 ``(batch,)``, uniform over ``0..n_snapshots-1``
    with replacement (LOQA `coin_train.py`; the live parameters are not in the draw)."""
    require(isinstance(n_snapshots, int | np.integer) and n_snapshots > 0,
            f"n_snapshots must be a positive integer, got {n_snapshots!r}")
    require(isinstance(batch, int | np.integer) and batch > 0, f"batch must be a positive integer, got {batch!r}")
    return rng.integers(0, int(n_snapshots), size=int(batch), dtype=np.int64)


def _check_index(stacked: Params, index: Any) -> np.ndarray:
    index = np.asarray(index)
    require(index.ndim == 1 and index.size > 0 and np.issubdtype(index.dtype, np.integer),
            f"index must be a non-empty 1-D integer array, got shape {index.shape} dtype {index.dtype}")
    K = population_size(stacked)
    require(index.min() >= 0 and index.max() < K, f"index must lie in 0..{K - 1}")
    return index.astype(np.int64)


class _Groups:
    """Rows grouped by snapshot: ``snaps`` (G,) the snapshots in use (sorted), ``sizes`` (G,),
    ``order`` (B,) the rows sorted by snapshot (stable), ``rows[g]`` the rows of group ``g``
    (increasing) and ``of_sorted`` (B,) the group of each sorted row."""

    def __init__(self, index: np.ndarray):
        self.snaps, inverse, self.sizes = np.unique(index, return_inverse=True, return_counts=True)
        self.order = np.argsort(inverse, kind="stable")
        self.of_sorted = inverse[self.order]
        self.bounds = np.concatenate([[0], np.cumsum(self.sizes)])
        self.rows = np.split(self.order, self.bounds[1:-1])

    @property
    def n(self) -> int:
        return self.snaps.size


# ----------------------------------------------------------------------------------------------
# stepping


class _GRUPopulation:
    """The GRU step (:func:`~pola_nb.generics.net_step` of a ``GRUNet``) of all groups, on the rows sorted by snapshot.

    Group ``g`` holds the sorted rows ``bounds[g]:bounds[g + 1]``. Each layer is one
    :func:`pola_kernels.grouped.grouped_matmul` over all groups (the weights of the snapshots in use
    gathered once, ``(G, n_in, n_out)`` per layer) and one elementwise pass over all rows with the
    biases gathered per row. The arithmetic is that of the GRU's ``net_step``: ``x @ W`` then ``+ b``,
    ``relu`` as ``maximum(., 0)``, and the fused cell kernel with the input bias already added (as
    ``fused.gru_gates`` does) and ``b_hn`` added to the recurrent n-block first (the kernel's
    ``m = gh_n + b_hn`` with a zero ``b_hn``: the same float sum). The products' sums run in another
    order than BLAS's, so the outputs equal each snapshot's ``net_step`` to float32 rounding.

    Measured on one core (B = 512, H = 128, two dense layers, ~350 groups): the step is bound by
    reading each group's weights (~0.46 MB) once, from memory when the snapshots in use do not fit
    in the cache.
    """

    def __init__(self, net: GRUNet, stacked: Params, groups: _Groups):
        snaps = groups.snaps
        H = self.H = net.hidden
        self.two = net.layers_before_gru == 2
        self.bounds = groups.bounds.astype(np.int64)
        gather = lambda *names: np.concatenate(  # noqa: E731  (a new C-contiguous array)
            [np.asarray(stacked[n], F32)[snaps] for n in names], axis=-1)

        def per_row(*names):
            """Biases of each sorted row (B, n)."""
            return gather(*names)[groups.of_sorted]

        self.w0, self.b0 = gather("dense0_w"), per_row("dense0_b")
        if self.two:
            self.w1, self.b1 = gather("dense1_w"), per_row("dense1_b")
        self.wi, self.bi = gather("ir_w", "iz_w", "in_w"), per_row("ir_b", "iz_b", "in_b")
        self.wh, self.bn = gather("hr_w", "hz_w", "hn_w"), per_row("hn_b")
        self.wo, self.bo = gather("head_w"), per_row("head_b")
        self.n_out = net.n_out
        self._zero_bi = np.zeros(3 * H, F32)
        self._zero_bn = np.zeros(H, F32)

    def start(self) -> np.ndarray:
        return np.zeros((len(self.b0), self.H), F32)

    def _dense(self, x: np.ndarray, w: np.ndarray, b: np.ndarray, bounds: np.ndarray, reps: int) -> np.ndarray:
        """``x @ W_g + b`` of rows ``x`` ``(R, n_in)`` grouped by ``bounds``; ``b`` holds each sorted
        row's bias ``(B, n_out)``, repeated ``reps`` times when each row stands for ``reps`` rows."""
        out = np.empty((x.shape[0], w.shape[2]), F32)
        grouped.grouped_matmul(x, w, bounds, out)
        out += b if reps == 1 else np.repeat(b, reps, axis=0)
        return out

    def _inputs(self, x: np.ndarray, bounds: np.ndarray, reps: int) -> np.ndarray:
        """The input side ``ai = embed(x) @ W_i + b_i`` ``(R, 3H)`` of rows ``x`` ``(R, n_in)``."""
        e = self._dense(x, self.w0, self.b0, bounds, reps)
        np.maximum(e, 0.0, out=e)
        if self.two:
            e = self._dense(e, self.w1, self.b1, bounds, reps)
        return self._dense(e, self.wi, self.bi, bounds, reps)

    def _cell(self, ai: np.ndarray, h: np.ndarray) -> np.ndarray:
        """The new carry ``(B, H)`` from the input side ``ai`` ``(B, 3H)`` and the carry ``h`` ``(B, H)``."""
        H = self.H
        gh = np.empty((h.shape[0], 3 * H), F32)
        grouped.grouped_matmul(h, self.wh, self.bounds, gh)
        gh[:, 2 * H:] += self.bn
        act = np.empty((4, *h.shape), F32)
        h_new = np.empty(h.shape, F32)
        gru_kernels.forward_step(ai, self._zero_bi, gh, h, self._zero_bn, *act, h_new)
        return h_new

    def step(self, h: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sorted ``x`` ``(B, n_in)`` and carry ``h`` ``(B, H)`` -> outputs ``(B, n_out)``, new carry."""
        h_new = self._cell(self._inputs(x, self.bounds, 1), h)
        return self._dense(h_new, self.wo, self.bo, self.bounds, 1), h_new

    def sequence(self, x: np.ndarray) -> np.ndarray:
        """Outputs ``(B, T', n_out)`` along sorted rows of observations ``x`` ``(B, T', n_in)`` from a
        zero carry. The input side and the head run on all steps at once (each group's weights read
        once); only the recurrent product runs step by step."""
        B, T, _ = x.shape
        bounds = self.bounds * T  # rows are episode-major: group g holds T rows per episode
        ai = self._inputs(x.reshape(B * T, -1), bounds, T).reshape(B, T, -1)
        h, hs = self.start(), np.empty((B, T, self.H), F32)
        for t in range(T):
            h = hs[:, t] = self._cell(np.ascontiguousarray(ai[:, t]), h)
        return self._dense(hs.reshape(B * T, -1), self.wo, self.bo, bounds, T).reshape(B, T, -1)


class _LoopPopulation:
    """Any net: one ``net_step`` per group on its rows (carry per group)."""

    def __init__(self, net: Net, stacked: Params, snaps: np.ndarray):
        self.net = net
        self.params = [net.prepare(snapshot(stacked, int(s))) for s in snaps]

    def start(self, groups: Any) -> list[Any]:
        return [self.net.start(int(n)) for n in groups.sizes]

    def step(self, carries: list[Any], x: np.ndarray, groups: _Groups) -> np.ndarray:
        out = None
        for g, rows in enumerate(groups.rows):
            y, carries[g] = net_step(self.net, self.params[g], carries[g], x[rows])
            y = np.asarray(y)
            if out is None:
                out = np.empty((x.shape[0], y.shape[-1]), y.dtype)
            out[rows] = y
        return out


class PopulationSampler:
    """Plays a population of snapshots of ``net`` in the rollout driver: episode ``b`` is played by
    snapshot ``index[b]``.

    ``stacked_params``: dict of float32 arrays ``(K, ...)`` (:func:`stack_params`); ``index``: int array
    ``(B,)`` with entries in ``0..K-1`` (:func:`draw_population_index`); ``reset(batch)`` needs
    ``batch == B``. ``act(obs (B, n_in) float32, last_reward (B,), u (B,) float32) -> actions (B,) int32``
    inverts each row's categorical CDF at ``u`` exactly as ``PolicySampler.act`` does, on logits equal
    to those of ``PolicySampler(net, snapshot(stacked_params, index[b]))`` on row ``b`` (to float32
    rounding for a GRU net: the grouped products sum in another order than BLAS). A population
    whose rows all use one snapshot runs ``net_step`` on the whole batch, as that sampler does.
    ``record=True`` keeps the outputs of every :meth:`logits` call since ``reset`` for
    :meth:`recorded_logits` (what :func:`population_sequence` would compute along the same
    observations, to float32 rounding, without a second pass over the snapshots' weights).
    """

    def __init__(self, net: Net, stacked_params: Params, index: Any, record: bool = False):
        self.net = net
        self.record = bool(record)
        self._outputs: list[np.ndarray] = []
        self.index = _check_index(stacked_params, index)
        self.groups = _Groups(self.index)
        if self.groups.n == 1:
            self._single = net.prepare(snapshot(stacked_params, int(self.groups.snaps[0])))
            self._impl = None
        elif isinstance(net, GRUNet):
            self._impl = _GRUPopulation(net, stacked_params, self.groups)
        else:
            self._impl = _LoopPopulation(net, stacked_params, self.groups.snaps)
        self.carry: Any = None

    @property
    def batch(self) -> int:
        return self.index.size

    def reset(self, batch: int) -> None:
        require(batch == self.batch, f"this population was drawn for {self.batch} episodes, not {batch}")
        self._outputs = []
        gr = self.groups
        if self._impl is None:
            self.carry = self.net.start(batch)
        elif isinstance(self._impl, _GRUPopulation):
            self.carry = self._impl.start()
        else:
            self.carry = self._impl.start(gr)

    def logits(self, obs: np.ndarray) -> np.ndarray:
        """Outputs ``(B, n_out)`` of each row's snapshot for this step's ``obs`` ``(B, n_in)``; keeps the carry."""
        obs = np.asarray(obs, F32)
        require(obs.shape[0] == self.batch, f"obs has {obs.shape[0]} rows, expected {self.batch}")
        if self._impl is None:
            out, self.carry = net_step(self.net, self._single, self.carry, obs)
            out = np.asarray(out)
        elif isinstance(self._impl, _LoopPopulation):
            out = self._impl.step(self.carry, obs, self.groups)
        else:
            order = self.groups.order
            out_sorted, self.carry = self._impl.step(self.carry, obs[order])
            out = np.empty((self.batch, out_sorted.shape[1]), F32)
            out[order] = out_sorted
        if self.record:
            self._outputs.append(out)
        return out

    def recorded_logits(self) -> np.ndarray:
        """The outputs of the :meth:`logits` calls since ``reset`` (one per step of a rollout),
        stacked: ``(T', B, n_out)`` float32. Needs ``record=True``."""
        require(self.record, "this population sampler was made without record=True")
        require(len(self._outputs) > 0, "nothing recorded yet: the sampler has not stepped since reset")
        return np.stack(self._outputs).astype(F32, copy=False)

    def act(self, obs: np.ndarray, last_reward: np.ndarray | None = None,
            u: np.ndarray | None = None) -> np.ndarray:
        logits = self.logits(obs)
        probs = np.exp(log_softmax(logits))
        cdf = np.cumsum(probs, axis=-1)
        a = (cdf < u[:, None]).sum(axis=-1)
        return np.minimum(a, probs.shape[-1] - 1).astype(np.int32)


def population_sequence(net: Net, stacked_params: Params, index: Any, obs: np.ndarray) -> np.ndarray:
    """Outputs ``(T', B, n_out)`` of each episode's own snapshot ``index[b]`` along recorded
    observations ``obs`` ``(T', B, n_in)`` float32 (plain numpy, no gradient): column ``b`` equals
    ``net_sequence(net, snapshot(stacked_params, index[b]), obs)[:, b]`` (to float32 rounding for a GRU
    net, whose groups run as in :class:`PopulationSampler` with the input side and head of all steps
    at once; other nets: one ``net_sequence`` per snapshot in use, on that snapshot's columns)."""
    index = _check_index(stacked_params, index)
    obs = np.asarray(obs, F32)
    require(obs.ndim == 3 and obs.shape[1] == index.size,
            f"obs must be (T', {index.size}, n_in), got shape {obs.shape}")
    groups = _Groups(index)
    if groups.n == 1:
        return np.asarray(net_sequence(net, snapshot(stacked_params, int(groups.snaps[0])), obs), F32)
    out = np.empty((obs.shape[0], index.size, net.n_out), F32)
    if isinstance(net, GRUNet):
        x = np.ascontiguousarray(obs[:, groups.order].transpose(1, 0, 2))
        out[:, groups.order] = _GRUPopulation(net, stacked_params, groups).sequence(x).transpose(1, 0, 2)
        return out
    for s, rows in zip(groups.snaps, groups.rows, strict=True):
        out[:, rows] = np.asarray(net_sequence(net, snapshot(stacked_params, int(s)), obs[:, rows]))
    return out
