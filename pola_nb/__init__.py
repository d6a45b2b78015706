"""pola_nb: opponent shaping (naive, LOLA, POLA, LOLA-DiCE, POLA-DiCE, POLA-OM) in numpy, numba and autograd.

Public API of the exact (one-step-memory) IPD::

    from pola_nb import IPDExact, exact_values
    game = IPDExact(cf=1.33, gamma=0.96)
    v1, v2 = exact_values(game, q1, q2)   # q1, q2: cooperation probabilities, shape (..., 5)
"""

from pola_nb._version import __version__
from pola_nb.exact.game import STATES, IPDExact, exact_values

__all__ = ["__version__", "IPDExact", "exact_values", "STATES"]
