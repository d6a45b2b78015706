"""Parameter containers and the two optimisers, as small pure functions.

Parameters are nested ``dict``s (string keys) of float32 arrays, e.g. an agent is
``{"pol": {...}, "val": {...}}``. autograd differentiates through dicts natively, so a gradient has
the same structure as the parameters. Optimiser states are plain containers too and are created
fresh wherever the official code resets them (at the start of every update).

Learning rates may be a scalar or a dict keyed like the top level of the parameters
(``{"pol": lr_out, "val": lr_v}``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from autograd.tracer import getval

Tree = Any


def tree_map(fn: Callable[..., Any], tree: Tree, *rest: Tree) -> Tree:
    """Apply ``fn`` leaf-wise to one or more trees of identical structure (dicts/tuples/lists)."""
    if isinstance(tree, dict):
        return {k: tree_map(fn, tree[k], *(r[k] for r in rest)) for k in tree}
    if isinstance(tree, (tuple, list)):
        return type(tree)(tree_map(fn, *xs) for xs in zip(tree, *rest, strict=True))
    return fn(tree, *rest)


def tree_leaves(tree: Tree) -> list[Any]:
    """Leaves in a deterministic order (dict keys sorted)."""
    if isinstance(tree, dict):
        return [leaf for k in sorted(tree) for leaf in tree_leaves(tree[k])]
    if isinstance(tree, (tuple, list)):
        return [leaf for x in tree for leaf in tree_leaves(x)]
    return [tree]


def stop(tree: Tree) -> Tree:
    """Stop-gradient for every leaf (all orders): the plain float32 numpy values."""
    return tree_map(getval, tree)


def copy(tree: Tree) -> Tree:
    return tree_map(lambda x: np.array(getval(x), copy=True), tree)


def flat(tree: Tree) -> np.ndarray:
    """All leaves concatenated into one float64 vector (for tests and diagnostics)."""
    return np.concatenate([np.ravel(getval(x)).astype(np.float64) for x in tree_leaves(tree)])


def _per_key(lr: float | dict[str, float], tree: Tree) -> Tree:
    if isinstance(lr, dict):
        return {k: tree_map(lambda _x, v=lr[k]: v, tree[k]) for k in tree}
    return tree_map(lambda _x: lr, tree)


def sgd_step(params: Tree, grads: Tree, lr: float | dict[str, float]) -> Tree:
    """``params - lr * grads``; differentiable (used inside the inner lookahead)."""
    return tree_map(lambda p, g, a: p - np.float32(a) * g, params, grads, _per_key(lr, params))


def adam_init(params: Tree) -> dict[str, Any]:
    """Fresh optax-style Adam state (zero moments, step count 0)."""
    zeros = tree_map(lambda p: np.zeros_like(getval(p)), params)
    return {"m": zeros, "v": tree_map(np.copy, zeros), "t": 0}


def adam_step(
    params: Tree,
    grads: Tree,
    state: dict[str, Any],
    lr: float | dict[str, float],
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
) -> tuple[Tree, dict[str, Any]]:
    """One optax ``adam`` step (bias-corrected, eps outside the square root). Not differentiable."""
    t = int(state["t"]) + 1  # an int also when the state was read back from a file (np.int64)
    m = tree_map(lambda m_, g: (b1 * m_ + (1 - b1) * g).astype(np.float32), state["m"], grads)
    v = tree_map(lambda v_, g: (b2 * v_ + (1 - b2) * g * g).astype(np.float32), state["v"], grads)
    c1, c2 = 1 - b1**t, 1 - b2**t

    def upd(p, m_, v_, a):
        return (p - a * (m_ / c1) / (np.sqrt(v_ / c2) + eps)).astype(np.float32)

    new = tree_map(upd, params, m, v, _per_key(lr, params))
    return new, {"m": m, "v": v, "t": t}


def clip_by_global_norm(tree: Tree, max_norm: float) -> tuple[Tree, float]:
    """Scale ``tree`` by ``max_norm / ||tree||_2`` when its global L2 norm (over all leaves) exceeds ``max_norm``.

    optax's ``clip_by_global_norm``. Returns the (possibly scaled) tree, float32 leaves, and the norm
    before clipping. Not differentiable.
    """
    norm = float(np.sqrt(sum(np.sum(np.square(np.asarray(getval(x), np.float64))) for x in tree_leaves(tree))))
    scale = 1.0 if norm <= max_norm else max_norm / norm
    return tree_map(lambda x: (np.asarray(getval(x)) * scale).astype(np.float32), tree), norm


def ema(target: Tree, online: Tree, keep: float) -> Tree:
    """Exponential moving average ``keep * target + (1 - keep) * online`` leaf-wise, float32.

    ``keep`` is the fraction of the old target kept (LOQA's ``target_ema_gamma`` = 0.99).
    """
    return tree_map(lambda t, o: (keep * np.asarray(getval(t), np.float64)
                                  + (1.0 - keep) * np.asarray(getval(o), np.float64)).astype(np.float32),
                    target, online)
