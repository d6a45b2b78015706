"""Bad input on every command: exit status 2, one line on stderr, and no file created or changed.

Every case runs ``pola`` in-process through :func:`pola_nb.cli.main` (the console entry point, which
turns usage errors into one line; a ``CliRunner`` would call the typer app and bypass it), with
stdout and stderr captured apart, in a fresh folder that is also the working directory, so outputs
with default names are covered too. One case runs the entry point in its own process.

The functions that start real work (a training update, an exact-IPD run, a rollout, the estimator
check) are replaced by stubs that raise, so a case that is not refused fails at once instead of
starting a long run.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import h5py
import pytest

from pola_nb.cli import main


class WorkStarted(Exception):
    """Raised by the stubs: the command got past validation and started computing."""


def _started(*args, **kwargs):
    raise WorkStarted("the command started working on invalid input")


@pytest.fixture(autouse=True)
def no_work(monkeypatch):
    from importlib import import_module

    experiments, estimator_check, rollout, training = (import_module(f"pola_nb.{m}") for m in (
        "exact.experiments", "sampled.estimator_check", "sampled.rollout", "sampled.training"))

    for module, name in ((training, "init_seed"), (training, "step_tasks"), (experiments, "run_method"),
                         (rollout, "rollout"), (estimator_check, "check_estimator")):
        monkeypatch.setattr(module, name, _started)
    monkeypatch.setattr(import_module("pola_nb.sampled.cluster"), "CONNECT_TIMEOUT_S", 1.0)


# ------------------------------------------------------------------------------------------------ inputs


def _run_file(path: Path, game: str, algo: str = "pola-dice", rows: bool = True) -> None:
    """A small training run file (status running) with a checkpoint at update 0 for seed index 0."""
    from pola_nb.runfile import create_run_file, save_checkpoint
    from pola_nb.sampled.config import preset_config
    from pola_nb.sampled.training import init_seed

    cfg = preset_config(game, algo, "quick", updates=2, hidden=4, steps=5, batch_size=16, outer_steps=2,
                        om_batches=2)
    create_run_file(path, cfg)
    if rows:
        with h5py.File(path, "a") as f:
            save_checkpoint(f, cfg, 0, 0, init_seed(cfg, 1).agents)


def _results_file(path: Path, kind: str) -> None:
    from pola_nb.results import write_root_attrs

    with h5py.File(path, "w") as f:
        write_root_attrs(f, kind, {})


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """Input files shared by all cases (the snapshot checks that no case changes them)."""
    d = tmp_path_factory.mktemp("inputs")
    (d / "garbage.h5").write_bytes(b"this is not an HDF5 file\n" * 8)
    (d / "empty.h5").write_bytes(b"")
    with h5py.File(d / "plain.h5", "w") as f:
        f["x"] = [1, 2, 3]
    _results_file(d / "unknown_kind.h5", "zzz")
    _results_file(d / "fig1_kind.h5", "fig1")
    _run_file(d / "run_ipd.h5", "ipd")
    _run_file(d / "run_coin.h5", "coin")
    _run_file(d / "run_norows.h5", "ipd", rows=False)
    (d / "folder.h5").mkdir()
    (d / "garbage.json").write_text("{not json")
    (d / "unknown.toml").write_text("[hp]\nlr_inn = 0.1\n")
    (d / "bad_value.toml").write_text("hidden = 0\n")
    (d / "wrong_game.toml").write_text('game = "coin"\n')
    (d / "binary.toml").write_bytes(bytes(range(256)))
    (d / "no_address.json").write_text('{"type": "Scheduler"}')
    (d / "unreachable.json").write_text('{"type": "Scheduler", "address": "tcp://127.0.0.1:1"}')
    return d


# ------------------------------------------------------------------------------------------------ cases

TRAIN = ["train", "ipd", "--algo", "pola-dice", "--preset", "quick", "--quiet", "--out", "{out}/run.h5"]
TRAIN_OM = ["train", "coin", "--algo", "pola-om", "--preset", "quick", "--quiet", "--out", "{out}/run.h5"]
TRAIN_LOQA = ["train", "coin", "--algo", "loqa", "--preset", "quick", "--quiet", "--out", "{out}/run.h5"]
TRAIN_PAA = ["train", "coin", "--algo", "paa", "--preset", "quick", "--quiet", "--out", "{out}/run.h5"]
RESUME = ["train", "ipd", "--resume", "--quiet", "--out", "{out}/run.h5"]
FIG = ["reproduce", "{fig}", "--preset", "quick", "--out", "{out}/f.h5"]
SAMPLED = ["reproduce", "{fig}", "--quiet", "--out", "{out}/f.h5"]
EVAL = ["eval", "ipd", "--agent1", "tft", "--agent2", "alld"]
CHECK = ["check-estimator", "--json"]

#: (case id, arguments, files placed in the output folder first: name -> input file or "old").
CASES: list[tuple[str, list[str], dict[str, str]]] = []


def case(name: str, args: list[str], pre: dict[str, str] | None = None) -> None:
    CASES.append((name, args, pre or {}))


def bad_values(prefix: str, base: list[str], option: str, values: list[str]) -> None:
    for v in values:
        case(f"{prefix} {option} {v}", [*base, option, v])


# pola (no command) and unknown commands / options
case("unknown command", ["frobnicate"])
case("info unknown option", ["info", "--bogus"])

# pola train: every option
case("train unknown game", ["train", "chess", "--algo", "pola-dice", "--out", "{out}/run.h5"])
case("train no game", ["train", "--algo", "pola-dice", "--out", "{out}/run.h5"])
case("train no algo", ["train", "ipd", "--out", "{out}/run.h5"])
case("train no out", ["train", "ipd", "--algo", "pola-dice"])
case("train unknown option", [*TRAIN, "--bogus", "1"])
bad_values("train", ["train", "ipd", "--preset", "quick", "--out", "{out}/run.h5"], "--algo", ["sgd", ""])
bad_values("train", TRAIN, "--preset", ["huge", ""])
bad_values("train", TRAIN, "--seeds", ["", "a", "1,1", "3-1", "-1", "1.5", "1-x"])
for opt in ("--updates", "--outer-steps", "--batch-size", "--hidden", "--checkpoint-every", "--eval-batch"):
    bad_values("train", TRAIN, opt, ["0", "-1", "x", "1.5"])
bad_values("train", TRAIN, "--inner-steps", ["-1", "x", "1.5"])
for opt in ("--om-batches", "--om-steps"):
    bad_values("train", TRAIN_OM, opt, ["0", "-2", "x"])
    bad_values("train pola-dice", TRAIN, opt, ["0"])
for opt in ("--lr-in", "--lr-out", "--lr-v", "--inner-beta", "--outer-beta"):
    bad_values("train", TRAIN, opt, ["-1", "nan", "inf", "-inf", "x"])
bad_values("train", TRAIN, "--gamma", ["0", "-0.5", "1.5", "nan", "inf", "x"])
bad_values("train", TRAIN, "--gae-lambda", ["-0.1", "1.5", "nan", "x"])
bad_values("train", TRAIN, "--kl", ["both", ""])
bad_values("train", TRAIN, "--steps", ["0", "-3", "x"])
bad_values("train", TRAIN, "--cf", ["nan", "inf", "0.5", "1", "2", "x"])
bad_values("train", TRAIN_OM, "--grid", ["0", "1", "-3", "5000", "x"])
bad_values("train ipd", TRAIN, "--grid", ["0"])
bad_values("train", TRAIN, "--policy", ["lstm", ""])
case("train memory-one on coin", [*TRAIN_OM, "--policy", "memory-one"])
bad_values("train", TRAIN, "--layers-before-gru", ["0", "3", "7", "-1", "x"])
bad_values("train feed-forward", [*TRAIN, "--policy", "feed-forward"], "--layers-before-gru", ["7"])
bad_values("train feed-forward", [*TRAIN, "--policy", "feed-forward"], "--hidden", ["0"])
bad_values("train", TRAIN, "--backend", ["tpu", ""])
bad_values("train", TRAIN, "--eval-every", ["0", "-1", "x", "1.5"])
bad_values("train", TRAIN, "--agent-centric", ["1"])  # a flag takes no value: "1" is an extra argument
# LOQA and Advantage Alignment: their own options, and options of another algorithm
for opt in ("--lr-actor", "--lr-q", "--entropy-beta", "--grad-clip", "--shaping-weight"):
    bad_values("train loqa", TRAIN_LOQA, opt, ["-1", "nan", "inf", "x"])
for opt in ("--q-hidden", "--population-every"):
    bad_values("train loqa", TRAIN_LOQA, opt, ["-1", "x", "1.5"])
bad_values("train loqa", TRAIN_LOQA, "--q-hidden", ["0"])
bad_values("train loqa", TRAIN_LOQA, "--q-layers-before-gru", ["0", "3"])
bad_values("train loqa", TRAIN_LOQA, "--q-net", ["lstm", ""])
bad_values("train loqa", TRAIN_LOQA, "--q-mode", ["max", ""])
bad_values("train loqa", TRAIN_LOQA, "--shaping", ["dice", ""])
bad_values("train loqa", TRAIN_LOQA, "--ema-keep", ["-0.1", "1.5", "nan"])
bad_values("train loqa", TRAIN_LOQA, "--dice-lambda", ["-0.1", "1.5", "nan"])
bad_values("train loqa", TRAIN_LOQA, "--epsilon", ["-0.1", "1.5", "nan"])
bad_values("train loqa", TRAIN_LOQA, "--temperature", ["0", "-1", "nan"])
bad_values("train loqa", TRAIN_LOQA, "--outer-steps", ["3"])  # a POLA setting
case("train loqa shared view", [*TRAIN_LOQA, "--no-agent-centric"])
case("train loqa feed-forward actor", [*TRAIN_LOQA, "--policy", "feed-forward"])
for opt in ("--lr-critic", "--aa-beta", "--polyak"):
    bad_values("train paa", TRAIN_PAA, opt, ["-1", "nan", "x"])
bad_values("train paa", TRAIN_PAA, "--polyak", ["1.5"])
bad_values("train paa", TRAIN_PAA, "--clip", ["0", "-0.1", "nan"])
bad_values("train paa", TRAIN_PAA, "--kl-threshold", ["0", "-1", "nan"])
bad_values("train paa", TRAIN_PAA, "--epochs", ["0", "-1", "x"])
bad_values("train paa", TRAIN_PAA, "--aa-form", ["sum", ""])
bad_values("train paa", TRAIN_PAA, "--lr-q", ["0.1"])  # a LOQA setting
case("train paa shared view", [*TRAIN_PAA, "--no-agent-centric"])
bad_values("train pola", TRAIN, "--lr-critic", ["0.1"])  # an AA setting
bad_values("train", TRAIN, "--workers", ["0", "-1", "x"])
bad_values("train", TRAIN, "--config", ["{in}/missing.toml", "{in}/garbage.json", "{in}/unknown.toml",
                                       "{in}/bad_value.toml", "{in}/wrong_game.toml", "{in}/binary.toml", "{in}"])
case("train --config with --resume", [*RESUME, "--config", "{in}/bad_value.toml"])
#: --cluster texts that are refused before any file is written: malformed, a missing or malformed
#: scheduler file, a scheduler that does not answer (nothing listens on port 1).
BAD_CLUSTERS = ["", "local:0", "local:-1", "local:x", "local:1.5", "loc", "tcp://", "tcp://host", "tcp://:80",
                "tcp://host:port", "tcp://host:99999", "udp://host:80", "{out}/missing.json", "{in}/garbage.json",
                "{in}/no_address.json", "{in}/unreachable.json", "tcp://127.0.0.1:1"]
bad_values("train", TRAIN, "--cluster", BAD_CLUSTERS)
case("train --cluster and --workers", [*TRAIN, "--cluster", "local:2", "--workers", "2"])
case("train --cluster and --workers 1", [*TRAIN, "--cluster", "local", "--workers", "1"])
case("train out folder missing", ["train", "ipd", "--algo", "pola-dice", "--out", "{out}/nope/run.h5"])
case("train out exists", TRAIN, {"run.h5": "old"})
case("train out is a folder", ["train", "ipd", "--algo", "pola-dice", "--out", "{out}"])
case("train --updates with --force on existing", [*TRAIN, "--force", "--updates", "0"], {"run.h5": "old"})
# pola train --resume
case("resume missing file", RESUME)
case("resume garbage file", RESUME, {"run.h5": "garbage.h5"})
case("resume empty file", RESUME, {"run.h5": "empty.h5"})
case("resume plain hdf5", RESUME, {"run.h5": "plain.h5"})
case("resume other kind", RESUME, {"run.h5": "fig1_kind.h5"})
case("resume with an option", [*RESUME, "--hidden", "3"], {"run.h5": "run_ipd.h5"})
case("resume with a bad option", [*RESUME, "--hidden", "0"], {"run.h5": "run_ipd.h5"})
case("resume other algo", [*RESUME, "--algo", "lola-dice"], {"run.h5": "run_ipd.h5"})
case("resume other game", ["train", "coin", "--resume", "--out", "{out}/run.h5"], {"run.h5": "run_ipd.h5"})
case("resume shorter", [*RESUME, "--updates", "1"], {"run.h5": "run_ipd.h5"})
case("resume updates 0", [*RESUME, "--updates", "0"], {"run.h5": "run_ipd.h5"})
case("resume updates -5", [*RESUME, "--updates", "-5"], {"run.h5": "run_ipd.h5"})
case("resume workers 0", [*RESUME, "--workers", "0"], {"run.h5": "run_ipd.h5"})
case("resume bad cluster", [*RESUME, "--cluster", "local:0"], {"run.h5": "run_ipd.h5"})
case("resume unreachable cluster", [*RESUME, "--cluster", "tcp://127.0.0.1:1"], {"run.h5": "run_ipd.h5"})
case("resume a folder", ["train", "ipd", "--resume", "--out", "{out}"])

# pola reproduce fig1|fig3|b16
for fig in ("fig1", "fig3", "b16"):
    base = [a.replace("{fig}", fig) for a in FIG]
    bad_values(fig, base, "--repeats", ["0", "-1", "x"])
    bad_values(fig, base, "--cf", ["", ",", "x", "1", "2", "2.5", "nan", "inf", "1.2,,x"])
    bad_values(fig, base, "--seed", ["-1", "x", "1.5"])
    bad_values(fig, base, "--gamma", ["0", "1", "-1", "nan", "inf", "x"])
    bad_values(fig, ["reproduce", fig, "--out", "{out}/f.h5"], "--preset", ["huge", ""])
    case(f"{fig} out folder missing", ["reproduce", fig, "--out", "{out}/nope/f.h5"])
    case(f"{fig} out exists", base, {"f.h5": "old"})
    case(f"{fig} png exists", base, {"f.png": "old"})
    case(f"{fig} out is a folder", ["reproduce", fig, "--out", "{out}"])
    case(f"{fig} out is the png", ["reproduce", fig, "--force", "--out", "{out}/f.png"])
    case(f"{fig} default out exists", ["reproduce", fig], {f"results/{fig}.h5": "old"})
    case(f"{fig} default out, bad seed", ["reproduce", fig, "--seed", "-1"])
    case(f"{fig} unknown option", [*base, "--scale", "paper"])

# pola reproduce all: checked whole before the first figure starts
ALL = ["reproduce", "all", "--quiet", "--out", "{out}/repro"]
bad_values("all", ALL, "--preset", ["huge", ""])
bad_values("all", ALL, "--seeds", ["", "-1", "x", "1,1"])
bad_values("all", ALL, "--workers", ["0", "x"])
bad_values("all", ALL, "--cluster", ["local:0", "tcp://host"])
case("all out is a file", ["reproduce", "all", "--quiet", "--out", "{out}/f.h5"], {"f.h5": "old"})
case("all a figure exists", ALL, {"repro/fig1_quick.h5": "old"})
case("all a run file exists", ALL, {"repro/fig5_quick_pola-om.h5": "old"})

# pola reproduce fig4|fig5
for fig in ("fig4", "fig5"):
    base = [a.replace("{fig}", fig) for a in SAMPLED]
    bad_values(fig, base, "--preset", ["huge", ""])
    bad_values(fig, base, "--seeds", ["", "-1", "x", "1,1", "3-1"])
    bad_values(fig, base, "--workers", ["0", "x"])
    bad_values(fig, base, "--cluster", ["local:0", "tcp://host", "{out}/missing.json", "tcp://127.0.0.1:1"])
    case(f"{fig} --cluster and --workers", [*base, "--cluster", "local:2", "--workers", "2"])
    case(f"{fig} out folder missing", ["reproduce", fig, "--out", "{out}/nope/f.h5"])
    case(f"{fig} out exists", base, {"f.h5": "old"})
    case(f"{fig} png exists", base, {"f.png": "old"})
    case(f"{fig} out is a folder", ["reproduce", fig, "--out", "{out}"])
    case(f"{fig} out is the png", ["reproduce", fig, "--force", "--out", "{out}/f.png"])
    for algo in ("lola-dice", "pola-om"):
        case(f"{fig} run file {algo} exists", base, {f"f_{algo}.h5": "old"})
        case(f"{fig} resume garbage run file {algo}", [*base, "--resume"], {f"f_{algo}.h5": "garbage.h5"})
    other = "run_coin.h5" if fig == "fig4" else "run_ipd.h5"
    case(f"{fig} resume run file of the other game", [*base, "--resume"], {"f_lola-dice.h5": other})
    case(f"{fig} resume run file of another algorithm", [*base, "--resume"],
         {"f_pola-om.h5": "run_ipd.h5" if fig == "fig4" else "run_coin.h5"})
    case(f"{fig} default out exists", ["reproduce", fig], {f"results/{fig}_quick.h5": "old"})
    case(f"{fig} default out, bad seeds", ["reproduce", fig, "--seeds", "x"])

# pola league: --cluster / --workers as in pola train, refused before anything is played or written
LEAGUE = ["league", "{in}/run_ipd.h5", "--strategies", "alld", "--batch-size", "4", "--out", "{out}/l.h5"]
bad_values("league", LEAGUE, "--workers", ["0", "-1", "x"])
bad_values("league", LEAGUE, "--cluster", ["", "local:0", "local:x", "tcp://host", "udp://host:80",
                                           "{out}/missing.json", "{in}/garbage.json", "{in}/no_address.json",
                                           "{in}/unreachable.json", "tcp://127.0.0.1:1"])
case("league --cluster and --workers", [*LEAGUE, "--cluster", "local:2", "--workers", "2"])
case("league bad cluster, out exists", [*LEAGUE, "--force", "--cluster", "local:0"], {"l.h5": "old"})

# pola eval (writes no file; the same rules for its input)
case("eval unknown game", ["eval", "chess", "--agent1", "tft", "--agent2", "alld"])
case("eval missing agent", ["eval", "ipd", "--agent1", "tft"])
bad_values("eval", ["eval", "ipd", "--agent2", "alld"], "--agent1", ["foo", "", "{in}/missing.h5",
                                                                   "{in}/garbage.h5", "{in}/empty.h5",
                                                                   "{in}/plain.h5", "{in}/fig1_kind.h5",
                                                                   "{in}/folder.h5", "{in}/run_norows.h5",
                                                                   "{in}/run_ipd.h5@x", "{in}/run_ipd.h5@7",
                                                                   "{in}/run_ipd.h5@-1", "{in}/run_ipd.h5:99",
                                                                   "{in}/run_coin.h5"])
bad_values("eval", ["eval", "ipd", "--agent1", "tft"], "--agent2", ["foo", "{in}/garbage.h5"])
bad_values("eval", EVAL, "--batch-size", ["0", "-1", "x"])
bad_values("eval", EVAL, "--steps", ["0", "-1", "x"])
bad_values("eval", EVAL, "--seed", ["-1", "x"])
bad_values("eval", EVAL, "--cf", ["nan", "inf", "0.5", "2", "x"])
bad_values("eval", EVAL, "--backend", ["tpu", ""])
bad_values("eval coin", ["eval", "coin", "--agent1", "tft", "--agent2", "alld"], "--grid", ["0", "1", "5000", "x"])
bad_values("eval", EVAL, "--grid", ["0"])

# pola check-estimator (writes no file)
for opt in ("--batch-size", "--steps"):
    bad_values("check-estimator", CHECK, opt, ["0", "-1", "x"])
bad_values("check-estimator", CHECK, "--seed", ["-1", "x"])
bad_values("check-estimator", CHECK, "--lr-in", ["-1", "nan", "inf", "x"])

# pola summary / pola plot
BAD_FILES = ["missing.h5", "garbage.h5", "empty.h5", "plain.h5", "unknown_kind.h5", "folder.h5", "run_norows.h5"]
for name in BAD_FILES:
    case(f"summary {name}", ["summary", f"{{in}}/{name}"])
    case(f"summary --json {name}", ["summary", "--json", f"{{in}}/{name}"])
    case(f"plot {name}", ["plot", f"{{in}}/{name}", "--out", "{out}/p.png"])
case("summary no file", ["summary"])
case("plot out folder missing", ["plot", "{in}/run_ipd.h5", "--out", "{out}/nope/p.png"])
case("plot out exists", ["plot", "{in}/run_ipd.h5", "--out", "{out}/p.png"], {"p.png": "old"})
case("plot out is a folder", ["plot", "{in}/run_ipd.h5", "--out", "{out}"])
case("plot out is the results file", ["plot", "{out}/r.h5", "--force", "--out", "{out}/r.h5"], {"r.h5": "run_ipd.h5"})
case("plot out unknown format", ["plot", "{in}/run_ipd.h5", "--out", "{out}/p.xyz"])
case("plot default out exists", ["plot", "{out}/r.h5"], {"r.h5": "run_ipd.h5", "r.png": "old"})


# ------------------------------------------------------------------------------------------------ the test


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path under ``root`` with its type, size, mtime and content hash."""
    out: dict[str, tuple] = {}
    for p in sorted(root.rglob("*")):
        st = p.stat()
        if p.is_dir():
            out[str(p.relative_to(root))] = ("dir", st.st_mtime_ns)
        else:
            out[str(p.relative_to(root))] = ("file", st.st_size, st.st_mtime_ns,
                                             hashlib.sha256(p.read_bytes()).hexdigest())
    return out


@pytest.mark.parametrize("name,args,pre", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused(name, args, pre, inputs, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    out.mkdir()
    for rel, source in pre.items():
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"old" if source == "old" else (inputs / source).read_bytes())
    argv = [a.replace("{out}", str(out)).replace("{in}", str(inputs)) for a in args]
    monkeypatch.chdir(out)
    before, inputs_before = snapshot(out), snapshot(inputs)
    try:
        main(argv)
    except SystemExit as e:
        code = e.code
    except WorkStarted:
        code = "started working"
    except Exception as e:  # a traceback for the user
        code = f"uncaught {type(e).__name__}: {e}"
    captured = capsys.readouterr()
    assert code == 2, f"{argv}: exit {code!r}; stderr {captured.err!r}"
    assert captured.err.startswith("pola: error: ") and captured.err.count("\n") == 1 \
        and captured.err.endswith("\n"), f"{argv}: stderr is not one line: {captured.err!r}"
    assert captured.out == "", f"{argv}: printed {captured.out!r}"
    assert snapshot(out) == before, f"{argv}: the output folder changed"
    assert snapshot(inputs) == inputs_before, f"{argv}: an input file changed"


def test_console_script_prints_one_line(tmp_path):
    """The installed entry point, in its own process: one line, status 2, no file left."""
    code = "import sys; from pola_nb.cli import main; sys.argv[0] = 'pola'; main()"
    r = subprocess.run([sys.executable, "-c", code, "train", "ipd", "--algo", "pola-dice", "--hidden", "0",
                        "--out", str(tmp_path / "run.h5")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and r.stdout == "", r.stderr
    assert list(tmp_path.iterdir()) == []


LIBRARY_BAD = [
    ("hidden", 0), ("hidden", "3"), ("hidden", 2.0), ("hidden", True), ("layers_before_gru", 7),
    ("eval_batch", 0), ("eval_batch", -1), ("steps", 0), ("steps", 5.5), ("grid", 1), ("cf", float("nan")),
    ("cf", 2.0), ("updates", 0), ("checkpoint_every", 0), ("seeds", ()), ("seeds", (1, 1)), ("seeds", (-1,)),
    ("seeds", [1]), ("policy", "lstm"), ("backend", "tpu"), ("batch_size", 2.5), ("batch_size", 0),
    ("inner_steps", -1), ("outer_steps", True), ("om_batches", 0), ("lr_in", float("inf")), ("lr_out", -1.0),
    ("lr_v", float("nan")), ("inner_beta", float("inf")), ("outer_beta", "1"), ("gamma", 0.0),
    ("gae_lambda", 1.5), ("baseline", "yes"), ("kl", "both"), ("no_such_setting", 1),
]


@pytest.mark.parametrize("name,value", LIBRARY_BAD, ids=[f"{n}={v!r}" for n, v in LIBRARY_BAD])
def test_library_refuses_what_the_cli_refuses(name, value, tmp_path):
    """The run configuration itself refuses every bad setting, before :func:`train` touches a file."""
    from pola_nb.errors import PolaUsageError
    from pola_nb.sampled.config import preset_config
    from pola_nb.sampled.training import train

    with pytest.raises(PolaUsageError):
        cfg = preset_config("ipd", "pola-om", "quick", **{name: value})
        train(tmp_path / "run.h5", cfg)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("settings", [dict(repeats=0), dict(repeats=1.5), dict(cfs=()), dict(cfs=(2.0,)),
                                      dict(cfs=(float("nan"),)), dict(seed=-1), dict(gamma=1.0),
                                      dict(gamma=float("nan"))], ids=str)
def test_exact_settings_refuse_bad_values(settings):
    from pola_nb.errors import PolaUsageError
    from pola_nb.exact.experiments import figure_settings

    with pytest.raises(PolaUsageError):
        figure_settings("fig3", True, **settings)


def test_valid_configurations_still_pass():
    """Every preset, as stored and reloaded, passes the checks unchanged."""
    from pola_nb.exact.experiments import EXPERIMENTS, figure_settings
    from pola_nb.sampled.config import PRESETS, RunConfig, preset_config

    for preset, table in PRESETS.items():
        for game, algo in table:
            cfg = preset_config(game, algo, preset)
            assert RunConfig.from_json(cfg.to_json()) == cfg
    for fig in EXPERIMENTS:
        for quick in (False, True):
            figure_settings(fig, quick)


@pytest.mark.parametrize("args,blocked", [
    (TRAIN, "{out}"),
    (RESUME, "{out}/run.h5"),
    (["reproduce", "fig1", "--out", "{out}/f.h5"], "{out}"),
    (["reproduce", "fig4", "--out", "{out}/f.h5"], "{out}"),
    (["plot", "{in}/run_ipd.h5", "--out", "{out}/p.png"], "{out}"),
    (["summary", "{in}/run_ipd.h5"], "{in}/run_ipd.h5"),
    (["eval", "ipd", "--agent1", "{in}/run_ipd.h5", "--agent2", "alld"], "{in}/run_ipd.h5"),
], ids=["train", "resume", "fig1", "fig4", "plot", "summary", "eval"])
def test_permissions_are_checked_first(args, blocked, inputs, tmp_path, monkeypatch, capsys):
    """A folder that cannot be written or a file that cannot be read (as the OS reports it) is refused
    before any work starts (simulated: the tests may run as root, who may write anywhere)."""
    import os

    out = tmp_path / "out"
    out.mkdir()
    if args is RESUME:
        (out / "run.h5").write_bytes((inputs / "run_ipd.h5").read_bytes())
    argv = [a.replace("{out}", str(out)).replace("{in}", str(inputs)) for a in args]
    target = blocked.replace("{out}", str(out)).replace("{in}", str(inputs))
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: str(p) != target and real_access(p, mode, **kw))
    before = snapshot(out)
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1 and ("writable" in err or "readable" in err), err
    assert snapshot(out) == before
