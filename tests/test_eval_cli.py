"""``pola eval``: output, JSON keys, closed-form values and one-line errors with exit code 2."""

from __future__ import annotations

import json

import pytest

from pola_nb.cli import main


def run(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


def test_eval_ipd_json_closed_form(capsys):
    code, out, err = run(["eval", "ipd", "--agent1", "alld", "--agent2", "allc", "--batch-size", "50", "--json"],
                         capsys)
    assert code == 0, err
    r = json.loads(out)
    assert r["score1"] == pytest.approx(0.665, abs=1e-6) and r["score2"] == pytest.approx(-0.335, abs=1e-6)
    assert "rr" not in r


def test_eval_coin_json_has_all_keys(capsys):
    argv = ["eval", "coin", "--agent1", "allc", "--agent2", "allc", "--batch-size", "200", "--steps", "20",
            "--seed", "3", "--grid", "4", "--json"]
    code, out, err = run(argv, capsys)
    assert code == 0, err
    r = json.loads(out)
    assert {"score1", "score2", "own_coin1", "own_coin2", "rr", "rb", "br", "bb"} <= r.keys()
    assert r["rb"] == 0 and r["br"] == 0 and r["own_coin1"] == 1 and r["own_coin2"] == 1
    assert r["score1"] == pytest.approx(r["rr"] / 20)  # only own coins: +1 per pick-up


def test_eval_text_output(capsys):
    code, out, _ = run(["eval", "coin", "--agent1", "tft", "--agent2", "random", "--batch-size", "100"], capsys)
    assert code == 0
    assert "per-step mean reward" in out and "RR" in out and "own-coin proportion" in out


@pytest.mark.parametrize("argv,needle", [
    (["eval", "chess", "--agent1", "alld", "--agent2", "allc"], "unknown game"),
    (["eval", "ipd", "--agent1", "alld", "--agent2", "nice"], "unknown strategy"),
    (["eval", "coin", "--agent1", "alld", "--agent2", "allc", "--grid", "1"], "grid"),
    (["eval", "coin", "--agent1", "alld", "--agent2", "allc", "--batch-size", "0"], "batch"),
    (["eval", "ipd", "--agent1", "alld", "--agent2", "allc", "--steps", "-3"], "steps"),
    (["eval", "ipd", "--agent1", "alld", "--agent2", "allc", "--backend", "tpu"], "backend"),
    (["eval", "ipd", "--agent1", "alld"], "agent2"),
])
def test_eval_bad_input_one_line_exit_2(argv, needle, capsys):
    code, out, err = run(argv, capsys)
    assert code == 2
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err


def test_eval_cuda_without_gpu_is_one_line(capsys):
    from pola_nb.backends import cuda_status

    if cuda_status().startswith("available"):
        pytest.skip("a CUDA device is available")
    code, _, err = run(["eval", "ipd", "--agent1", "alld", "--agent2", "allc", "--backend", "cuda"], capsys)
    assert code == 2 and "cuda" in err and err.count("\n") == 1
