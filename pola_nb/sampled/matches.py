"""Two agents of a sampled game, each a fixed strategy or a training checkpoint, playing one batch.

An agent is named by a strategy (``alld``, ``allc``, ``tft``, ``random``) or a checkpoint
``RUN.h5[:update][@seed_index]`` (:func:`pola_nb.runfile.checkpoint_agent`). ``pola eval`` prints
:func:`play_match`; the league (:mod:`pola_nb.league`) plays every ordered pair.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pola_nb.errors import require

if TYPE_CHECKING:
    from pola_nb.sampled.policies import PolicySampler, SwappedView
    from pola_nb.sampled.strategies import FixedStrategy


def play_match(game_name: str, agent1: str, agent2: str, *, batch: int = 10000, steps: int = 50, seed: int = 0,
             grid: int = 3, cf: float = 1.33, backend: str = "cpu") -> dict:
    """Scores of ``agent1`` vs ``agent2`` over ``batch`` episodes, as a flat dict.

    Keys: the match's settings (``game``, ``agent1``, ``agent2``, ``batch``, ``steps``, ``seed``,
    ``backend``), ``score1``, ``score2`` (per-step mean rewards), the game's
    :func:`~pola_nb.generics.match_settings` (``cf`` or ``grid``) and :func:`~pola_nb.generics.game_stats`
    (for the Coin Game ``rr``, ``rb``, ``br``, ``bb``: pick-ups per episode, ``own_coin1`` =
    RR/(RR+RB), ``own_coin2`` = BB/(BR+BB), ``same`` = (RR+BB)/(all pick-ups)). Raises
    PolaUsageError on bad input.
    """
    from pola_nb.backends import check_backend
    from pola_nb.errors import require_int
    from pola_nb.sampled.config import check_game_settings
    from pola_nb.sampled.games import make_game

    require_int("batch", batch, 1)
    require_int("seed", seed, 0)
    check_game_settings(steps, cf, grid)
    # agent-centric: checkpoints of either view play seat 2 as trained (runfile.checkpoint_agent)
    game = make_game(game_name, steps=steps, grid=grid, cf=cf, agent_centric=True)
    agents = tuple(make_agent(spec, k, game) for k, spec in enumerate((agent1, agent2)))
    check_backend(backend)

    from pola_nb.generics import game_stats, match_settings
    from pola_nb.sampled.rollout import rollout, scores

    traj = rollout(game, agents[0], agents[1], batch, seed=seed, backend=backend, keep_obs=False)
    s1, s2 = scores(traj)
    out = {"game": game.name, "agent1": _name(agents[0], agent1), "agent2": _name(agents[1], agent2), "batch": batch,
           "steps": steps, "seed": seed, "backend": backend, "score1": s1, "score2": s2}
    return {**out, **match_settings(game), **game_stats(game, traj)}


def is_checkpoint(spec: str) -> bool:
    """Whether an agent name is a checkpoint ``RUN.h5[:update][@seed_index]`` rather than a strategy."""
    return ".h5" in spec or ".hdf5" in spec


def make_agent(spec: str, slot: int, game: Any) -> FixedStrategy | PolicySampler | SwappedView:
    """A fixed strategy, or the agent of a training checkpoint that played in slot ``slot`` (0 or 1)
    of ``game`` (a sampled game; the checkpoint must have been trained on one it can play).

    A learned agent keeps the role it was trained in: ``--agent1 RUN.h5`` plays the run's agent 1,
    ``--agent2 RUN.h5`` its agent 2, each seeing the observations it was trained on (the shared
    agent-1-first view, or its own view for agent-centric runs such as LOQA and Advantage Alignment,
    whose one policy plays both seats). Cross-play between seeds or algorithms is
    ``--agent1 A.h5@0 --agent2 B.h5@3``.
    """
    from pola_nb.sampled.strategies import strategy

    if not is_checkpoint(spec):
        return strategy(spec)
    from pola_nb.generics import check_trained_on
    from pola_nb.runfile import checkpoint_agent

    cfg, sampler = checkpoint_agent(spec, slot)
    require(cfg.game == game.name, f"{spec} was trained on {cfg.game!r}, not {game.name!r}")
    check_trained_on(game, cfg.make_game(), spec)
    return sampler


def _name(agent, spec: str) -> str:
    return spec if is_checkpoint(spec) else agent.name
