"""The ``kafkasim`` command: validate as run does, --version, a closed pipe, sweep and plot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY = (
    'SCENARIO = {"name": "tiny", "duration_s": 1.0, "topics": [{"name": "t"}], '
    '"producers": [{"topic": "t", "rate_msgs_s": 200}]}\n'
)


def _kafkasim(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sim.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env=_env(),
    )


def _env() -> dict[str, str]:
    """This process's environment with the worktree first on the path (tests run from tmp)."""
    import os

    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    return line


@pytest.fixture
def tiny(tmp_path) -> Path:
    script = tmp_path / "tiny.py"
    script.write_text(TINY)
    return script


def test_version_prints_the_installed_version():
    from importlib.metadata import version

    done = _kafkasim("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"kafkasim {version('kafka-sim')}"


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ("cluster.coordination=kraft", "cluster.coordination"),
    ],
)
def test_validate_refuses_what_run_refuses(tiny, change, path):
    line = _one_error_line(_kafkasim("validate", str(tiny), "--set", change))
    assert line.startswith(f"error: {path}:") and "not simulated" in line
    assert _one_error_line(_kafkasim("run", str(tiny), "--set", change)) == line


def test_validate_set_changes_the_printed_scenario_and_names_a_bad_path(tiny):
    done = _kafkasim("validate", str(tiny), "--set", "producers.0.config.linger.ms=20")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["producers"][0]["config"]["linger.ms"] == 20
    line = _one_error_line(_kafkasim("validate", str(tiny), "--set", "producers.0.config.ack=1"))
    assert line.startswith("error: producers.0.config.ack:")


def test_a_scenario_that_simulates_nothing_is_warned_about(tmp_path):
    idle = tmp_path / "idle.py"
    idle.write_text('SCENARIO = {"topics": [{"name": "t"}]}\n')
    done = _kafkasim("validate", str(idle))
    assert done.returncode == 0
    assert "warning: the scenario has no producers, consumer_groups or faults" in done.stderr


def test_a_reader_that_goes_away_ends_the_output_without_a_traceback():
    """``kafkasim defaults producer | head``: the pipe is closed before anything is written."""
    child = subprocess.Popen(
        [sys.executable, "-m", "sim.cli", "defaults", "producer"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
    )
    child.stdout.close()
    stderr = child.stderr.read().decode()
    assert child.wait(timeout=60) == 1
    assert stderr == ""


def test_sweep_writes_table_stats_and_plots_resumes_and_plot_redraws(tiny, tmp_path):
    out = tmp_path / "out"
    args = ("sweep", str(tiny), "--grid", "producers.0.config.acks=1,all", "--seeds", "2",
            "--executor", "serial", "--quiet", "--out", str(out))  # fmt: skip
    done = _kafkasim(*args)
    assert done.returncode == 0, done.stderr
    assert "producers.0.config.acks=all" in done.stdout and "throughput_msgs_s" in done.stdout
    table = pd.read_parquet(out / "sweep.parquet")
    assert list(table["producers.0.config.acks"]) == ["1", "1", "all", "all"]
    csv = pd.read_csv(out / "sweep.csv")
    assert list(csv.columns) == list(table.columns)
    assert list(csv["seed"]) == list(table["seed"])
    assert set(pd.read_csv(out / "stats.csv")["metric"]) >= {"throughput_msgs_s"}
    plot = out / "sweep_throughput_msgs_s.png"
    stored = {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*.parquet")}
    assert len(stored) == 4
    plot.unlink()
    again = _kafkasim(*args)  # every run is in the store: nothing is simulated again
    assert again.returncode == 0, again.stderr
    assert {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*.parquet")} == stored
    plot.unlink()
    drawn = _kafkasim("plot", str(out))
    assert drawn.returncode == 0, drawn.stderr
    assert plot.read_bytes().startswith(b"\x89PNG")


def test_plot_redraws_a_saved_run(tiny, tmp_path):
    out = tmp_path / "run"
    assert _kafkasim("run", str(tiny), "--quiet", "--no-plots", "--out", str(out)).returncode == 0
    done = _kafkasim("plot", str(out))
    assert done.returncode == 0, done.stderr
    assert (out / "dashboard.png").is_file() and (out / "throughput.png").is_file()
    assert _one_error_line(_kafkasim("plot", str(tmp_path))).startswith("error: ")


@pytest.mark.parametrize(
    ("grid", "path"),
    [
        ("producers.0.config.acks=1,most", "producers.0.config.acks"),
        ("producers.0.confg.acks=1", "producers.0.confg"),
        ("producers.0.config.acks", "--grid"),
    ],
)
def test_sweep_with_a_bad_grid_fails_in_one_line_naming_the_path(tiny, tmp_path, grid, path):
    out = tmp_path / "out"
    done = _kafkasim("sweep", str(tiny), "--grid", grid, "--executor", "serial", "--out", str(out))
    assert _one_error_line(done).startswith(f"error: {path}:")
    assert not out.exists()


def test_an_interrupted_sweep_says_how_to_resume(tiny, tmp_path, monkeypatch, capsys):
    import importlib

    from sim.cli import EXIT_INTERRUPTED, main

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(importlib.import_module("sim.sweep"), "sweep", interrupted)
    status = main(["sweep", str(tiny), "--quiet", "--out", str(tmp_path / "out")])
    assert status == EXIT_INTERRUPTED == 130
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line == f"interrupted: finished runs are kept in {tmp_path / 'out' / 'runs'}/; " + (
        "the same command resumes"
    )


def test_the_printed_summary_shows_the_mirrors_fields_only_with_mirrors():
    """A run without mirrors prints no mirror_* line (its summary keeps them, NaN: the same
    columns for every run of a sweep); a scenario with mirrors prints them."""
    import math

    from sim.cli import summary_table
    from sim.scenario import Scenario

    single = Scenario.from_dict({"name": "one", "topics": [{"name": "t"}]})
    summary = {"offered_messages": 10.0, "mirrored_messages": math.nan}
    assert "mirrored_messages" not in summary_table(summary, single)
    assert "offered_messages" in summary_table(summary, single)
    regions = Scenario.from_dict(
        {"name": "two", "clusters": [{"name": "east"}, {"name": "west"}],
         "topics": [{"name": "t", "cluster": "east"}],
         "mirrors": [{"source": "east", "target": "west"}]}
    )  # fmt: skip
    assert "mirrored_messages" in summary_table({**summary, "mirrored_messages": 5.0}, regions)


def test_sweep_seeds_take_a_list_and_a_row_is_reproduced_by_run_with_its_seed(
    tiny, tmp_path, monkeypatch
):
    """``--seeds 7,8`` runs those seeds (a count draws others from the scenario's seed); the
    row's seed and grid value given to ``kafkasim run --set`` give the row's summary."""
    import json
    import math

    from sim.cli import main

    monkeypatch.chdir(tmp_path)
    common = ("--executor", "serial", "--quiet", "--no-plots")
    grid = ("--grid", "producers.0.config.acks=1,all")
    assert main(["sweep", str(tiny), *grid, "--seeds", "7,8", *common, "--out", "s"]) == 0
    table = pd.read_parquet("s/sweep.parquet")
    assert list(table["seed"]) == [7, 8, 7, 8]
    assert main(["sweep", str(tiny), "--seeds", "8,", *common, "--out", "one"]) == 0
    assert list(pd.read_parquet("one/sweep.parquet")["seed"]) == [8]
    assert main(["sweep", str(tiny), "--seeds", "1", *common, "--out", "n"]) == 0
    assert list(pd.read_parquet("n/sweep.parquet")["seed"]) != [1]  # drawn from seed 1
    row = table.iloc[3]  # acks=all, seed 8
    sets = ("--set", f"seed={row['seed']}", "--set", "producers.0.config.acks=all")
    assert main(["run", str(tiny), *sets, "--quiet", "--no-plots", "--out", "r"]) == 0
    summary = json.loads(Path("r/summary.json").read_text())["summary"]
    summary = {k: math.nan if v is None else v for k, v in summary.items()}
    assert summary["acked_messages"] > 0
    assert {k: row[k] for k in summary} == pytest.approx(summary, nan_ok=True)


@pytest.mark.parametrize("seeds", ["7,x", "", ",7", "1.5"])
def test_sweep_with_bad_seeds_fails_in_one_line_naming_seeds(tiny, tmp_path, seeds):
    done = _kafkasim("sweep", str(tiny), "--seeds", seeds, "--out", str(tmp_path / "out"))
    assert _one_error_line(done).startswith("error: --seeds: give a count")
