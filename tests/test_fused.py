"""The matrix-product primitives of ``pola_nb.sampled.fused``: values against ``numpy.einsum``,
derivatives to second order in every input by finite differences, and the benchmark counters."""

from __future__ import annotations

import autograd.numpy as anp
import numpy as np
import pytest
from autograd.test_util import check_grads
from autograd.tracer import getval

from pola_nb.sampled import fused
from pola_nb.sampled.fused import mm_known, mm_nn, mm_nt, mm_tn

RNG = np.random.default_rng(5)
X = RNG.standard_normal((3, 4, 5))  # leading axes (3, 4), feature axis 5
W = RNG.standard_normal((5, 6))
G = RNG.standard_normal((3, 4, 6))

CASES = {
    "nn": (mm_nn, (X, W), lambda x, w: np.einsum("abi,ij->abj", x, w)),
    "nt": (mm_nt, (G, W), lambda g, w: np.einsum("abj,ij->abi", g, w)),
    "tn": (mm_tn, (X, G), lambda x, g: np.einsum("abi,abj->ij", x, g)),
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_product_values_and_second_derivatives(kind):
    f, args, ref = CASES[kind]
    np.testing.assert_allclose(f(*args), ref(*args), rtol=1e-12, atol=1e-12)
    out_w = RNG.standard_normal(ref(*args).shape)
    # tanh makes the second derivative depend on both inputs; one tuple argument: both are checked
    check_grads(lambda ab: anp.sum(anp.tanh(f(*ab)) * out_w), modes=["rev"], order=2)(args)


def test_known_product_takes_the_given_value_and_differentiates_as_the_product():
    value = np.einsum("abi,ij->abj", X, W)
    np.testing.assert_array_equal(mm_known(X, W, value), value)
    out_w = RNG.standard_normal(value.shape)

    def known(ab):  # the value handed in as the sampler hands it: computed outside the graph
        return anp.sum(anp.tanh(mm_known(ab[0], ab[1], np.einsum("abi,ij->abj", getval(ab[0]), getval(ab[1])))) * out_w)

    check_grads(known, modes=["rev"], order=2)((X, W))


def test_counters_record_flops_and_shapes():
    out = np.empty((3, 4, 6))
    fused.FLOPS, fused.SHAPES = [0], {}
    try:
        mm_nn(X, W)
        mm_nn(X, W)
        mm_tn(X, G)
        fused.mm_into(X, W, out)
        flops, shapes = fused.FLOPS[0], fused.SHAPES
    finally:
        fused.FLOPS, fused.SHAPES = None, None
    n = 2 * 3 * 4 * 5 * 6
    assert flops == 4 * n
    assert {k: v[:2] for k, v in shapes.items()} == {
        ("nn", (3, 4, 5), (5, 6)): [2, 2 * n], ("tn", (3, 4, 5), (3, 4, 6)): [1, n],
        ("into", (3, 4, 5), (5, 6)): [1, n]}
    assert all(v[2] > 0 for v in shapes.values())
    np.testing.assert_allclose(out, np.einsum("abi,ij->abj", X, W), rtol=1e-12)
