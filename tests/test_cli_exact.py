"""The pola CLI on the exact-IPD figures: end to end, JSON summaries, and one-line errors for bad input."""

import json

import h5py
import pytest

from pola_nb.cli import main


def run(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args)
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


@pytest.fixture(scope="module")
def fig1_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("fig1") / "fig1.h5"
    with pytest.raises(SystemExit) as exc:
        main(["reproduce", "fig1", "--out", str(path)])
    assert exc.value.code == 0
    return path


def test_fig1_end_to_end(fig1_file, capsys):
    assert fig1_file.with_suffix(".png").stat().st_size > 10_000
    with h5py.File(fig1_file) as f:
        assert f.attrs["status"] == "complete" and f.attrs["kind"] == "fig1"
        assert json.loads(f.attrs["config"])["cfs"] == [1.33]
        assert "reproduce fig1" in f.attrs["command"]
    code, out, _ = run(["summary", str(fig1_file), "--json"], capsys)
    assert code == 0
    s = json.loads(out)
    assert set(s["fig1"]) == {"lola-nn1", "lola-nn2", "pola-nn1", "pola-nn2"}
    for agents in s["fig1"].values():
        assert len(agents["agent1"]) == len(agents["agent2"]) == 5
    pola1, pola2 = s["fig1"]["pola-nn1"]["agent1"], s["fig1"]["pola-nn2"]["agent1"]
    assert max(abs(a - b) for a, b in zip(pola1, pola2, strict=True)) < 0.03


def test_plot_command(fig1_file, tmp_path, capsys):
    png = tmp_path / "again.png"
    assert run(["plot", str(fig1_file), "-o", str(png)], capsys)[0] == 0
    assert png.stat().st_size > 10_000


def test_fig3_small_run_and_summary(tmp_path, capsys):
    path = tmp_path / "f3.h5"
    code, out, _ = run(["reproduce", "fig3", "--preset", "quick", "--repeats", "1", "--cf", "1.6", "--out", str(path)],
                       capsys)
    assert code == 0 and "lola-tabular" in out
    code, out, _ = run(["summary", str(path), "--json"], capsys)
    s = json.loads(out)
    assert set(s["fig3"]) == {f"{a}-{p}" for a in ("lola", "pola") for p in ("tabular", "nn", "precond")}
    assert s["fig3"]["lola-tabular"] == {"1.6": 1.0}
    assert s["seconds"] > 0


@pytest.mark.parametrize(
    "args",
    [
        ["reproduce", "fig9"],
        ["reproduce", "fig1", "--cf", "1.0"],
        ["reproduce", "fig3", "--cf", "1.2,2"],
        ["reproduce", "fig3", "--cf", "abc"],
        ["reproduce", "fig1", "--gamma", "1.5"],
        ["reproduce", "fig3", "--repeats", "0"],
        ["reproduce", "fig1", "--out", "/nonexistent-folder/x.h5"],
        ["summary", "/nonexistent-file.h5"],
        ["reproduce", "b16", "--repeats", "x"],
    ],
)
def test_bad_input_gives_one_line_and_exit_2(args, capsys):
    code, out, err = run(args, capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith("pola: error:")
    assert "Traceback" not in err


def test_existing_file_is_not_overwritten_without_force(fig1_file, capsys):
    before = fig1_file.read_bytes()
    code, _, err = run(["reproduce", "fig1", "--out", str(fig1_file)], capsys)
    assert code == 2 and "--force" in err
    assert fig1_file.read_bytes() == before


def test_files_that_are_not_ours(tmp_path, capsys):
    text = tmp_path / "x.h5"
    text.write_text("hello")
    foreign = tmp_path / "y.h5"
    with h5py.File(foreign, "w") as f:
        f["a"] = [1, 2]
    for path in (text, foreign):
        code, _, err = run(["summary", str(path)], capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1


def test_info_json(capsys):
    code, out, _ = run(["info", "--json"], capsys)
    data = json.loads(out)
    assert code == 0 and data["backends"]["cpu"] == "available" and data["numba_threads"] >= 1
