"""Fixed reference strategies (the reference opponents of the paper's Figures 4 and 5) as agents for the rollout driver.

A :class:`FixedStrategy` is not stepped from Python: the driver passes its id to the kernels,
where it is a scalar function of the game state (no observation decoding, no Python per step).

=========  ============================  ==================================================
name       IPD                           Coin Game
=========  ============================  ==================================================
alld       always defect (action 0)      greedy: shortest torus path to any coin
allc       always cooperate (action 1)   own-colour coin: shortest path; else the opposite move
tft        opponent's previous action,   mode flag from its own last reward: < 0 -> greedy,
           C at the first step           > 0 -> cooperative, 0 -> unchanged (starts cooperative)
random     uniform over {D, C}           uniform over the 4 moves
=========  ============================  ==================================================
"""

from __future__ import annotations

from dataclasses import dataclass

from pola_kernels.config import ALLC, ALLD, RANDOM, TFT

from pola_nb.errors import require

STRATEGY_IDS = {"alld": ALLD, "allc": ALLC, "tft": TFT, "random": RANDOM}


@dataclass(frozen=True)
class FixedStrategy:
    """A reference strategy by name: ``alld``, ``allc``, ``tft`` or ``random``."""

    name: str

    def __post_init__(self) -> None:
        require(self.name in STRATEGY_IDS,
                f"unknown strategy {self.name!r}; choose one of {', '.join(STRATEGY_IDS)}")

    @property
    def sid(self) -> int:
        """The kernels' strategy id (``pola_kernels.config``)."""
        return STRATEGY_IDS[self.name]


ALWAYS_DEFECT = FixedStrategy("alld")
ALWAYS_COOPERATE = FixedStrategy("allc")
TIT_FOR_TAT = FixedStrategy("tft")
UNIFORM_RANDOM = FixedStrategy("random")


def strategy(name: str) -> FixedStrategy:
    """The fixed strategy called ``name`` (case-insensitive); PolaUsageError if unknown."""
    return FixedStrategy(str(name).strip().lower())
