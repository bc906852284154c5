"""`python -m sim.aggregate`: the tidy table, its statistics (hand-made answers) and figures."""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.sweeps.aggregate import TABLE_NAME, aggregate, aggregate_folder, load_table, main
from sim.sweeps.figures import Axis, _yaml_comment, choose_axes, grid, plot_metric
from sim.sweeps.design import Block, Design, write_design
from sim.analysis.metrics import METRIC_NAMES

ROOT = Path(__file__).resolve().parents[1]
NAN = float("nan")

# A hand-made sweep: x = pakistan.tolerance (40, 80), y = mediators.strength_scale
# (0.5, 1), three seeds per point; values of the metric share_engaged per seed, and
# None for a failed run. Expected statistics are worked out by hand beside each point.
CELLS = {
    (40.0, 0.5): [0.1, 0.2, 0.3],   # mean 0.2, sd 0.1, n 3
    (80.0, 0.5): [0.2, NAN, 0.4],   # undefined once: mean 0.3, sd sqrt(0.02), n 2
    (40.0, 1.0): [NAN, NAN, NAN],   # never defined: mean NaN, sd NaN, n 0
    (80.0, 1.0): [0.5, None, 0.7],  # one failed run: mean 0.6, sd sqrt(0.02), n 2 of 2 ok runs
}


def write_points(folder: Path) -> Path:
    """Point files as sim/sweeps/sweep.py writes them, one per cell of CELLS."""
    pts = folder / "points"
    pts.mkdir(parents=True)
    for k, ((tol, med), values) in enumerate(CELLS.items()):
        rows = []
        for rep, v in enumerate(values):
            metrics = dict.fromkeys(METRIC_NAMES, 1.0)
            metrics["share_engaged"] = NAN if v is None else v
            if v is None:
                metrics = dict.fromkeys(METRIC_NAMES, NAN)
            rows.append({"point": f"p{k}", "mediators.strength_scale": med, "pakistan.tolerance": tol,
                         "base_seed": 0, "replicate": rep, "seed": rep,
                         "status": "failed" if v is None else "ok",
                         "error": "RuntimeError: boom" if v is None else None, **metrics, "config_hash": "h"})
        frame = pd.DataFrame(rows)
        frame["error"] = frame["error"].astype("string")
        frame.to_parquet(pts / f"p{k}.parquet", index=False)
    return folder


@pytest.fixture()
def folder(tmp_path) -> Path:
    return write_points(tmp_path / "sweep")


def test_table_has_one_row_per_run_sorted_by_parameters_and_seed(folder):
    t = load_table(folder)
    assert len(t) == 12
    assert list(t.columns[:8]) == ["point", "mediators.strength_scale", "pakistan.tolerance",
                                   "base_seed", "replicate", "seed", "status", "error"]
    assert set(METRIC_NAMES) <= set(t.columns)
    assert t.iloc[0][["mediators.strength_scale", "pakistan.tolerance", "seed"]].tolist() == [0.5, 40.0, 0]
    assert t.iloc[-1][["mediators.strength_scale", "pakistan.tolerance", "seed"]].tolist() == [1.0, 80.0, 2]
    assert (t["status"] == "failed").sum() == 1


def test_half_written_temp_files_are_not_read(folder):
    (folder / "points" / ".p9.parquet.123.tmp").write_bytes(b"PAR1 half a file")
    assert len(load_table(folder)) == 12


def test_a_copied_point_file_is_never_read_twice(folder):
    shutil.copy(folder / "points" / "p0.parquet", folder / "points" / "copy.parquet")
    assert len(load_table(folder)) == 12  # its rows name point p0, not "copy": the copy is left out
    paths, notes, got = aggregate_folder(folder, figures=False)
    assert [p.name for p, _ in got.damaged] == ["copy.parquet"]
    assert "copied or renamed by hand" in notes[0]
    assert (folder / "points" / "damaged" / "copy.parquet").exists()
    assert not (folder / "points" / "copy.parquet").exists()


def _record(folder: Path, points: list[str], command: str = "python -m sim -m SWEEP") -> None:
    """A design record as the batched sweeper writes it: each point run for seeds 0-2."""
    blocks = [Block(point=p, overrides=[f"pakistan.tolerance={40 + k}", "sweep.replicates=3"], params={},
                    base_seed=0, replicates=3) for k, p in enumerate(points)]
    write_design(folder, Design(invocation="test", code_version="v1", command=command, created="2026-01-01T00:00:00",
                                blocks=blocks, batches=[list(range(len(blocks)))]))


def test_a_damaged_point_file_is_moved_aside_with_the_command_that_redoes_it(folder, capsys):
    _record(folder, ["p0", "p1", "p2", "p3"])
    (folder / "points" / "p1.parquet").write_bytes(b"PAR1 half a file")
    assert main([str(folder), "--no-figures"]) == 0
    err = capsys.readouterr().err
    assert "warning: damaged point file p1.parquet: unreadable" in err
    assert f"redo it with: python -m sim -m pakistan.tolerance=41 sweep.replicates=3 hydra.sweep.dir={folder}" in err
    assert (folder / "points" / "damaged" / "p1.parquet").exists()
    assert "missing: 1 of 4 points" in err  # and, moved aside, its point now counts as missing
    assert set(pd.read_parquet(folder / TABLE_NAME)["point"]) == {"p0", "p2", "p3"}


def test_points_missing_against_the_design_are_reported(folder, capsys):
    _record(folder, ["p0", "p1", "p2", "p3", "p4"], command="python -m sim -m pakistan.tolerance=40,41,42,43,44")
    assert main([str(folder), "--no-figures"]) == 0
    out, err = capsys.readouterr()
    assert "missing: 1 of 5 points of the sweep's design have no results for 3 runs" in err
    assert "python -m sim -m pakistan.tolerance=40,41,42,43,44" in err
    assert "missing point p4 seeds 0-2" in err
    assert "Incomplete: 1 of 5 points" in out
    assert main([str(folder), "--no-figures", "--strict"]) == 1


def test_point_files_no_design_lists_are_left_out(folder, capsys):
    _record(folder, ["p0", "p1", "p2"])  # p3 was made by other code (or another sweep)
    t = load_table(folder)
    assert set(t["point"]) == {"p0", "p1", "p2"}
    assert main([str(folder), "--no-figures"]) == 0
    assert "left out: 1 point files" in capsys.readouterr().err


def test_a_failed_aggregation_leaves_no_stale_table(folder, capsys):
    assert main([str(folder), "--no-figures"]) == 0
    assert (folder / TABLE_NAME).exists()
    for path in (folder / "points").glob("*.parquet"):
        path.write_bytes(b"not parquet")
    assert main([str(folder), "--no-figures"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "4 damaged" in lines[0]
    assert not (folder / TABLE_NAME).exists()  # the old table no longer describes the folder
    assert not list(folder.glob(".*.tmp"))


def test_grid_mean_and_spread_per_cell_by_hand(folder):
    g = grid(load_table(folder), "pakistan.tolerance", "mediators.strength_scale", "share_engaged")
    assert g.xs == [40.0, 80.0] and g.ys == [0.5, 1.0]
    # rows are y (strength 0.5, 1), columns are x (tolerance 40, 80)
    np.testing.assert_allclose(g.mean, [[0.2, 0.3], [NAN, 0.6]])
    np.testing.assert_allclose(g.std, [[0.1, math.sqrt(0.02)], [NAN, math.sqrt(0.02)]])
    assert g.n.tolist() == [[3, 2], [0, 2]]
    assert g.runs.tolist() == [[3, 3], [3, 2]]


def test_one_axis_grid_pools_the_other(folder):
    g = grid(load_table(folder), "pakistan.tolerance", None, "share_engaged")
    # tolerance 40: 0.1, 0.2, 0.3 (the NaNs are undefined); tolerance 80: 0.2, 0.4, 0.5, 0.7
    np.testing.assert_allclose(g.mean, [[0.2, 0.45]])
    assert g.n.tolist() == [[3, 4]]


def test_figure_is_labelled_with_names_and_units(folder):
    t = load_table(folder)
    axes = [Axis("pakistan.tolerance", "Pakistan's tolerance threshold", "fatalities per month"),
            Axis("mediators.strength_scale", "Mediator strength", "x default")]
    fig = plot_metric(t, "share_engaged", axes, title="Test sweep")
    mean_ax, sd_ax = (ax for ax in fig.axes if ax.images)
    mean_cbar, sd_cbar = (ax.images[0].colorbar.ax for ax in (mean_ax, sd_ax))

    def words(text: str) -> str:  # labels are wrapped over lines
        return " ".join(text.split())

    assert "fatalities per month" in words(mean_ax.get_xlabel())
    assert "Mediator strength" in words(mean_ax.get_ylabel())
    assert "fraction of months" in words(mean_cbar.get_ylabel())
    assert "standard deviation" in words(sd_cbar.get_ylabel())
    assert "Share of months Pakistan engaged" in fig.get_suptitle()
    assert "1 failed runs left out" in fig.get_suptitle()
    texts = [t.get_text() for t in mean_ax.texts]
    assert "n/a" in texts and "0.2" in texts


def test_axes_default_to_the_varying_parameters(folder):
    axes = choose_axes(load_table(folder), {})
    assert [a.key for a in axes] == ["mediators.strength_scale", "pakistan.tolerance"]
    declared = {"axes": [{"key": "pakistan.tolerance", "label": "Tolerance", "unit": "deaths/month"},
                         {"key": "mediators.strength_scale", "label": "Mediators", "unit": "x"}]}
    axes = choose_axes(load_table(folder), declared)
    assert [a.key for a in axes] == ["pakistan.tolerance", "mediators.strength_scale"]
    assert axes[0].text == "Tolerance (deaths/month)"


def test_parameter_comment_is_read_from_nested_yaml(tmp_path):
    path = tmp_path / "default.yaml"
    path.write_text("a: 1  # top (x)\nrelations:\n  initial: 0.1   # start value (relations units)\n"
                    "trade:\n  initial: 5     # other (USD)\n")
    assert _yaml_comment(path, ["relations", "initial"]) == "start value (relations units)"
    assert _yaml_comment(path, ["trade", "initial"]) == "other (USD)"
    assert _yaml_comment(path, ["missing"]) is None


def test_aggregate_writes_table_and_figures(folder):
    paths = aggregate(folder, metrics=["share_engaged", "reversal_probability"])
    assert paths["table"] == folder / TABLE_NAME
    pd.testing.assert_frame_equal(pd.read_parquet(paths["table"]), load_table(folder))
    for key in ("share_engaged", "reversal_probability", "overview"):
        assert paths[key].stat().st_size > 0


@pytest.mark.slow
def test_cli_aggregates_a_real_experiment_sweep(tmp_path):
    """End to end: a named experiment (cut down to 2 points), then the aggregate command."""
    sweep_dir = tmp_path / "exp"
    run = subprocess.run([sys.executable, "-m", "sim", "-m", "experiment=cohesion_x_sanctuary",
                          "taliban.cohesion=0.3,0.9", "taliban.ttp_sanctuary=0.5", "months=24",
                          "sweep.replicates=2", "sweep.code_version=tests", f"hydra.sweep.dir={sweep_dir}"],
                         cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    r = subprocess.run([sys.executable, "-m", "sim.aggregate", str(sweep_dir)],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "2 points x seeds = 4 runs (0 failed)" in r.stdout
    t = pd.read_parquet(sweep_dir / TABLE_NAME)
    assert sorted(t["taliban.cohesion"].unique()) == [0.3, 0.9]
    # the experiment's key metrics are drawn; one swept axis gives line plots, no overview
    figures = sorted(p.name for p in (sweep_dir / "figures").glob("*.png"))
    assert "backward_forward_ratio.png" in figures and "overview.png" not in figures


@pytest.mark.slow
def test_cli_fails_with_one_line_on_a_folder_without_points(tmp_path):
    r = subprocess.run([sys.executable, "-m", "sim.aggregate", str(tmp_path)], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "no finished sweep points" in lines[0]
