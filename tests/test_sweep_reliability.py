"""A sweep never duplicates or loses a run (issue 14): identity, claims, kills, concurrency.

Each case failed on the code before: a point's id came from how the overrides were
spelled (``seed=0`` or ``output.figures=false`` added made every point new, so a re-run
duplicated every run), two sweeps into one folder both ran every point, and a killed job's
half-finished work was only safe because nothing else ran at the same time.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest

from sim.config import load_config
from sim.sweeps import claims, identity
from sim.sweeps.aggregate import collect, load_table
from sim.sweeps.identity import point_id

ROOT = Path(__file__).resolve().parents[1]
PINNED = "sweep.code_version=tests"  # (an edit elsewhere in the tree during the test cannot change the ids)


def pid_of(*overrides: str) -> str:
    return point_id(load_config(overrides=list(overrides)))


# ---------------------------------------------------------------------------- identity
def test_a_point_is_its_resolved_values_not_the_spelling_of_the_command():
    base = load_config()
    same = [
        [],
        [f"pakistan.tolerance={base.pakistan.tolerance}"],            # a default spelled out
        [f"pakistan.tolerance={int(base.pakistan.tolerance)}"],       # ... as a whole number
        ["seed=0"], ["seed=7"],                                       # the seed is the run, not the point
        ["output.figures=false"], ["output.event_log=false"],         # switches that change no number
        ["sweep.replicates=3", "sweep.retry_failed=true"],            # sweep settings
        [f"months={base.scenario.months}"],                           # the scenario's own length
    ]
    ids = {pid_of(*lines) for lines in same}
    assert len(ids) == 1, same


def test_a_different_value_or_code_version_is_a_different_point():
    base = pid_of()
    assert pid_of("pakistan.tolerance=81") != base
    assert pid_of("months=60") != base
    assert pid_of("metrics.thaw_min_months=4") != base  # a point file holds metrics: their settings count
    assert pid_of("scenario=pressure_first") != base
    assert pid_of("sweep.code_version=other") != pid_of("sweep.code_version=tests") != base
    config = load_config()
    assert point_id(config, design_row=3) != point_id(config, design_row=4)  # design rows are separate points


def test_the_automatic_code_version_follows_the_model_sources(tmp_path, monkeypatch):
    for sub in identity.CODE_DIRS:
        shutil.copytree(identity.PACKAGE_DIR / sub, tmp_path / sub, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(identity, "PACKAGE_DIR", tmp_path)
    identity.code_version.cache_clear()
    try:
        before = identity.code_version()
        identity.code_version.cache_clear()
        assert identity.code_version() == before  # stable when nothing changed
        with open(tmp_path / "model" / "world.py", "a") as fh:
            fh.write("\n# an edit\n")
        identity.code_version.cache_clear()
        assert identity.code_version() != before
    finally:
        identity.code_version.cache_clear()


# ------------------------------------------------------------------------------ claims
def _lock(tmp_path: Path, owner: claims.Owner) -> Path:
    path = tmp_path / "p.lock"
    path.write_text(owner.as_text())
    return path


def test_a_claim_is_granted_to_one_process_only(tmp_path):
    lock = tmp_path / "p.lock"
    assert claims.try_claim(lock, stale_after=60)
    parent = psutil.Process(os.getppid())  # a live process of this host
    lock.write_text(claims.Owner(claims.HOST, parent.pid, parent.create_time()).as_text())
    assert not claims.try_claim(lock, stale_after=60)
    claims.release(lock)  # not ours: left alone
    assert lock.exists()


def test_the_claim_of_a_dead_process_is_broken(tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    started = psutil.Process(gone.pid).create_time() if psutil.pid_exists(gone.pid) else time.time()
    gone.wait()
    lock = _lock(tmp_path, claims.Owner(claims.HOST, gone.pid, started))
    assert claims.try_claim(lock, stale_after=60)
    assert claims.read_owner(lock) == claims.Owner.me()
    # a process id reused by a younger process is not the owner either
    me = psutil.Process(os.getpid())
    lock = _lock(tmp_path, claims.Owner(claims.HOST, me.pid, me.create_time() - 1000))
    assert claims.try_claim(lock, stale_after=60)


def test_another_host_s_claim_is_stale_only_once_it_stops_showing_life(tmp_path):
    other = claims.Owner(socket.gethostname() + "-elsewhere", 12345, 1.0)
    lock = _lock(tmp_path, other)
    assert not claims.try_claim(lock, stale_after=60)
    old = time.time() - 120
    os.utime(lock, (old, old))
    assert claims.try_claim(lock, stale_after=60)


# ------------------------------------------------------------- whole sweeps (subprocess)
GRID = ["months=36", "pakistan.tolerance=40,60,80", "mediators.strength_scale=0.5,1", "sweep.replicates=4", PINNED]


def _sweep(folder: Path, *args: str, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "sim", "-m", *args, f"hydra.sweep.dir={folder}"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def _exactly_once(folder: Path, points: int, seeds: int) -> pd.DataFrame:
    got = collect(folder)
    assert not got.damaged and not got.missing and not got.left_out
    table = load_table(folder)
    assert len(table) == points * seeds
    assert not table.duplicated(["point", "seed"]).any()
    assert not table.duplicated(["pakistan.tolerance", "mediators.strength_scale", "seed"]).any()
    return table


@pytest.mark.slow
def test_a_killed_sweep_rerun_with_defaults_spelled_out_holds_every_run_exactly_once(tmp_path):
    folder = tmp_path / "sweep"
    proc = _sweep(folder, *GRID, "sweep.points_per_job=1", start_new_session=True)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and proc.poll() is None:
        if len(list((folder / "points").glob("*.parquet"))) >= 2:
            os.killpg(proc.pid, signal.SIGKILL)  # the whole sweep, mid-way
            break
        time.sleep(0.05)
    proc.communicate()
    done = len(list((folder / "points").glob("*.parquet")))
    assert done < 6, "the sweep finished before it could be killed; make it longer"

    # the same sweep, spelled differently: a default and the seed written out, a value as 1.0,
    # a setting that changes no result
    again = ["months=36", "pakistan.tolerance=40,60,80", "mediators.strength_scale=0.5,1.0", "sweep.replicates=4",
             PINNED, "seed=0", "output.figures=false", "pakistan.strike_prob=" + str(load_config().pakistan.strike_prob)]
    r = _sweep(folder, *again)
    out, err = r.communicate()
    assert r.returncode == 0, err
    assert f"{6 - done} run, {done} already finished and skipped" in out
    _exactly_once(folder, points=6, seeds=4)
    agg = subprocess.run([sys.executable, "-m", "sim.aggregate", str(folder), "--no-figures", "--strict"], cwd=ROOT,
                         capture_output=True, text=True)
    assert agg.returncode == 0, agg.stderr
    assert "6 points x seeds = 24 runs (0 failed)" in agg.stdout
    assert "missing" not in agg.stderr and "damaged" not in agg.stderr


@pytest.mark.slow
def test_two_identical_sweeps_at_once_never_run_a_point_twice_and_count_truly(tmp_path):
    folder = tmp_path / "sweep"
    procs = [_sweep(folder, *GRID) for _ in range(2)]
    outs = [p.communicate() for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
    ran = 0
    for out, _ in outs:
        report = [line for line in out.splitlines() if line.startswith("Sweep finished")][0]
        assert report.startswith("Sweep finished: 6 points (")
        ran += int(report.split("runs ok")[0].rsplit(";", 1)[1])
    assert ran == 6 * 4, [o for o, _ in outs]  # every run done once, by one of the two
    _exactly_once(folder, points=6, seeds=4)
    assert not list((folder / "points").glob("*.lock"))


@pytest.mark.slow
def test_a_sweep_runs_a_scenario_from_the_user_s_own_config_folder(tmp_path):
    """``--config-dir DIR``: every job searches the folder too, also in joblib's worker processes."""
    scenario = tmp_path / "mine" / "scenario"
    scenario.mkdir(parents=True)
    text = (ROOT / "configs" / "scenario" / "pressure_first.yaml").read_text()
    (scenario / "mine.yaml").write_text(text)
    r = subprocess.run([sys.executable, "-m", "sim", "-m", "--config-dir", str(tmp_path / "mine"), "scenario=mine",
                        "months=12", "pakistan.tolerance=40,80", "sweep.replicates=1", PINNED, "hydra/launcher=joblib",
                        "hydra.launcher.n_jobs=2", f"hydra.sweep.dir={tmp_path / 'sweep'}"],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "2 runs ok, 0 failed" in r.stdout
    assert set(load_table(tmp_path / "sweep")["scenario"]) == {"mine"}
