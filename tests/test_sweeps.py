"""Sweeps (`python -m sim -m ...`): launchers agree, failures are recorded, resume, bad specs.

Every sweep here is the same small one unless said otherwise: 2 x 2 points (Pakistan's
tolerance x mediator strength) x 3 seeds, 24 months, written into a pytest tmp folder.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from omegaconf import OmegaConf

import sim
from sim.sweeps.aggregate import load_table
from sim.config import ConfigError, load_config
from sim.analysis.metrics import METRIC_NAMES
from sim.sweeps.sweep import (
    _is_finished,
    check_sweep,
    config_hash,
    experiment_names,
    point_id,
    point_params,
    sweep_settings,
    write_parquet_atomic,
)

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["months=24", "pakistan.tolerance=40,80", "mediators.strength_scale=0.5,1", "sweep.replicates=3"]


def sweep(folder: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run `python -m sim -m ARGS` into ``folder`` from the repository root."""
    return subprocess.run([sys.executable, "-m", "sim", "-m", *args, f"hydra.sweep.dir={folder}"],
                          cwd=ROOT, capture_output=True, text=True, env={**os.environ, **(env or {})})


def finished_files(folder: Path) -> dict[str, tuple[int, int]]:
    """Point files and their (inode, mtime): unchanged when a re-run did not redo them."""
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (folder / "points").glob("*.parquet")}


@pytest.fixture(scope="module")
def basic_table(tmp_path_factory) -> pd.DataFrame:
    """The small sweep through Hydra's basic launcher (one process, jobs in turn)."""
    folder = tmp_path_factory.mktemp("basic")
    r = sweep(folder, *SMALL)
    assert r.returncode == 0, r.stderr
    return load_table(folder)


# ------------------------------------------------------------------ table and seeds
def test_one_row_per_point_and_seed_with_every_metric(basic_table):
    t = basic_table
    assert len(t) == 4 * 3
    assert not t.duplicated(["point", "seed"]).any()
    assert t["point"].nunique() == 4
    assert set(t["pakistan.tolerance"]) == {40.0, 80.0}
    assert set(t["mediators.strength_scale"]) == {0.5, 1.0}
    assert (t["status"] == "ok").all()
    assert set(METRIC_NAMES) <= set(t.columns)
    # replicate seeds are base seed + 0, 1, 2 at every point (common random numbers)
    for _, runs in t.groupby("point"):
        assert sorted(runs["seed"]) == [0, 1, 2]
        assert (runs["seed"] == runs["base_seed"] + runs["replicate"]).all()


def test_a_sweep_run_equals_the_same_single_run(basic_table):
    row = basic_table[(basic_table["pakistan.tolerance"] == 80.0) & (basic_table["mediators.strength_scale"] == 0.5)
                      & (basic_table["seed"] == 2)].iloc[0]
    frame = sim.run(seed=2, months=24, overrides={"pakistan.tolerance": 80, "mediators.strength_scale": 0.5})
    expected = sim.pattern_metrics(frame)
    for name in METRIC_NAMES:
        assert (math.isnan(expected[name]) and math.isnan(row[name])) or row[name] == expected[name], name


# -------------------------------------------------------------- launchers agree
def test_joblib_launcher_gives_the_identical_table(tmp_path, basic_table):
    r = sweep(tmp_path, *SMALL, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2")
    assert r.returncode == 0, r.stderr
    pd.testing.assert_frame_equal(load_table(tmp_path), basic_table)


def test_ray_launcher_on_a_local_cluster_gives_the_identical_table(tmp_path, basic_table, local_ray):
    r = sweep(tmp_path, *SMALL, "hydra/launcher=ray_cluster", f"hydra.launcher.ray.init.address={local_ray.address}",
              env=local_ray.env)
    assert r.returncode == 0, r.stderr
    assert "Connected to Ray cluster" in r.stderr + r.stdout
    pd.testing.assert_frame_equal(load_table(tmp_path), basic_table)


def test_submitit_launcher_gives_the_identical_table(tmp_path, basic_table):
    """submitit's local executor: the code path of the SLURM launcher, without SLURM."""
    r = sweep(tmp_path, *SMALL, "hydra/launcher=submitit_local")
    assert r.returncode == 0, r.stderr
    pd.testing.assert_frame_equal(load_table(tmp_path), basic_table)


def test_slurm_launcher_config_is_ready():
    from hydra import compose, initialize_config_dir

    from sim.config import CONFIG_DIR

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
        cfg = compose("config", overrides=["hydra/launcher=slurm", "hydra.launcher.partition=short"],
                      return_hydra_config=True)
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("submitit_launcher.SlurmLauncher")
    assert launcher.partition == "short"
    assert launcher.cpus_per_task == 1
    assert OmegaConf.to_container(launcher)["submitit_folder"].startswith("${hydra.sweep.dir}/")


# ----------------------------------------------------------------- fault tolerance
def test_a_failing_run_is_recorded_and_the_sweep_goes_on(tmp_path):
    # points with base seeds 0 and 3 run seeds 0-2 and 3-5; the run with seed 4 raises
    args = ["months=24", "pakistan.tolerance=40,80", "seed=0,3", "sweep.replicates=3"]
    r = sweep(tmp_path, *args, "sweep.fail_on_seed=4")
    assert r.returncode == 0, r.stderr
    assert "10 runs ok, 2 failed" in r.stdout
    assert r.stdout.count("FAILED job") == 2
    t = load_table(tmp_path)
    assert len(t) == 4 * 3
    failed = t[t["status"] == "failed"]
    assert list(failed["seed"]) == [4, 4]
    assert failed["error"].str.contains("DeliberateFailure").all()
    assert failed[list(METRIC_NAMES)].isna().all().all()
    ok = t[t["status"] == "ok"]
    assert ok["error"].isna().all()
    assert ok["share_engaged"].notna().all()

    # with retry_failed a re-run redoes only the two points that had a failure
    before = finished_files(tmp_path)
    r = sweep(tmp_path, *args, "sweep.retry_failed=true")
    assert r.returncode == 0, r.stderr
    assert "2 run, 2 already finished and skipped" in r.stdout
    after = finished_files(tmp_path)
    assert sum(after[k] == before[k] for k in before) == 2
    t = load_table(tmp_path)
    assert len(t) == 4 * 3
    assert (t["status"] == "ok").all()


def test_an_interrupted_sweep_resumes_without_redoing_or_duplicating(tmp_path, basic_table):
    # job #2 dies while writing its file, as if the sweep were killed there
    r = sweep(tmp_path, *SMALL, "sweep.exit_in_job=2")
    assert r.returncode != 0
    before = finished_files(tmp_path)
    assert len(before) == 2
    assert list((tmp_path / "points").glob(".*.tmp")), "the killed job should leave a half-written temp file"
    assert len(load_table(tmp_path)) == 2 * 3  # the half file is never read as a result

    r = sweep(tmp_path, *SMALL)
    assert r.returncode == 0, r.stderr
    assert "2 run, 2 already finished and skipped" in r.stdout
    after = finished_files(tmp_path)
    assert {k: after[k] for k in before} == before  # finished points not redone
    assert len(after) == 4
    assert not list((tmp_path / "points").glob(".*.tmp"))
    pd.testing.assert_frame_equal(load_table(tmp_path), basic_table)

    r = sweep(tmp_path, *SMALL)
    assert "0 run, 4 already finished and skipped" in r.stdout
    assert finished_files(tmp_path) == after
    assert len(load_table(tmp_path)) == 4 * 3


def test_a_point_file_counts_as_finished_only_for_the_same_config(tmp_path):
    path = tmp_path / "p.parquet"
    rows = pd.DataFrame({"point": ["p", "p"], "seed": [0, 1], "status": ["ok", "failed"], "config_hash": ["h1", "h1"]})
    write_parquet_atomic(rows, path)
    assert not list(tmp_path.glob(".*.tmp"))
    assert _is_finished(path, "h1", retry_failed=False)
    assert not _is_finished(path, "h2", retry_failed=False)  # config changed since: redo, replacing the file
    assert not _is_finished(path, "h1", retry_failed=True)   # it had a failed run
    assert not _is_finished(tmp_path / "missing.parquet", "h1", retry_failed=False)
    (tmp_path / "half.parquet").write_bytes(b"PAR1 half a file")
    assert not _is_finished(tmp_path / "half.parquet", "h1", retry_failed=False)


# ------------------------------------------------------------ bad specifications
@pytest.mark.parametrize("spec, says", [
    ("pakistan.tolerence=1,2", "pakistan.tolerence: unknown parameter; did you mean pakistan.tolerance?"),
    ("pakistan.tolerance=range(5,5)", "pakistan.tolerance: the sweep range(5,5) is empty"),
    ("pakistan.tolerance=10,-5", "pakistan.tolerance: -5.0 is out of range"),
    ("experiment=no_such_experiment", "experiment: unknown experiment 'no_such_experiment'"),
])
def test_a_bad_sweep_fails_at_once_with_one_line(tmp_path, spec, says):
    folder = tmp_path / "sweep"
    r = sweep(folder, "months=24", spec)
    assert r.returncode == 2
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("error: ") and says in lines[0]
    assert not folder.exists()  # no job ran


@pytest.mark.parametrize("spec, says", [
    (["pakistan.tolerance=interval(0,1)"], "not a list of values"),
    (["pakistan.tolerance=range(5"], "cannot read this override"),
    (["pakistan.tolerance=40,40.0"], "lists one point twice"),
    (["sweep.replicates=2,3"], "sweep settings cannot be swept"),
    (["experiment=tolerance_x_mediation,spoilers_x_trust"], "one experiment per sweep"),
    (["sweep.replicates=0"], "sweep.replicates: 0 is out of range"),
    (["experiment=spoilers_x_trust", "militants.spoiler_scale=1,-2"], "militants.spoiler_scale: -2.0 is out of range"),
    (["taliban.cohesion=0.5,1.5"], "taliban.cohesion: 1.5 is out of range"),
])
def test_check_sweep_refuses_bad_specifications(spec, says):
    with pytest.raises(ConfigError) as err:
        check_sweep(spec)
    assert says in str(err.value)
    assert "\n" not in str(err.value)


# -------------------------------------------------------------------- experiments
@pytest.mark.parametrize("name", experiment_names())
def test_named_experiments_are_valid_two_axis_sweeps(name):
    jobs = check_sweep([f"experiment={name}"])
    cfg = load_config(overrides=[f"experiment={name}"])
    axes = [a["key"] for a in cfg.extras["experiment"]["axes"]]
    assert len(axes) == 2
    for key in axes:  # each declared axis is swept over at least two values
        values = {line for job in jobs for line in job if line.startswith(f"{key}=")}
        assert len(values) >= 2, key
    assert len(jobs) == len({tuple(j) for j in jobs})


def test_the_required_experiments_exist():
    assert {"tolerance_x_mediation", "cohesion_x_sanctuary", "spoilers_x_trust"} <= set(experiment_names())


# ------------------------------------------------------------------ point identity
def test_point_identity_is_the_typed_override_set():
    cfg = load_config(overrides=["pakistan.tolerance=40"])
    a = point_params(["pakistan.tolerance=40", "sweep.replicates=5", "experiment=tolerance_x_mediation"], cfg)
    b = point_params(["pakistan.tolerance=40.0"], cfg)
    assert a == b == {"pakistan.tolerance": 40.0}
    assert point_id(a) == point_id(b)
    assert point_id(a) != point_id({"pakistan.tolerance": 41.0})


def test_config_hash_ignores_bookkeeping_but_not_replicates():
    from sim.config import compose

    base = config_hash(compose(overrides=["months=24"]))
    assert config_hash(compose(overrides=["months=24", "sweep.progress=false", "sweep.keep_runs=true"])) == base
    assert config_hash(compose(overrides=["months=24", "sweep.replicates=4"])) != base
    assert config_hash(compose(overrides=["months=25"])) != base


def test_sweep_settings_are_checked():
    from sim.config import compose

    assert sweep_settings(compose(overrides=["sweep.replicates=7"])).replicates == 7
    with pytest.raises(ConfigError, match="sweep.replicates"):
        sweep_settings(compose(overrides=["sweep.replicates=-1"]))
