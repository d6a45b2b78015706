"""``pola eval`` with trained checkpoints as agents (cross-play), wired to the right agent and seed."""

import json

import pytest

from pola_nb.cli import main
from pola_nb.runfile import checkpoint_agent
from pola_nb.sampled.config import preset_config
from pola_nb.sampled.rollout import rollout, scores
from pola_nb.sampled.training import train


@pytest.fixture(scope="module")
def run_file(tmp_path_factory):
    cfg = preset_config("ipd", "lola-dice", "quick", hidden=4, steps=5, batch_size=16, updates=2, seeds=(1, 2),
                        checkpoint_every=1)
    return train(tmp_path_factory.mktemp("run") / "run.h5", cfg)


def run(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args)
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def test_checkpoint_against_strategy_and_cross_play(run_file, capsys):
    spec1, spec2 = f"{run_file}:1@0", f"{run_file}@1"
    code, out, _ = run(["eval", "ipd", "--agent1", spec1, "--agent2", spec2, "--batch-size", "300", "--seed", "4",
                        "--steps", "5", "--json"], capsys)
    assert code == 0
    r = json.loads(out)
    cfg, a1 = checkpoint_agent(spec1, 0)
    _, a2 = checkpoint_agent(spec2, 1)  # slot 2 plays the run's agent 2
    # the run's own (shared-view) game with the unwrapped agent 2: eval's agent-centric game must match it
    expected = scores(rollout(cfg.make_game(), a1, a2.agent, 300, seed=4))
    assert (r["score1"], r["score2"]) == pytest.approx(expected)
    assert r["agent1"] == spec1
    code, out, _ = run(["eval", "ipd", "--agent1", "alld", "--agent2", spec2, "--batch-size", "300", "--json"], capsys)
    assert code == 0 and json.loads(out)["score1"] >= 0  # ALLD never loses in the IPD


@pytest.mark.parametrize("args", [
    ["eval", "coin", "--agent1", "{run}", "--agent2", "alld"],  # trained on the IPD
    ["eval", "ipd", "--agent1", "missing.h5", "--agent2", "alld"],
    ["eval", "ipd", "--agent1", "{run}@7", "--agent2", "alld"],  # no such seed index
    ["eval", "ipd", "--agent1", "{run}:99", "--agent2", "alld"],  # no such update
])
def test_bad_checkpoints_give_one_line_and_exit_2(run_file, args, capsys):
    code, _, err = run([a.format(run=run_file) for a in args], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
