"""Scalar helpers shared by the game bodies (compiled into each game module per target)."""

from __future__ import annotations


def uniform_int(u, n):
    """Map a float32 uniform ``u`` in [0, 1) to an integer in ``0 .. n-1`` exactly.

    numpy's float32 uniforms are ``k * 2**-24`` with integer ``k`` < 2**24, so
    ``(k * n) >> 24`` is exact integer arithmetic: identical on CPU, CUDA and in numpy, and
    never equal to ``n`` (which ``int(u * n)`` in float32 could round up to).
    """
    k = int(u * 16777216.0)
    return (k * n) >> 24
