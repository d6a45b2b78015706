"""reference == CPU kernels == CUDA kernels on the same uniforms (CUDA in numba's simulator).

The CUDA side runs in a subprocess with ``NUMBA_ENABLE_CUDASIM=1`` (it must be set before
``numba.cuda`` is first imported) and tiny launches (4 threads per block, at most 3 blocks), so
several blocks run and every thread walks the grid-stride loop more than once. On a machine with
a real GPU set ``POLA_TEST_REAL_CUDA=1`` to run the same comparison on the device.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import reference_games as ref

from pola_nb.sampled import CoinGame, IPDHistory, rollout
from pola_nb.sampled.rollout import draw_uniforms, make_rng

TESTS = Path(__file__).parent

# (game, agent1, agent2, batch, seed); "scripted" = a learned-agent stand-in (per-step path)
CASES = [
    (IPDHistory(cf=1.33, steps=6), "tft", "random", 37, 1),
    (IPDHistory(cf=1.6, steps=5), "scripted", "tft", 29, 2),
    (CoinGame(grid=3, steps=8), "random", "tft", 37, 3),
    (CoinGame(grid=3, steps=8), "alld", "allc", 26, 4),
    (CoinGame(grid=4, steps=6, agent_centric=True), "tft", "random", 19, 5),
    (CoinGame(grid=3, steps=6), "scripted", "alld", 23, 6),
    (CoinGame(grid=2, steps=6, agent_centric=True), "random", "scripted", 21, 7),
]

SCRIPT = textwrap.dedent("""
    import os, pickle, sys
    sys.path.insert(0, {tests!r})
    import numpy as np
    import reference_games as ref
    import pola_nb.backends
    from pola_kernels import config
    from pola_nb.sampled import rollout
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":  # the simulator's device has no name
        pola_nb.backends.cuda_status = lambda: "available (numba CUDA simulator)"
    config.THREADS_PER_BLOCK, config.MAX_BLOCKS = 4, 3
    cases = pickle.loads(bytes.fromhex(sys.argv[1]))
    out = {{}}
    for i, (game, a1, a2, batch, seed) in enumerate(cases):
        agents = [ref.Scripted(game.n_actions) if a == "scripted" else a for a in (a1, a2)]
        traj = rollout(game, agents[0], agents[1], batch, seed=seed, backend="cuda")
        for name in ("obs", "obs2", "actions", "rewards", "pickups"):
            if getattr(traj, name) is not None:
                out[f"{{i}}_{{name}}"] = getattr(traj, name)
    np.savez(sys.argv[2], **out)
""")


def agent(name, game, batch, fresh):
    if name != "scripted":
        return name
    s = ref.Scripted(game.n_actions)
    if fresh:
        s.reset(batch)
    return s


def reference(game, a1, a2, batch, seed):
    u_reset, u_step = draw_uniforms(game, batch, game.steps, make_rng(seed))
    agents = [agent(a, game, batch, fresh=True) for a in (a1, a2)]
    if isinstance(game, IPDHistory):
        return ref.ipd_rollout(game.cf, *agents, u_step)
    return ref.coin_rollout(game.grid, *agents, u_reset, u_step, game.agent_centric)


@pytest.fixture(scope="module")
def cuda_results(tmp_path_factory):
    import pickle

    path = tmp_path_factory.mktemp("cuda") / "out.npz"
    env = dict(os.environ)
    if os.environ.get("POLA_TEST_REAL_CUDA") != "1":
        env["NUMBA_ENABLE_CUDASIM"] = "1"
    proc = subprocess.run([sys.executable, "-c", SCRIPT.format(tests=str(TESTS)), pickle.dumps(CASES).hex(),
                           str(path)], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return dict(np.load(path))


@pytest.mark.parametrize("i", range(len(CASES)))
def test_reference_equals_cpu_equals_cuda(i, cuda_results):
    game, a1, a2, batch, seed = CASES[i]
    expected = reference(game, a1, a2, batch, seed)
    cpu = rollout(game, agent(a1, game, batch, False), agent(a2, game, batch, False), batch, seed=seed)
    for name in ("obs", "obs2", "actions", "rewards", "pickups"):
        want = expected[name]
        if want is None:
            assert getattr(cpu, name) is None and f"{i}_{name}" not in cuda_results
            continue
        np.testing.assert_array_equal(getattr(cpu, name), want, err_msg=f"cpu {name}")
        np.testing.assert_array_equal(cuda_results[f"{i}_{name}"], want, err_msg=f"cuda {name}")


PTX_SCRIPT = textwrap.dedent("""
    import sys
    import types as pytypes
    from numba import cuda, types
    import numba.cuda.dispatcher as dispatcher
    from pola_kernels import coin, ipd
    if not cuda.is_available():  # device functions ask the current device for its compute capability
        dispatcher.get_current_device = lambda: pytypes.SimpleNamespace(compute_capability=(8, 0))
    f1, f2, f3 = types.float32[::1], types.float32[:, ::1], types.float32[:, :, ::1]
    i8_2, i8_3, i32_1, i32_2 = types.int8[:, ::1], types.int8[:, :, ::1], types.int32[::1], types.int32[:, ::1]
    i64, b, s8 = types.int64, types.boolean, types.int8[::1]
    ck, ik = coin.kernels("cuda"), ipd.kernels("cuda")
    sigs = [
        (ck.rollout, (i64, i32_1, b, i64, i64, f2, f3, i8_3, f3, i8_3, f3, f3, b)),
        (ck.reset, (i64, b, f2, i32_2, f3, f3)),
        (ck.advance, (i64, i64, i32_1, b, i64, i64, i8_2, i32_2, f2, i8_3, f3, i8_3, f3, f3)),
        (ck.rollout_pairs, (i64, i32_1, b, s8, s8, f2, f3, i8_3, f3, i8_3, f3, f3, b)),
        (ik.rollout, (b, i64, i64, f1, f3, i8_3, f3, f3, f3, b)),
        (ik.rollout_pairs, (b, s8, s8, f1, f3, i8_3, f3, f3, f3, b)),
        (ik.reset, (b, i32_2, f3, f3)),
        (ik.advance, (i64, b, i64, i64, i8_2, f1, i32_2, f2, i8_3, f3, f3, f3)),
    ]
    try:
        for kernel, sig in sigs:
            ptx, _ = cuda.compile_ptx(kernel.py_func, sig, cc=(8, 0))
            assert ".entry" in ptx
    except Exception as e:
        if "nvvm" in str(e).lower() or "nvrtc" in str(e).lower() or "NotFound" in type(e).__name__:
            print("SKIP", type(e).__name__)
            sys.exit(0)
        raise
    print("OK")
""")


def test_cuda_kernels_compile_to_ptx():
    """Type-check and compile every CUDA kernel for a real GPU target (needs libnvvm, no GPU)."""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    proc = subprocess.run([sys.executable, "-c", PTX_SCRIPT], env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    if proc.stdout.startswith("SKIP"):
        pytest.skip(f"libnvvm / libnvrtc not installed ({proc.stdout.strip()})")
    assert proc.stdout.strip() == "OK"
