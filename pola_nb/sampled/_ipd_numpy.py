"""A minimal pure-numpy IPD rollout (stand-in until the numba rollout driver is available).

``rollout_ipd(samplers, cf, T, B, rng)`` plays two samplers (objects with ``reset`` / ``act``) for
``T`` steps on ``B`` episodes and returns a :class:`Trajectory`. Same observation and reward
conventions as spec 1(b): obs ``[onehot3(a1), onehot3(a2)]`` with slots (D, C, start).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Trajectory:
    """obs ``(T+1, B, n)`` float32 (o_0..o_T); actions ``(T, B, 2)`` int; rewards ``(T, B, 2)`` float32."""

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray


def rollout_ipd(samplers, cf: float, T: int, B: int, rng: np.random.Generator) -> Trajectory:
    m = np.array([[0.0, cf / 2], [cf / 2 - 1.0, cf - 1.0]], np.float32)
    obs = np.zeros((T + 1, B, 6), np.float32)
    obs[0, :, 2] = obs[0, :, 5] = 1.0
    acts = np.zeros((T, B, 2), np.int32)
    rew = np.zeros((T, B, 2), np.float32)
    for s in samplers:
        s.reset(B)
    last = np.zeros((B, 2), np.float32)
    for t in range(T):
        u = rng.random((2, B), dtype=np.float32)
        a1 = samplers[0].act(obs[t], last[:, 0], u[0])
        a2 = samplers[1].act(obs[t], last[:, 1], u[1])
        acts[t, :, 0], acts[t, :, 1] = a1, a2
        rew[t, :, 0], rew[t, :, 1] = m[a1, a2], m[a2, a1]
        last = rew[t]
        obs[t + 1, np.arange(B), a1] = 1.0
        obs[t + 1, np.arange(B), 3 + a2] = 1.0
    return Trajectory(obs, acts, rew)
