"""Networks for the sampled games: GRU over the history (official `POLA_dice_jax.py`), memory-one table, feed-forward.

A *net* maps an observation history to one output vector per step. The same class serves as a
policy (``n_out`` = number of actions, outputs are logits) and as a value network (``n_out = 1``).
What an architecture computes is a generic of :mod:`pola_nb.generics` with its methods here, each
called once on a whole batch:

- ``init_net(net, rng) -> params``: a flat ``dict[str, float32 array]`` (flax 0.6.3 initialisation
  for the GRU);
- ``net_sequence(net, params, obs) -> (T', B, n_out)``: the differentiable *scorer* path
  (``autograd.numpy``), re-running the net from the initial carry over ``obs`` of shape
  ``(T', B, n_in)`` float32 (a net with only ``net_step`` gets the step-by-step loop);
- ``net_step(net, params, carry, x) -> (out, carry)``: one step at a time, used by the *sampler*
  (plain numpy, no gradient) with exactly the same arithmetic as the scorer; the carry starts at
  ``net.start(B)`` and ``params`` are ``net.prepare(params)`` (plain helpers of :class:`Net`).

:func:`make_net` maps the CLI's ``--policy`` names to the net types.

:class:`PolicySampler` wraps a policy net and its parameters into the object the rollout driver
plays with (``reset(batch)``, ``act(obs, last_reward, u)``). The scorer re-evaluates log-probabilities
and values along the recorded histories, which gives the same gradients as differentiating the
rollout (sampled actions carry no gradient). A GRU sampler can also keep its forward pass
(:class:`Recording`); the scorer then builds its graph on those numbers instead of recomputing them,
when it scores the very parameter arrays that played (checked by identity).

Everything is float32: parameters are float32, observations must be float32, and autograd keeps the
dtype (numpy 2 treats Python scalars as weak, so constants do not promote).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import autograd.numpy as anp
import numpy as np
from autograd.extend import defvjp, primitive
from autograd.tracer import getval
from pola_kernels import gru as kernels

from pola_nb.errors import require, require_int
from pola_nb.generics import dispatch
from pola_nb.ipd_rules import OBS_DIM, observed_states
from pola_nb.numerics import Tensor, sigmoid
from pola_nb.sampled.fused import gru_gates, mm_into, mm_known, mm_nn
from pola_nb.sampled.scan import gru_scan

Params = dict[str, Any]
F32 = np.float32


# ----------------------------------------------------------------------------------------------
# flax 0.6.3 default initialisers


def lecun_normal(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    """flax ``lecun_normal``: truncated normal on [-2, 2], rescaled to variance ``1 / fan_in``."""
    out = rng.standard_normal((fan_in, fan_out))
    bad = np.abs(out) > 2.0
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2.0
    # 0.8796... is the std of a standard normal truncated to [-2, 2] (as in jax.nn.initializers).
    return (out * (np.sqrt(1.0 / fan_in) / 0.87962566103423978)).astype(F32)


def orthogonal(rng: np.random.Generator, n: int) -> np.ndarray:
    """jax ``orthogonal`` for a square matrix: Q of a QR decomposition with sign-corrected columns."""
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return (q * np.sign(np.diag(r))).astype(F32)


# ----------------------------------------------------------------------------------------------
# elementwise helpers usable on plain arrays and on autograd boxes


def mm(x: Tensor, w: Tensor) -> Tensor:
    """``x @ w`` for ``x`` of any rank ``(..., n)`` and a matrix ``w`` ``(n, m)`` (one BLAS call)."""
    return mm_nn(x, w)


@primitive
def relu(x):
    """``max(x, 0)``; its VJP multiplies by the constant mask ``x > 0`` (cheaper than autograd's
    ``maximum``, which splits ties, and differentiable again in the cotangent)."""
    return np.maximum(x, 0.0)


defvjp(relu, lambda ans, x: lambda g: g * (getval(ans) > 0))


def log_softmax(x: Tensor) -> Tensor:
    """Log-softmax over the last axis (the max shift carries no gradient, as it cancels)."""
    s = x - np.max(getval(x), axis=-1, keepdims=True)
    return s - anp.log(anp.sum(anp.exp(s), axis=-1, keepdims=True))


# ----------------------------------------------------------------------------------------------
# nets


class Net:
    """Base of the nets, the type their generics dispatch on (see the module docstring)."""

    n_in: int
    n_out: int

    def start(self, batch: int) -> Any:
        """The carry before the first :func:`~pola_nb.generics.net_step` of ``batch`` episodes (None:
        a net without memory)."""
        return None

    def prepare(self, params: Params) -> Params:
        """Plain parameters arranged for :func:`~pola_nb.generics.net_step` (the sampler calls this once)."""
        return params

    def describe(self) -> dict[str, Any]:
        raise NotImplementedError


@dispatch
def net_sequence(net: Net, params: object, obs: object, known: object = None):
    """Any net: :func:`~pola_nb.generics.net_step` over the steps of ``obs`` from ``net.start``."""
    carry = net.start(obs.shape[1])
    outs = []
    for t in range(obs.shape[0]):
        y, carry = net_step(net, params, carry, obs[t])
        outs.append(y)
    return anp.stack(outs)


@dataclass(frozen=True)
class GRUNet(Net):
    """``layers_before_gru`` Dense layers, a flax ``GRUCell`` of width ``hidden``, a Dense head.

    Forward for one step (official `POLA_dice_jax.py`): ``x <- relu(Dense(x))``; with 2 layers also ``x <- Dense(x)``
    (no activation); ``r = σ(W_ir x + b_ir + W_hr h)``, ``z = σ(W_iz x + b_iz + W_hz h)``,
    ``n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))``, ``h' = (1 - z) ⊙ n + z ⊙ h``; output
    ``Dense(h')``. The carry starts at zero for every episode.
    """

    n_in: int
    n_out: int
    hidden: int = 64
    layers_before_gru: int = 1

    def __post_init__(self) -> None:
        require(self.layers_before_gru in (1, 2), "layers_before_gru must be 1 or 2")
        require_int("hidden", self.hidden, 1)

    def _embed(self, p: Params, x):
        """Input of the GRU cell for observations ``x`` ``(..., n_in)``: shape ``(..., H)``."""
        x = relu(mm(x, p["dense0_w"]) + p["dense0_b"])
        if self.layers_before_gru == 2:
            x = mm(x, p["dense1_w"]) + p["dense1_b"]
        return x

    @staticmethod
    def _gate_weights(p: Params):
        if "gates" in p:  # prepared once for stepping
            return p["gates"]
        wi = anp.concatenate([p["ir_w"], p["iz_w"], p["in_w"]], axis=1)
        bi = anp.concatenate([p["ir_b"], p["iz_b"], p["in_b"]])
        wh = anp.concatenate([p["hr_w"], p["hz_w"], p["hn_w"]], axis=1)
        return wi, bi, wh

    def start(self, batch: int) -> np.ndarray:
        return np.zeros((batch, self.hidden), F32)

    def prepare(self, params: Params) -> Params:
        return dict(params, gates=self._gate_weights(params))

    def step_into(self, params: Params, carry: np.ndarray, x: np.ndarray, tape: Tape,
                  t: int) -> tuple[np.ndarray, np.ndarray]:
        """:func:`~pola_nb.generics.net_step` on plain arrays that keeps its forward pass in row ``t`` of
        ``tape``: the input side ``x @ W_i``, the activations and the new carry (which it returns, a
        view into the tape)."""
        wi, bi, wh = self._gate_weights(params)
        xw = mm_into(self._embed(params, x), wi, tape.xw[t])
        h = tape.hs[t]
        kernels.forward_step(xw, bi, mm(carry, wh), carry, params["hn_b"], *tape.act[:, t], h)
        return mm(h, params["head_w"]) + params["head_b"], h

    def hidden_states(self, params: Params, obs: np.ndarray, known: Recording | None = None) -> Tensor:
        """Carries after each step of ``obs`` ``(T', B, n_in)``: shape ``(T', B, H)`` (fast path: the
        input side of all steps is one matrix product, the recurrence one primitive, :mod:`.scan`).
        With a matching ``known`` recording neither is computed again."""
        wi, bi, wh = self._gate_weights(params)
        x = self._embed(params, obs)
        if known is not None and known.matches(params, obs):
            return gru_scan(mm_known(x, wi, known.xw), bi, wh, params["hn_b"], known=(known.hs, known.act))
        return gru_scan(mm(x, wi), bi, wh, params["hn_b"])

    def reference_hidden_states(self, params: Params, obs: np.ndarray) -> Tensor:
        """The slow, obviously-correct twin of :meth:`hidden_states`: the recurrence one operation at a time."""
        p = params
        h = self.start(obs.shape[1])
        hs = []
        for t in range(obs.shape[0]):
            x = self._embed(p, obs[t])
            r = sigmoid(mm(x, p["ir_w"]) + p["ir_b"] + mm(h, p["hr_w"]))
            z = sigmoid(mm(x, p["iz_w"]) + p["iz_b"] + mm(h, p["hz_w"]))
            n = anp.tanh(mm(x, p["in_w"]) + p["in_b"] + r * (mm(h, p["hn_w"]) + p["hn_b"]))
            h = (1.0 - z) * n + z * h
            hs.append(h)
        return anp.stack(hs)

    def describe(self) -> dict[str, Any]:
        return {"kind": "gru", "n_in": self.n_in, "n_out": self.n_out, "hidden": self.hidden,
                "layers_before_gru": self.layers_before_gru}


@dispatch
def init_net(net: GRUNet, rng: np.random.Generator) -> Params:
    """flax 0.6.3: ``lecun_normal`` kernels, orthogonal recurrent kernels, zero biases."""
    H = net.hidden
    p: Params = {"dense0_w": lecun_normal(rng, net.n_in, H), "dense0_b": np.zeros(H, F32)}
    if net.layers_before_gru == 2:
        p["dense1_w"] = lecun_normal(rng, H, H)
        p["dense1_b"] = np.zeros(H, F32)
    for g in ("r", "z", "n"):
        p[f"i{g}_w"] = lecun_normal(rng, H, H)
        p[f"i{g}_b"] = np.zeros(H, F32)
    for g in ("r", "z", "n"):
        p[f"h{g}_w"] = orthogonal(rng, H)
    p["hn_b"] = np.zeros(H, F32)
    p["head_w"] = lecun_normal(rng, H, net.n_out)
    p["head_b"] = np.zeros(net.n_out, F32)
    return p


@dispatch
def net_step(net: GRUNet, params: object, carry: object, x: object):
    """One GRU step (the fused cell of :func:`~pola_nb.sampled.fused.gru_gates`); the carry is ``h``."""
    wi, bi, wh = net._gate_weights(params)
    h = gru_gates(mm(net._embed(params, x), wi) + bi, mm(carry, wh), carry, params["hn_b"])
    return mm(h, params["head_w"]) + params["head_b"], h


@dispatch
def net_sequence(net: GRUNet, params: object, obs: object, known: object = None, *, reference: bool = False):
    """The head on :meth:`GRUNet.hidden_states` (with ``reference=True``: on its one-operation-at-a-time
    twin :meth:`GRUNet.reference_hidden_states`, ``known`` unused)."""
    hs = net.reference_hidden_states(params, obs) if reference else net.hidden_states(params, obs, known)
    return mm(hs, params["head_w"]) + params["head_b"]


@dataclass(frozen=True)
class MemoryOneTable(Net):
    """Tabular policy/value on the IPD: one output row per previous joint action (and start)."""

    n_out: int = 2
    n_in: int = OBS_DIM

    def __post_init__(self) -> None:
        require(self.n_in == OBS_DIM, "the memory-one table only works on the IPD (6-dim observations)")

    def describe(self) -> dict[str, Any]:
        return {"kind": "memory-one", "n_in": self.n_in, "n_out": self.n_out}


@dispatch
def init_net(net: MemoryOneTable, rng: np.random.Generator) -> Params:
    """A zero table ``(5, n_out)`` (rows DD, DC, CD, CC, start); draws nothing from ``rng``."""
    return {"table": np.zeros((5, net.n_out), F32)}


@dispatch
def net_step(net: MemoryOneTable, params: object, carry: object, x: object):
    """The row of the observed state; no carry."""
    return mm(observed_states(x), params["table"]), None


@dispatch
def net_sequence(net: MemoryOneTable, params: object, obs: object, known: object = None):
    """The row of the observed state at every step."""
    return mm(observed_states(obs), params["table"])


@dataclass(frozen=True)
class FeedForwardNet(Net):
    """Dense(hidden)-ReLU-Dense(n_out) on the current observation only (no memory)."""

    n_in: int
    n_out: int
    hidden: int = 64

    def __post_init__(self) -> None:
        require_int("hidden", self.hidden, 1)

    def describe(self) -> dict[str, Any]:
        return {"kind": "feed-forward", "n_in": self.n_in, "n_out": self.n_out, "hidden": self.hidden}


def _feed_forward(params: Params, x):
    """Dense-ReLU-Dense on observations ``x`` ``(..., n_in)``."""
    h = relu(mm(x, params["dense0_w"]) + params["dense0_b"])
    return mm(h, params["head_w"]) + params["head_b"]


@dispatch
def init_net(net: FeedForwardNet, rng: np.random.Generator) -> Params:
    """flax 0.6.3: ``lecun_normal`` kernels, zero biases."""
    return {"dense0_w": lecun_normal(rng, net.n_in, net.hidden), "dense0_b": np.zeros(net.hidden, F32),
            "head_w": lecun_normal(rng, net.hidden, net.n_out), "head_b": np.zeros(net.n_out, F32)}


@dispatch
def net_step(net: FeedForwardNet, params: object, carry: object, x: object):
    """The current observation only; no carry."""
    return _feed_forward(params, x), None


@dispatch
def net_sequence(net: FeedForwardNet, params: object, obs: object, known: object = None):
    """Every step on its own observation."""
    return _feed_forward(params, obs)


def make_net(kind: str, n_in: int, n_out: int, hidden: int = 64, layers_before_gru: int = 1) -> Net:
    """Build a net by name: ``gru``, ``memory-one`` (IPD only) or ``feed-forward``."""
    if kind == "gru":
        return GRUNet(n_in, n_out, hidden, layers_before_gru)
    if kind == "memory-one":
        return MemoryOneTable(n_out=n_out, n_in=n_in)
    if kind == "feed-forward":
        return FeedForwardNet(n_in, n_out, hidden)
    raise require(False, f"unknown policy kind {kind!r}; choose gru, memory-one or feed-forward")


# ----------------------------------------------------------------------------------------------
# agents: a policy net and a value net of the same kind


@dataclass(frozen=True)
class Architecture:
    """The two nets of an agent. Parameters of an agent are ``{"pol": ..., "val": ...}``."""

    policy: Net
    value: Net

    def init(self, rng: np.random.Generator) -> dict[str, Params]:
        """Parameters of both nets (:func:`~pola_nb.generics.init_net`, policy first)."""
        return {"pol": init_net(self.policy, rng), "val": init_net(self.value, rng)}

    def describe(self) -> dict[str, Any]:
        return {"policy": self.policy.describe(), "value": self.value.describe()}


def make_architecture(kind: str, obs_dim: int, n_actions: int, hidden: int = 64,
                      layers_before_gru: int = 1) -> Architecture:
    return Architecture(make_net(kind, obs_dim, n_actions, hidden, layers_before_gru),
                        make_net(kind, obs_dim, 1, hidden, layers_before_gru))


# ----------------------------------------------------------------------------------------------
# scoring one trajectory


def score_pair(arch: Architecture, my_pol: Params, other_pol: Params, my_val: Params, obs_me: np.ndarray,
               obs_other: np.ndarray, known: tuple[Recording | None, Recording | None] = (None, None)
               ) -> tuple[Tensor, Tensor, Tensor]:
    """``(logp_me (T, B, A), logp_other (T, B, A), values_me (T+1, B))`` along one trajectory.

    ``obs_me``/``obs_other``: ``(T+1, B, n)`` observations o_0..o_T of each agent; ``known``: the
    two samplers' recordings (self first), used where they match. The three nets run one by one:
    evaluating them in one batched pass was measured slower (the per-net slices and transposes cost
    more than the saved graph nodes), and inside the inner steps it would make autograd
    differentiate every net at every level.
    """
    return (policy_log_probs(arch.policy, my_pol, obs_me[:-1], known[0]),
            policy_log_probs(arch.policy, other_pol, obs_other[:-1], known[1]),
            values(arch.value, my_val, obs_me))


# ----------------------------------------------------------------------------------------------
# scorer helpers (autograd)


def policy_log_probs(net: Net, params: Params, obs: np.ndarray, known: Recording | None = None) -> Tensor:
    """Log-probability tables ``(T, B, A)`` along ``obs`` ``(T, B, n_in)`` (o_0..o_{T-1})."""
    return log_softmax(net_sequence(net, params, obs, known))


def values(net: Net, params: Params, obs: np.ndarray) -> Tensor:
    """Values ``(T+1, B)`` along all observations ``obs`` ``(T+1, B, n_in)`` (o_0..o_T)."""
    return net_sequence(net, params, obs)[..., 0]


def taken(logp_table: Tensor, actions: np.ndarray) -> Tensor:
    """Log-probabilities of the recorded ``actions`` ``(T, B)`` int from tables ``(T, B, A)``."""
    onehot = np.eye(logp_table.shape[-1], dtype=F32)[actions]
    return anp.sum(logp_table * onehot, axis=-1)


# ----------------------------------------------------------------------------------------------
# sampler (no gradient)


def _same_arrays(params: Params, played: Params) -> bool:
    """``params`` (a dict, possibly holding autograd boxes) wraps exactly the arrays of ``played``."""
    return params.keys() == played.keys() and all(getval(params[k]) is played[k] for k in played)


def _float32(a) -> np.ndarray:
    """``a`` itself when it is a float32 array, else a float32 copy.

    ``np.asarray(a, np.float32)`` is not enough: for an array whose dtype is an equal but distinct
    float32 instance (every array unpickled in a Dask worker) it returns a new view, and a
    :class:`Recording` of that view would never match the parameters that played.
    """
    return a if isinstance(a, np.ndarray) and a.dtype == F32 else np.asarray(a, F32)


def _address(a: np.ndarray) -> tuple[int, int]:
    return a.__array_interface__["data"][0], a.strides[0] if a.ndim else 0


class Tape:
    """Buffers a recording GRU sampler writes each step into: ``xw`` ``(S, B, 3H)``, ``act``
    ``(4, S, B, H)`` and ``hs`` ``(S, B, H)`` for up to ``S`` steps (doubled when a rollout is longer)."""

    def __init__(self, steps: int, batch: int, hidden: int, dtype=F32):
        self.xw = np.empty((steps, batch, 3 * hidden), dtype)
        self.act = np.empty((4, steps, batch, hidden), dtype)
        self.hs = np.empty((steps, batch, hidden), dtype)

    def reserve(self, t: int) -> None:
        """Make row ``t`` exist (copying into twice the length if needed)."""
        S = self.hs.shape[0]
        if t < S:
            return
        for name, axis in (("xw", 0), ("act", 1), ("hs", 0)):
            old = getattr(self, name)
            shape = list(old.shape)
            shape[axis] = 2 * S
            new = np.empty(shape, old.dtype)
            new[(slice(None),) * axis + (slice(0, S),)] = old
            setattr(self, name, new)

    def upto(self, T: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The first ``T`` steps ``(xw, act, hs)`` (views; each ``act[k]`` contiguous)."""
        return self.xw[:T], self.act[:, :T], self.hs[:T]


@dataclass
class Recording:
    """A GRU sampler's forward pass over one rollout: ``xw`` ``(T, B, 3H)`` = the input side
    ``embed(o_t) @ W_i`` (no bias), ``act`` ``(4, T, B, H)`` = the cell activations ``r, z, m, n``
    (:mod:`pola_kernels.gru`) and ``hs`` ``(T, B, H)`` = the carries ``h_t``.

    It stands for the scorer's forward only for the very parameter arrays that played (``params``,
    compared by identity) on the very observation rows they saw (same memory, kept alive by
    ``owner``; ``start`` = address of o_0 and the stride between steps).
    """

    params: Params
    owner: np.ndarray
    start: tuple[int, int]
    xw: np.ndarray
    act: np.ndarray
    hs: np.ndarray

    def matches(self, params: Params, obs: np.ndarray) -> bool:
        return (isinstance(obs, np.ndarray) and obs.shape[:2] == self.hs.shape[:2]
                and (obs if obs.base is None else obs.base) is self.owner and _address(obs) == self.start
                and _same_arrays(getval(params), self.params))


class PolicySampler:
    """Plays a policy net in the rollout driver: ``reset(batch)`` then ``act`` once per step.

    ``act(obs (B, n_in) float32, last_reward (B,), u (B,) float32 uniforms) -> actions (B,) int32``
    draws from the categorical distribution by inverting its CDF at ``u``; the net's carry is kept.
    ``record=True`` (GRU nets) keeps the forward pass for :meth:`recording`, in a :class:`Tape` sized
    for ``steps`` steps (grown if the rollout is longer).
    """

    def __init__(self, net: Net, params: Params, record: bool = False, steps: int | None = None):
        self.net = net
        self.params = {k: _float32(getval(v)) for k, v in params.items()}
        self._stepping = net.prepare(self.params)
        self.carry = None
        self.record = record and hasattr(net, "step_into")
        self._steps = steps or 64
        self._tape: Tape | None = None
        self._t = 0
        self._seen: list[np.ndarray] = []

    def reset(self, batch: int) -> None:
        self.carry = self.net.start(batch)
        self._tape, self._t, self._seen = None, 0, []

    def logits(self, obs: np.ndarray) -> np.ndarray:
        if not self.record:
            out, self.carry = net_step(self.net, self._stepping, self.carry, obs)
            return out
        if self._tape is None:
            self._tape = Tape(self._steps, obs.shape[0], self.carry.shape[-1])
        self._tape.reserve(self._t)
        out, self.carry = self.net.step_into(self._stepping, self.carry, obs, self._tape, self._t)
        self._t += 1
        if len(self._seen) < 2:
            self._seen.append(obs)
        return out

    def recording(self) -> Recording | None:
        """The forward pass of the last rollout, when its observations were rows of one array (the
        rollout driver's buffer on the CPU) and it had at least two steps; else None."""
        if len(self._seen) < 2 or self._seen[0].base is None or self._seen[1].base is not self._seen[0].base:
            return None
        first, second = _address(self._seen[0])[0], _address(self._seen[1])[0]
        return Recording(self.params, self._seen[0].base, (first, second - first), *self._tape.upto(self._t))

    def act(self, obs: np.ndarray, last_reward: np.ndarray | None = None,
            u: np.ndarray | None = None) -> np.ndarray:
        logits = self.logits(np.asarray(obs, F32))
        probs = np.exp(log_softmax(logits))
        cdf = np.cumsum(probs, axis=-1)
        a = (cdf < u[:, None]).sum(axis=-1)
        return np.minimum(a, probs.shape[-1] - 1).astype(np.int32)


class SwappedView:
    """A rollout-driver agent (``reset``/``act``) that hands ``agent`` the other seat's view of each
    observation (:func:`~pola_nb.generics.swap_seats` of ``game``): an agent 2 trained on the shared
    (agent-1-first) view playing seat 2 of an agent-centric game, where seat 2 observes its own
    view, sees exactly what it saw in training."""

    def __init__(self, agent: Any, game: Any):
        self.agent, self.game = agent, game

    def reset(self, batch: int) -> None:
        self.agent.reset(batch)

    def act(self, obs: np.ndarray, last_reward: np.ndarray | None = None,
            u: np.ndarray | None = None) -> np.ndarray:
        from pola_nb.generics import swap_seats

        return self.agent.act(np.ascontiguousarray(swap_seats(self.game, obs)), last_reward, u)
