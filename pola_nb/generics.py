"""The library's generic functions, declared once here (this module is the list of them).

Methods are added next to the types they serve with ``@dispatch`` from this module's dispatcher: a
function of the same name decorated with ``@dispatch`` in any module becomes a method of the generic
declared here (``from pola_nb.generics import dispatch``). Dispatch is on plain classes only
(parameterisations, games, results-file kinds), never on arrays: under ``autograd.grad`` arrays
become ``ArrayBox`` objects. Dispatch happens once per evaluation of a whole batch, per rollout or
per results file, never per element or per step. A call with no matching method raises
``plum.NotFoundLookupError`` naming the generic and the argument types.

==================  ============================================  ==========================================
generic             dispatches on                                 methods in
==================  ============================================  ==========================================
``logits``          parameterisation (``Tabular``, ``Precond``,   :mod:`pola_nb.exact.params`
``n_params``        ``NeuralNet``)
``init_params``
``logits_vjp``
``init_net``        sampled-game net (``GRUNet``,                 :mod:`pola_nb.sampled.policies`
``net_step``        ``MemoryOneTable``, ``FeedForwardNet``)
``net_sequence``
``obs_dim``         sampled game (``IPDHistory``, ``CoinGame``)   :mod:`pola_nb.sampled.games`
``swap_seats``
``metric_names``
``reference_strategies``
``reference_lines``
``game_stats``
``game_metrics``
``league_entries``
``match_settings``
``check_trained_on``
``run_summary``
``stats_lines``
``make_learner``    hyperparameters (``Hyper``, ``LoqaHyper``)    :mod:`pola_nb.sampled.pola_learner`,
``steps_per_update``                                              :mod:`pola_nb.sampled.loqa`
``init_state``      learner (``PolaLearner``, ``Loqa``) and       the learner's module
``step_tasks``      sampled game
``finish_step``
``train_step``
``players``
``summary``         results-file kind (subclasses of              the module that writes the kind
``table``           :class:`pola_nb.results.ResultsKind`)         (:mod:`pola_nb.exact.report`,
``plot``                                                          :mod:`pola_nb.sampled.report`,
``require_complete``                                              :mod:`pola_nb.league`, :mod:`pola_nb.sweep`)
==================  ============================================  ==========================================
"""

from __future__ import annotations

from plum import Dispatcher

dispatch = Dispatcher()

# ------------------------------------------------------------------------ exact-IPD parameterisations


@dispatch.abstract
def logits(family, theta):
    """Cooperation logits of an exact-IPD policy.

    ``family`` is a parameterisation (``Tabular``, ``Precond``, ``NeuralNet``); ``theta`` has shape
    ``(..., n_params(family))``. Returns shape ``(..., 5)`` in state order DD, DC, CD, CC, start.
    """


@dispatch.abstract
def n_params(family):
    """Length of one flat parameter vector of ``family`` (an int)."""


@dispatch.abstract
def init_params(family, rng, n):
    """Draw ``n`` independent initial parameter vectors, shape ``(n, n_params(family))``, float64.

    ``rng`` is a ``numpy.random.Generator``; ``n`` an int >= 1.
    """


@dispatch.abstract
def logits_vjp(family, theta, g):
    """Gradient with respect to ``theta`` (..., n) of ``sum(g * logits(family, theta))`` for g (..., 5).

    Plain numpy (no autograd): the fast path for first-order fits such as opponent modelling.
    Returns shape ``(..., n_params(family))``.
    """


# ------------------------------------------------------------------------------ sampled-game networks


@dispatch.abstract
def init_net(net, rng):
    """Initial parameters of the net ``net`` (``GRUNet``, ``MemoryOneTable``, ``FeedForwardNet`` of
    :mod:`pola_nb.sampled.policies`): a flat ``dict[str, float32 array]`` drawn from ``rng``, a
    ``numpy.random.Generator``.
    """


@dispatch.abstract
def net_step(net, params, carry, x):
    """One step of ``net`` on a whole batch (the sampler's path, plain numpy): observations ``x``
    ``(B, n_in)`` float32 and the carry (``net.start(B)`` before the first step) -> ``(out (B, n_out),
    new carry)``. ``params`` are ``net.prepare(params)``; the arithmetic is that of :func:`net_sequence`.
    """


@dispatch.abstract
def net_sequence(net, params, obs, known=None):
    """Outputs of ``net`` for every step of ``obs`` ``(T', B, n_in)`` from the initial carry: shape
    ``(T', B, n_out)``, differentiable (``autograd``; ``params`` may hold boxes). ``known``: a
    sampler's :class:`~pola_nb.sampled.policies.Recording` of this forward pass, used where the net
    can (the GRU), else ignored.
    """


# ------------------------------------------------------------------------------------- sampled games


@dispatch.abstract
def obs_dim(game):
    """Length of one observation vector of a sampled game (``IPDHistory``, ``CoinGame``), an int.

    Observations are float32 arrays ``(..., obs_dim(game))`` in agent-1-first order.
    """


@dispatch.abstract
def swap_seats(game, obs):
    """An observation of one seat as the other seat would see it: ``obs`` ``(..., obs_dim(game))``
    float32 -> the same shape (own and other channels or actions exchanged; its own inverse).

    In an agent-centric game seat 2 observes ``swap_seats(game, o)`` where seat 1 observes ``o``.
    """


@dispatch.abstract
def metric_names(game):
    """Names of the metrics a training run on ``game`` records after every update, in file order.

    Each is a ``metrics/<name>`` dataset of the run file, float64 ``(rows, seeds)``: per-step mean
    rewards (``score1``, ``score2``, ``vs_<strategy><agent>`` for every
    :func:`reference_strategies` opponent), seconds (``wall_time``) and the game's own counts.
    Returns a tuple of str.
    """


@dispatch.abstract
def reference_strategies(game):
    """Names of the fixed strategies each trained agent plays after every update (``vs_<name>`` metrics).

    Returns a tuple of strategy names of :mod:`pola_nb.sampled.strategies` (``alld``, ``allc``, ...).
    """


@dispatch.abstract
def reference_lines(game):
    """Horizontal reference lines of the official plots of ``game``, and the panels that have them.

    Returns ``{panel: [(value, label), ...]}`` in panel order; a panel is a plotted quantity
    (``score_each_other``, ``score_vs_alld``: per-step mean reward; ``own_coin``: a proportion in
    [0, 1]) and a value is what the labelled strategy pair achieves, in the panel's unit.
    """


@dispatch.abstract
def game_stats(game, traj):
    """A game's own statistics of the rollout ``traj`` (a :class:`~pola_nb.sampled.rollout.Trajectory`
    of ``game``) as ``pola eval`` reports them: a dict of floats in report order, empty for the IPD;
    for the Coin Game the pick-ups per episode ``rr``, ``rb``, ``br``, ``bb`` (agent colour, coin
    colour) and the own-coin proportions ``own_coin1``, ``own_coin2`` and ``same`` in [0, 1].
    """


@dispatch.abstract
def game_metrics(game, traj):
    """The game's own training metrics of one evaluation rollout ``traj`` of the trained pair: a dict
    of floats, the :func:`metric_names` of ``game`` after ``wall_time`` (empty for the IPD; for the
    Coin Game ``rr``, ``rb``, ``br``, ``bb`` and ``own_coin``, the same-colour proportion).
    """


@dispatch.abstract
def league_entries(game, traj):
    """The game's own entries of one league pair from its rollout ``traj``: a dict name -> float or
    list of floats, each one cell of an N x N (x length) matrix of the league file. Empty for the
    IPD; for the Coin Game ``pickups`` ``[RR, RB, BR, BB]`` per episode, ``own_coin_row``,
    ``own_coin_col`` and ``same`` (proportions in [0, 1]).
    """


@dispatch.abstract
def match_settings(game):
    """The settings of ``game`` that a match reports beside its length, as a dict: ``{"cf": cf}``
    for the IPD, ``{"grid": N}`` for the Coin Game (``pola eval``'s output keys).
    """


@dispatch.abstract
def check_trained_on(game, trained, who):
    """Refuse (:class:`~pola_nb.errors.PolaUsageError`) to let the agent ``who`` (its name, for the
    message), trained on ``trained`` (a game of the same type), play ``game`` when its networks
    cannot: a Coin Game agent plays only on the grid it was trained on, an IPD agent any IPD.
    Returns None.
    """


@dispatch.abstract
def run_summary(game, f):
    """The game's own entries of the summary of a training run file ``f`` (an open ``h5py.File``
    of a run on ``game``): a JSON-ready dict, empty for the IPD; for the Coin Game
    ``strong_cooperation`` (when each seed first passed LOQA's strong-cooperation test).
    """


@dispatch.abstract
def stats_lines(game, r):
    """The lines of ``pola eval``'s table that show the game's own statistics of the match result
    ``r`` (the dict of :func:`~pola_nb.sampled.matches.play_match`, holding :func:`game_stats`):
    a list of str, empty for the IPD.
    """


# ---------------------------------------------------------------------------------------- learners


@dispatch.abstract
def make_learner(hp, cfg):
    """The learner of a run: ``hp`` (the run's hyperparameters, e.g. ``Hyper`` for the POLA family,
    ``LoqaHyper`` for LOQA) selects the learner type; ``cfg`` is the whole ``RunConfig`` (game,
    networks, backend). Returns a learner object, the first argument of the generics below.
    """


@dispatch.abstract
def init_state(learner, game, rng):
    """A seed's initial learner state: a dict of parameter pytrees (float32 arrays), optimiser
    states and counters, everything a resumed run needs (stored in the run file's ``state`` group).
    ``rng`` is the seed's ``numpy.random.Generator``.
    """


@dispatch.abstract
def step_tasks(learner, game, state, rng):
    """The independent tasks of one update from ``state``: a list of ``(function, args)`` whose
    results :func:`finish_step` combines. Each task is a pure function of its picklable arguments, so
    the training loop may run it in this process or on a Dask worker. Random numbers are drawn from
    ``rng`` here, in an order that does not depend on where the tasks run.
    """


@dispatch.abstract
def finish_step(learner, game, state, results):
    """The state after one update: ``state`` combined with the results of its :func:`step_tasks`
    (in the same order). Returns the new state dict."""


@dispatch
def train_step(learner: object, game: object, state: dict, rng: object) -> tuple[dict, dict]:
    """One update run in this process: ``(new state, diagnostics)``; the diagnostics are a dict of
    floats (possibly empty). This method serves every learner: its :func:`step_tasks` run here, one
    after the other, then :func:`finish_step`."""
    results = [fn(*args) for fn, args in step_tasks(learner, game, state, rng)]
    return finish_step(learner, game, state, results), {}


@dispatch.abstract
def players(learner, state):
    """The two agents a state plays for evaluation and checkpoints: ``(agent1, agent2)``, each a dict
    with at least ``"pol"`` (the policy parameters of the run's policy network, played in seat 1 and
    seat 2 respectively)."""


@dispatch.abstract
def steps_per_update(hp):
    """Optimiser steps per update of the learner with hyperparameters ``hp`` (the x axis of the
    official plots: ``outer_steps`` for the POLA family, 1 for LOQA); an int."""


# ---------------------------------------------------------------------------------- results files


@dispatch.abstract
def summary(kind, f):
    """The key results of a results file as a JSON-ready dict.

    ``kind`` is the file's kind (an instance of a :class:`pola_nb.results.ResultsKind` subclass,
    see :func:`pola_nb.report.kind_of`); ``f`` the open ``h5py.File``. Scores are per-step mean
    rewards, fractions in [0, 1], times in seconds.
    """


@dispatch.abstract
def table(kind, s):
    """The summary ``s`` (a dict returned by ``summary(kind, f)``) as text for a terminal (a str).

    This is what ``pola summary FILE`` prints.
    """


@dispatch.abstract
def plot(kind, f, png):
    """Draw the paper-style figure of the results file ``f`` (an open ``h5py.File``) into ``png``.

    ``png`` (str or ``pathlib.Path``) is an image path whose suffix matplotlib knows; returns None.
    Raises :class:`~pola_nb.errors.PolaUsageError` for a kind that has no figure of its own.
    """


@dispatch.abstract
def require_complete(kind, f):
    """Raise :class:`~pola_nb.errors.PolaUsageError` unless the data of ``f`` (an open ``h5py.File``)
    are there to summarise and plot: e.g. a training run file with no evaluated row yet. Returns None.
    """
