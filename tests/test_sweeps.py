"""Sweeps (`python -m sim -m ...`): launchers agree, batching changes nothing, failures are
recorded, resume, bad specs.

Every subprocess sweep here is the same small one unless said otherwise: 2 x 2 points
(Pakistan's tolerance x mediator strength) x 3 seeds, 24 months, written into a pytest
tmp folder. ``sweep.code_version`` is pinned so that an edit elsewhere in the working tree
during a test run cannot change the points' identity between two sweeps of one test
(tests/test_sweep_reliability.py tests the automatic version).
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
from sim.analysis.metrics import METRIC_NAMES
from sim.config import ConfigError, load_config
from sim.sweeps.aggregate import load_table
from sim.sweeps.design import Block
from sim.sweeps.files import done_seeds
from sim.sweeps.sweep import check_sweep, experiment_names, sweep_settings, write_parquet_atomic
from sim.sweeps.sweeper import make_batches

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["months=24", "pakistan.tolerance=40,80", "mediators.strength_scale=0.5,1", "sweep.replicates=3",
         "sweep.code_version=tests"]


def sweep(folder: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run `python -m sim -m ARGS` into ``folder`` from the repository root."""
    return subprocess.run([sys.executable, "-m", "sim", "-m", *args, f"hydra.sweep.dir={folder}"],
                          cwd=ROOT, capture_output=True, text=True, env={**os.environ, **(env or {})})


def finished_files(folder: Path) -> dict[str, tuple[int, int]]:
    """Point files and their (inode, mtime): unchanged when a re-run did not redo them."""
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (folder / "points").glob("*.parquet")}


@pytest.fixture(scope="module")
def basic_table(tmp_path_factory) -> pd.DataFrame:
    """The small sweep through Hydra's basic launcher (one process; batched: one job)."""
    folder = tmp_path_factory.mktemp("basic")
    r = sweep(folder, *SMALL)
    assert r.returncode == 0, r.stderr
    assert "4 points (4 run, 0 already finished and skipped); 12 runs ok, 0 failed" in r.stdout
    return load_table(folder)


# ------------------------------------------------------------------ table and seeds
@pytest.mark.slow
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


@pytest.mark.slow
def test_a_sweep_run_equals_the_same_single_run(basic_table):
    row = basic_table[(basic_table["pakistan.tolerance"] == 80.0) & (basic_table["mediators.strength_scale"] == 0.5)
                      & (basic_table["seed"] == 2)].iloc[0]
    frame = sim.run(seed=2, months=24, overrides={"pakistan.tolerance": 80, "mediators.strength_scale": 0.5})
    expected = sim.pattern_metrics(frame)
    for name in METRIC_NAMES:
        assert (math.isnan(expected[name]) and math.isnan(row[name])) or row[name] == expected[name], name


# ------------------------------------------------------- batching and launchers agree
@pytest.mark.slow
def test_unbatched_jobs_give_the_identical_table(tmp_path, basic_table):
    """One point per job, and Hydra's own basic sweeper (no batching at all): the same table."""
    r = sweep(tmp_path / "one", *SMALL, "sweep.points_per_job=1")
    assert r.returncode == 0, r.stderr
    assert "Launching 4 jobs" in r.stderr + r.stdout
    pd.testing.assert_frame_equal(load_table(tmp_path / "one"), basic_table)
    r = sweep(tmp_path / "basic", *SMALL, "hydra/sweeper=basic")
    assert r.returncode == 0, r.stderr
    assert "12 runs ok, 0 failed" in r.stdout
    pd.testing.assert_frame_equal(load_table(tmp_path / "basic"), basic_table)


@pytest.mark.slow
@pytest.mark.parametrize("batching", ["sweep.points_per_job=2", "sweep.points_per_job=null"])
def test_joblib_launcher_gives_the_identical_table(tmp_path, basic_table, batching):
    """Two points a job; and automatic batching: one job per worker, helping each other."""
    r = sweep(tmp_path, *SMALL, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", batching)
    assert r.returncode == 0, r.stderr
    assert "is launching 2 jobs" in r.stderr + r.stdout  # 4 points: 2 a job, or 1 job per worker
    assert "4 points (4 run, 0 already finished and skipped); 12 runs ok" in r.stdout  # each point reported once
    pd.testing.assert_frame_equal(load_table(tmp_path), basic_table)
    assert not list(tmp_path.glob("*/.hydra")), "jobs write no .hydra folder unless hydra.output_subdir is set"


@pytest.mark.slow
def test_ray_launcher_on_a_local_cluster_gives_the_identical_table(tmp_path, basic_table, local_ray):
    r = sweep(tmp_path, *SMALL, "hydra/launcher=ray_cluster", f"hydra.launcher.ray.init.address={local_ray.address}",
              env=local_ray.env)
    assert r.returncode == 0, r.stderr
    assert "Connected to Ray cluster" in r.stderr + r.stdout
    pd.testing.assert_frame_equal(load_table(tmp_path), basic_table)


@pytest.mark.slow
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
    assert cfg.hydra.sweeper._target_.endswith("BatchedSweeper")  # the project's sweeper is the default


def _block(point: str, scenario: str = "baseline", base: int = 0) -> Block:
    return Block(point=point, overrides=[f"scenario={scenario}", f"seed={base}"], params={}, base_seed=base,
                 replicates=3)


def test_batches_keep_a_point_together_and_never_mix_group_choices():
    blocks = [_block("a"), _block("b"), _block("a", base=3), _block("c"), _block("d", "pressure_first"),
              _block("e", "pressure_first")]
    batches = make_batches(blocks, per_job=2)
    assert sorted(i for b in batches for i in b) == list(range(len(blocks)))  # every block once
    for batch in batches:
        assert len({blocks[i].overrides[0] for i in batch}) == 1  # one scenario a job (Hydra composes it once)
    assert [b for b in batches if 0 in b][0] == [0, 2]  # both seed blocks of point a in one job
    assert make_batches(blocks, per_job=100) == [[0, 2, 1, 3], [4, 5]]


# ----------------------------------------------------------------- fault tolerance
@pytest.mark.slow
def test_a_failing_run_is_recorded_and_the_batched_sweep_goes_on(tmp_path):
    # points with base seeds 0 and 3 run seeds 0-2 and 3-5; the run with seed 4 raises
    args = ["months=24", "pakistan.tolerance=40,80", "seed=0,3", "sweep.replicates=3", "sweep.code_version=tests",
            "sweep.points_per_job=2"]
    r = sweep(tmp_path, *args, "sweep.fail_on_seed=4")
    assert r.returncode == 0, r.stderr
    assert "10 runs ok, 2 failed" in r.stdout
    assert r.stdout.count("FAILED point") == 2
    t = load_table(tmp_path)
    assert len(t) == 4 * 3 and t["point"].nunique() == 2  # seed blocks of one point share its file
    failed = t[t["status"] == "failed"]
    assert list(failed["seed"]) == [4, 4]
    assert failed["error"].str.contains("DeliberateFailure").all()
    assert failed[list(METRIC_NAMES)].isna().all().all()
    ok = t[t["status"] == "ok"]
    assert ok["error"].isna().all()
    assert ok["share_engaged"].notna().all()

    # with retry_failed a re-run redoes only the two failed runs
    r = sweep(tmp_path, *args, "sweep.retry_failed=true")
    assert r.returncode == 0, r.stderr
    assert "2 run, 2 already finished and skipped); 2 runs ok, 0 failed" in r.stdout
    t = load_table(tmp_path)
    assert len(t) == 4 * 3
    assert (t["status"] == "ok").all()


@pytest.mark.slow
def test_an_interrupted_batched_sweep_resumes_without_redoing_or_duplicating(tmp_path, basic_table):
    # one point per job; job #2 dies while writing its file, as if the sweep were killed there
    args = [*SMALL, "sweep.points_per_job=1"]
    r = sweep(tmp_path, *args, "sweep.exit_in_job=2")
    assert r.returncode != 0
    before = finished_files(tmp_path)
    assert len(before) == 2
    assert list((tmp_path / "points").glob(".*.tmp")), "the killed job should leave a half-written temp file"
    assert list((tmp_path / "points").glob("*.lock")), "... and its claim on the point"
    assert len(load_table(tmp_path)) == 2 * 3  # the half file is never read as a result

    r = sweep(tmp_path, *args)
    assert r.returncode == 0, r.stderr
    assert "2 run, 2 already finished and skipped" in r.stdout  # the dead job's claim was stale
    after = finished_files(tmp_path)
    assert {k: after[k] for k in before} == before  # finished points not redone
    assert len(after) == 4
    assert not list((tmp_path / "points").glob("*.lock"))
    pd.testing.assert_frame_equal(load_table(tmp_path), basic_table)

    r = sweep(tmp_path, *SMALL)  # the default batching: still nothing to do
    assert "0 run, 4 already finished and skipped" in r.stdout
    assert finished_files(tmp_path) == after


@pytest.mark.slow
def test_more_replicates_later_run_only_the_new_seeds(tmp_path):
    args = ["months=24", "pakistan.tolerance=40,80", "sweep.code_version=tests"]
    assert sweep(tmp_path, *args, "sweep.replicates=2").returncode == 0
    r = sweep(tmp_path, *args, "sweep.replicates=3")
    assert r.returncode == 0, r.stderr
    assert "2 runs ok, 0 failed" in r.stdout  # seed 2 at each point, not 0-2 again
    t = load_table(tmp_path)
    assert sorted(t.groupby("point")["seed"].apply(list).iloc[0]) == [0, 1, 2]


def test_seeds_already_in_a_point_file_are_not_run_again(tmp_path):
    path = tmp_path / "p.parquet"
    rows = pd.DataFrame({"point": ["p", "p"], "base_seed": [0, 0], "replicate": [0, 1], "seed": [0, 1],
                         "status": ["ok", "failed"], "error": [None, "boom"]})
    write_parquet_atomic(rows, path)
    assert not list(tmp_path.glob(".*.tmp"))
    frame = pd.read_parquet(path)
    assert done_seeds(frame, retry_failed=False) == {0, 1}
    assert done_seeds(frame, retry_failed=True) == {0}  # a failed run is redone on request
    assert done_seeds(None, retry_failed=False) == set()


# ------------------------------------------------------------ bad specifications
@pytest.mark.slow
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
    (["months=null,120"], "lists one point twice"),  # the scenario's own length, spelled out
    (["sweep.replicates=2,3"], "sweep settings cannot be swept"),
    (["experiment=tolerance_x_mediation,spoilers_x_trust"], "one experiment per sweep"),
    (["sweep.replicates=0"], "sweep.replicates: 0 is out of range"),
    (["experiment=spoilers_x_trust", "militants.spoiler_scale=1,-2"], "militants.spoiler_scale: -2.0 is out of range"),
    (["taliban.cohesion=0.5,1.5"], "taliban.cohesion: 1.5 is out of range"),
    (["seed=0,2", "sweep.replicates=3"], "overlapping seeds (0-2 and 2-4)"),
])
def test_check_sweep_refuses_bad_specifications(spec, says):
    with pytest.raises(ConfigError) as err:
        check_sweep(spec)
    assert says in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("spec, says", [
    (["experiment=policy_search", "pakistan.tolerance=interval(-5.0,160.0)"],
     "pakistan.tolerance: -5.0 is out of range"),
    (["experiment=policy_search", "pakistan.tolerence=interval(40.0,160.0)"], "pakistan.tolerence: unknown parameter"),
    (["experiment=policy_search", "pakistan.tolerance=interval(160.0,40.0)"], "is empty"),
    (["experiment=policy_search", "pakistan.strike_prob=choice(0.1,1.5)"], "pakistan.strike_prob: 1.5 is out of range"),
    (["experiment=policy_search", "sweep.replicates=choice(1,2)"], "sweep.replicates: cannot be searched"),
])
def test_a_search_space_is_checked_against_the_schema(spec, says):
    with pytest.raises(ConfigError) as err:
        check_sweep(spec)
    assert says in str(err.value) and "\n" not in str(err.value)


def test_a_valid_search_is_accepted_without_expanding_a_grid():
    assert check_sweep(["experiment=policy_search"]) == []  # Optuna proposes its points; nothing to expand


# -------------------------------------------------------------------- experiments
@pytest.mark.parametrize("name", [n for n in experiment_names() if n != "policy_search"])
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


def test_sweep_settings_are_checked():
    from sim.config import compose

    assert sweep_settings(compose(overrides=["sweep.replicates=7"])).replicates == 7
    with pytest.raises(ConfigError, match="sweep.replicates"):
        sweep_settings(compose(overrides=["sweep.replicates=-1"]))
    with pytest.raises(ConfigError, match="sweep.points_per_job"):
        sweep_settings(compose(overrides=["sweep.points_per_job=0"]))


def test_the_joblib_workers_are_started_with_the_launcher_s_own_settings():
    """joblib reuses its workers only for the same settings: the head start must use the launcher's."""
    from sim.config.loading import compose_with_hydra_settings
    from sim.sweeps.warmup import joblib_settings

    assert joblib_settings(compose_with_hydra_settings([])) is None  # the basic launcher: nothing to start
    params = joblib_settings(compose_with_hydra_settings(["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]))
    assert params["n_jobs"] == 2 and params["backend"] == "loky" and "_target_" not in params
    assert params["pre_dispatch"] == "2*n_jobs" and params["batch_size"] == "auto"


def test_a_point_that_cannot_be_built_in_its_job_is_recorded_and_the_batch_goes_on(tmp_path):
    """E.g. its design file changed after the sweep was checked: every run of it is recorded as failed."""
    from sim.config import compose
    from sim.sweeps.design import Design, write_design
    from sim.sweeps.files import point_path, points_dir, read_point
    from sim.sweeps.sweep import make_block, point_config, run_batch

    good = ["pakistan.tolerance=40", "months=12", "sweep.replicates=2", "sweep.code_version=tests"]
    ok_block = make_block(good, point_config(good))
    bad = Block(point="0123456789abcdef", overrides=["pakistan.tolerance=-5", *good[1:]],
                params={"pakistan.tolerance": -5.0}, base_seed=0, replicates=2)
    write_design(tmp_path, Design(invocation="inv", code_version="pinned:tests", command="python -m sim -m ...",
                                  created="2026-01-01T00:00:00", blocks=[bad, ok_block], batches=[[0, 1]]))
    points_dir(tmp_path).mkdir()
    settings = sweep_settings(compose(overrides=["sweep.invocation=inv", "sweep.batch=0", "sweep.points_per_job=2"]))
    done = run_batch(tmp_path, settings, die=False)
    assert [(d["ok"], d["failed"]) for d in done] == [(0, 2), (2, 0)]
    rows = read_point(point_path(tmp_path, bad.point))
    assert list(rows["status"]) == ["failed", "failed"]
    assert rows["error"].str.contains("pakistan.tolerance: -5.0 is out of range").all()
    assert (read_point(point_path(tmp_path, ok_block.point))["status"] == "ok").all()


@pytest.mark.slow  # starts worker processes
def test_a_finished_sweep_s_idle_joblib_workers_are_killed_at_once():
    """The sweeper kills the workers joblib keeps for reuse once every job has returned
    (instead of loky's polite shutdown at exit); with no executor it does nothing and
    starts none."""
    import sys

    import psutil
    from joblib import Parallel, delayed

    from sim.sweeps.warmup import stop

    stop()  # none yet (or a previous test's): nothing is created
    Parallel(n_jobs=2, backend="loky")(delayed(abs)(-i) for i in range(4))
    workers = [p for p in psutil.Process().children(recursive=True) if "LokyProcess" in " ".join(p.cmdline())]
    assert workers, "joblib kept no worker to reuse"
    stop()
    _, alive = psutil.wait_procs(workers, timeout=10)
    assert not alive
    stop()  # twice: the executor is gone, nothing is started again
    module = sys.modules["joblib.externals.loky.reusable_executor"]
    assert getattr(module, "_executor", None) is None or module._executor._flags.shutdown
