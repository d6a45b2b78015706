"""The typed configuration: every field declared once (type, default, range, help), validated on
construction, turned into `pola train` options, and written to / read from TOML."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from pola_nb.cli import app
from pola_nb.cli.options import option_name, setting_options, with_options
from pola_nb.errors import PolaUsageError
from pola_nb.runfile import stored_config
from pola_nb.sampled.config import (
    PRESETS,
    Hyper,
    RunConfig,
    config_from_settings,
    config_from_toml,
    parse_toml,
    preset_config,
    read_toml,
    to_toml,
)
from pola_nb.settings import check_settings, described_fields, setting

runner = CliRunner()
CONFIGS = Path(__file__).parents[1] / "data" / "configs"


def test_every_field_carries_type_default_range_and_help():
    for cls, special in ((Hyper, set()), (RunConfig, {"hp", "seeds"})):
        described = {f.name for f, _, _ in described_fields(cls)}
        assert described == {f.name for f in dataclasses.fields(cls)} - special
        for f, typ, _ in described_fields(cls):
            assert typ in (int, float, str, bool)
            assert f.metadata["help"].strip().endswith(".")
            assert f.default is not dataclasses.MISSING


@dataclass(frozen=True)
class _Example:
    count: int = setting(3, "A count.", low=1, high=9)
    rate: float = setting(0.5, "A rate.", low=0.0, high=1.0, low_open=True)
    mode: str = setting("a", "A mode.", choices=("a", "b"))
    flag: bool = setting(True, "A flag.")
    size: int | None = setting(None, "An optional size.", low=1)

    def __post_init__(self):
        check_settings(self)


@pytest.mark.parametrize("bad", [dict(count=0), dict(count=10), dict(count=True), dict(count=2.0),
                                 dict(rate=0.0), dict(rate=math.nan), dict(rate=1.5), dict(rate="x"),
                                 dict(mode="c"), dict(flag=1), dict(size=0)])
def test_check_settings_refuses_each_kind_of_bad_value(bad):
    with pytest.raises(PolaUsageError):
        _Example(**bad)
    _Example(count=9, rate=1.0, mode="b", flag=False, size=5)  # the edges that are allowed


def test_a_new_field_becomes_a_command_line_option():
    """Adding a field is all it takes: the generated options parse into the dataclass."""
    seen = {}
    demo = typer.Typer()

    def command(name: str = typer.Option("x", "--name"), **settings):
        seen.update({k: v for k, v in settings.items() if v is not None})
        _Example(**seen)

    with_options(command, setting_options([_Example]))
    demo.command()(command)
    demo.command("other")(lambda: None)
    r = runner.invoke(demo, ["command", "--count", "4", "--rate", "0.25", "--mode", "b", "--no-flag"])
    assert r.exit_code == 0, r.output
    assert seen == {"count": 4, "rate": 0.25, "mode": "b", "flag": False}


def test_pola_train_offers_every_configuration_field():
    text = runner.invoke(app, ["train", "--help"], terminal_width=400).output
    for cls in (Hyper, RunConfig):
        for f, _, _ in described_fields(cls):
            if f.name in ("game", "algo", "preset"):
                continue  # the argument and the two explicit options
            assert option_name(f.name) in text, f.name


def _configs():
    for preset, table in PRESETS.items():
        for game, algo in table:
            yield preset_config(game, algo, preset)
    yield preset_config("coin", "pola-om", "quick", seeds=(4, 7), eval_batch=33, baseline=False, kl="current-ref",
                        grid=5, lr_in=1e-7, gamma=1.0, backend="cpu")
    yield RunConfig()


@pytest.mark.parametrize("cfg", list(_configs()), ids=lambda c: f"{c.game}-{c.hp.algo}-{c.preset}")
def test_toml_round_trip(cfg):
    text = to_toml(cfg)
    assert config_from_toml(text) == cfg
    assert parse_toml(text)["seeds"] == cfg.seeds


def test_toml_refuses_unknown_names_and_bad_values():
    with pytest.raises(PolaUsageError, match="unknown setting"):
        parse_toml("game = 'ipd'\nlr_inn = 0.1\n")
    with pytest.raises(PolaUsageError, match="unknown setting"):
        parse_toml("[hp]\nupdates = 3\n")
    with pytest.raises(PolaUsageError, match="not valid TOML"):
        parse_toml("game = \n")
    with pytest.raises(PolaUsageError, match="hidden"):
        config_from_toml("hidden = 2.5\n")


def test_print_config_and_config_file_round_trip_through_the_cli(tmp_path):
    args = ["train", "ipd", "--algo", "pola-om", "--preset", "quick", "--seeds", "2-3", "--lr-in", "0.07",
            "--no-baseline", "--eval-batch", "20"]
    r = runner.invoke(app, [*args, "--print-config"])
    assert r.exit_code == 0, r.output
    first = tmp_path / "run.toml"
    first.write_text(r.output)
    cfg = config_from_toml(r.output)
    assert (cfg.hp.algo, cfg.seeds, cfg.hp.lr_in, cfg.hp.baseline, cfg.eval_batch) == ("pola-om", (2, 3), 0.07,
                                                                                        False, 20)
    again = runner.invoke(app, ["train", "ipd", "--config", str(first), "--print-config"])
    assert again.output == r.output
    # an option on the command line overrides the file
    over = runner.invoke(app, ["train", "ipd", "--config", str(first), "--outer-steps", "3", "--print-config"])
    assert config_from_toml(over.output) == dataclasses.replace(cfg, hp=dataclasses.replace(cfg.hp, outer_steps=3))
    assert not list(tmp_path.glob("*.h5"))


def test_a_run_files_stored_configuration_round_trips(tmp_path):
    run = tmp_path / "run.h5"
    args = ["train", "ipd", "--algo", "lola-dice", "--preset", "quick", "--policy", "memory-one", "--updates", "1",
            "--batch-size", "16", "--eval-batch", "16", "--quiet", "--out", str(run)]
    assert runner.invoke(app, args).exit_code == 0
    shown = runner.invoke(app, ["train", "ipd", "--resume", "--out", str(run), "--print-config"])
    assert shown.exit_code == 0, shown.output
    assert config_from_toml(shown.output) == stored_config(run)
    toml = tmp_path / "run.toml"
    toml.write_text(shown.output)
    copy = tmp_path / "copy.h5"
    assert runner.invoke(app, ["train", "ipd", "--config", str(toml), "--quiet", "--out", str(copy)]).exit_code == 0
    assert stored_config(copy) == stored_config(run)


def test_shipped_configuration_files_load():
    """Every TOML file under data/configs is a valid configuration for ``pola train --config``."""
    files = sorted(CONFIGS.glob("*.toml"))
    assert files
    for path in files:
        cfg = config_from_settings(read_toml(path))
        assert cfg.agent_centric and cfg.hp.algo == "loqa", path


def test_fast_loqa_configuration_is_the_quick_preset_with_the_yaml_actor():
    """``loqa_coin_fast.toml`` is what its header says: the quick preset with the actor learning
    rate and entropy weight of the official ``hp/loqa_iclr.yaml``, 2500 updates, every 50 evaluated."""
    path = CONFIGS / "loqa_coin_fast.toml"
    expected = preset_config("coin", "loqa", "quick", updates=2500, eval_every=50, lr_actor=0.003, entropy_beta=0.05)
    assert config_from_settings(read_toml(path)) == expected
