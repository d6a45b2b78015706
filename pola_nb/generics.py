"""The library's generic functions, declared once here (this module is the list of them).

Methods are added next to the types they serve with ``@dispatch`` from this module's dispatcher.
Dispatch is on plain classes only (parameterisations, games, algorithms), never on arrays: under
``autograd.grad`` arrays become ``ArrayBox`` objects. Dispatch happens once per evaluation of a whole
batch, never per element.
"""

from __future__ import annotations

from plum import Dispatcher

dispatch = Dispatcher()


@dispatch.abstract
def logits(family, theta):
    """Cooperation logits of an exact-IPD policy.

    ``family`` is a parameterisation (``Tabular``, ``Precond``, ``NeuralNet``); ``theta`` has shape
    ``(..., n_params(family))``. Returns shape ``(..., 5)`` in state order DD, DC, CD, CC, start.
    """


@dispatch.abstract
def n_params(family):
    """Length of one flat parameter vector of ``family``."""


@dispatch.abstract
def init_params(family, rng, n):
    """Draw ``n`` independent initial parameter vectors, shape ``(n, n_params(family))``, float64."""


@dispatch.abstract
def logits_vjp(family, theta, g):
    """Gradient with respect to ``theta`` (..., n) of ``sum(g * logits(family, theta))`` for g (..., 5).

    Plain numpy (no autograd): the fast path for first-order fits such as opponent modelling.
    """
