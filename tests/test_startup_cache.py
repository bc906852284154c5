"""Compositions kept between processes (issue 13, a sweep's start-up): ``sim.config.cache.composed``.

A process that finds a composition on disk must get exactly what composing afresh
gives (configs, hydra settings, frames, error messages); an edited config file must
never be answered from an older entry, even one edited without changing its time or
size; a damaged entry or a folder that cannot be written is never an error. Each test
here uses its own cache folder, and forgets the process's own caches to act as a new
process would.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from omegaconf import OmegaConf

import sim
from sim.config import ConfigError, cache, compose, load_config
from sim.config.loading import add_config_dir, compose_with_hydra_settings, remove_config_dir
from sim.sweeps.table import load_table

ROOT = Path(__file__).resolve().parents[1]
CASES = [  # (scenario, overrides): group choices, values, events, an added key, a deletion
    ("baseline", None),
    ("pressure_first", {"pakistan.tolerance": 55}),
    (None, ["scenario=china_mediation", "mediators.parties.china.strength=0.9"]),
    ("history_2021_2025", {"history.mode": "free"}),
    ("baseline", ["+scenario.events=[{date: '+2', target: pakistan.strikes, value: true, months: 1}]"]),
    ("baseline", ["~scenario.events"]),
]


def _as_new_process() -> None:
    """Forget what this process keeps in memory, so the next composition reads the disk (or composes)."""
    cache.clear()
    cache.content_digest.cache_clear()


@pytest.fixture
def disk(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "compositions"
    monkeypatch.setenv(cache.DISK_ENV, str(folder))
    _as_new_process()
    yield folder
    _as_new_process()


def _entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.pickle")) if folder.is_dir() else []


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_a_composition_read_from_disk_equals_one_composed_afresh(disk, monkeypatch, case):
    scenario, overrides = case
    monkeypatch.setenv(cache.DISK_ENV, "off")
    _as_new_process()
    fresh_raw = OmegaConf.to_container(compose(scenario, 3, 24, overrides), resolve=False)
    fresh = load_config(scenario, 3, 24, overrides)
    monkeypatch.setenv(cache.DISK_ENV, str(disk))
    _as_new_process()
    load_config(scenario, 3, 24, overrides)  # writes the entries
    assert _entries(disk)
    _as_new_process()
    hits = cache.disk_stats["hits"]
    assert load_config(scenario, 3, 24, overrides) == fresh
    assert OmegaConf.to_container(compose(scenario, 3, 24, overrides), resolve=False) == fresh_raw
    assert cache.disk_stats["hits"] > hits, "the second process-like load did not read the disk"


def test_hydra_settings_read_from_disk_equal_fresh_ones_and_keep_their_types(disk, monkeypatch):
    lines = ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "hydra.sweep.dir=/tmp/somewhere"]
    monkeypatch.setenv(cache.DISK_ENV, "off")
    fresh = compose_with_hydra_settings(lines)
    monkeypatch.setenv(cache.DISK_ENV, str(disk))
    compose_with_hydra_settings(lines)
    hits = cache.disk_stats["hits"]
    cached = compose_with_hydra_settings(lines)
    assert cache.disk_stats["hits"] == hits + 1
    assert OmegaConf.to_yaml(cached) == OmegaConf.to_yaml(fresh)
    assert OmegaConf.is_struct(cached) and OmegaConf.get_type(cached.hydra) is OmegaConf.get_type(fresh.hydra)
    with pytest.raises(Exception, match="not a valid bool"):  # Hydra's typed schema, as after a fresh composition
        cached.hydra.job.chdir = "maybe"
    cached.hydra.launcher.n_jobs = 7  # the caller's own copy: the next reader is not affected
    assert compose_with_hydra_settings(lines).hydra.launcher.n_jobs == 2


def test_frames_are_identical_with_and_without_the_disk_cache(disk, monkeypatch):
    monkeypatch.setenv(cache.DISK_ENV, "off")
    _as_new_process()
    without = sim.run(scenario="pressure_first", seed=4, months=24, overrides={"taliban.cohesion": 0.4})
    monkeypatch.setenv(cache.DISK_ENV, str(disk))
    _as_new_process()
    sim.run(scenario="pressure_first", seed=4, months=24, overrides={"taliban.cohesion": 0.4})
    _as_new_process()
    hits = cache.disk_stats["hits"]
    cached = sim.run(scenario="pressure_first", seed=4, months=24, overrides={"taliban.cohesion": 0.4})
    assert cache.disk_stats["hits"] > hits
    pd.testing.assert_frame_equal(cached, without)


@pytest.fixture
def user_folder(tmp_path):
    folder = tmp_path / "mine"
    (folder / "scenario").mkdir(parents=True)
    add_config_dir(folder)
    yield folder
    remove_config_dir(folder)


def _write_scenario(folder: Path, tolerance: str) -> Path:
    path = folder / "scenario" / "mine.yaml"
    path.write_text(f"# @package _global_\ndefaults:\n  - baseline\n  - _self_\n\nscenario:\n  name: mine\n"
                    f"pakistan:\n  tolerance: {tolerance}\n")
    return path


def test_an_edited_config_file_is_composed_again(disk, user_folder):
    _write_scenario(user_folder, "41.0")
    assert load_config("mine").pakistan.tolerance == 41.0
    _write_scenario(user_folder, "52.25")  # (another size: a new key in this process too)
    assert load_config("mine").pakistan.tolerance == 52.25
    _as_new_process()
    assert load_config("mine").pakistan.tolerance == 52.25


def test_an_edit_that_keeps_the_file_s_time_and_size_is_still_seen_by_a_new_process(disk, user_folder):
    path = _write_scenario(user_folder, "41.0")
    assert load_config("mine").pakistan.tolerance == 41.0
    before = path.stat()
    _write_scenario(user_folder, "47.0")  # same length
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size and path.stat().st_mtime_ns == before.st_mtime_ns
    _as_new_process()
    assert load_config("mine").pakistan.tolerance == 47.0  # the entry is keyed on the file's content


@pytest.mark.parametrize("damage", [b"", b"not a pickle at all", b"\x80\x05garbage"], ids=["empty", "text", "truncated"])
def test_a_damaged_entry_is_ignored_and_written_again(disk, damage):
    expected = load_config("pressure_first", overrides={"pakistan.tolerance": 33})
    entries = _entries(disk)
    assert entries
    for entry in entries:
        entry.write_bytes(damage)
    _as_new_process()
    unreadable = cache.disk_stats["unreadable"]
    assert load_config("pressure_first", overrides={"pakistan.tolerance": 33}) == expected
    assert cache.disk_stats["unreadable"] > unreadable
    _as_new_process()
    hits = cache.disk_stats["hits"]
    assert load_config("pressure_first", overrides={"pakistan.tolerance": 33}) == expected
    assert cache.disk_stats["hits"] > hits, "the damaged entry was not written again"


def test_an_entry_for_another_key_under_the_same_name_is_not_used(disk):
    load_config("baseline")
    entry = _entries(disk)[0]
    cfg = compose("pressure_first")
    import pickle

    entry.write_bytes(pickle.dumps(("some other key", cfg)))
    _as_new_process()
    assert load_config("baseline").scenario.name == "baseline"


def test_a_folder_that_cannot_be_written_is_no_error(tmp_path, monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(cache.DISK_ENV, str(blocker / "compositions"))
    _as_new_process()
    try:
        assert load_config("baseline", overrides={"pakistan.tolerance": 61}).pakistan.tolerance == 61
    finally:
        _as_new_process()


def test_errors_are_the_same_and_nothing_is_stored_for_them(disk, monkeypatch):
    bad = [["scenario=nope"], ["pakistan.tolerence=3"], ["+hydra.job.nope=1"], ["~scenario.nothing_here"]]
    monkeypatch.setenv(cache.DISK_ENV, "off")
    expected = []
    for lines in bad:
        with pytest.raises(ConfigError) as exc:
            load_config(overrides=lines)
        expected.append(str(exc.value))
    monkeypatch.setenv(cache.DISK_ENV, str(disk))
    for _ in range(2):
        _as_new_process()
        for lines, message in zip(bad, expected):
            with pytest.raises(ConfigError) as exc:
                load_config(overrides=lines)
            assert str(exc.value) == message
    assert not _entries(disk) or all(cache._read(p, 'x') is None for p in _entries(disk))


def test_the_default_folder_is_the_user_s_cache_folder(monkeypatch, tmp_path):
    monkeypatch.delenv(cache.DISK_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.disk_folder() == tmp_path / "pakaf-sim" / "compositions"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache.disk_folder() == Path.home() / ".cache" / "pakaf-sim" / "compositions"
    monkeypatch.setenv(cache.DISK_ENV, "OFF")
    assert cache.disk_folder() is None


@pytest.mark.slow  # three sweeps in subprocesses
def test_a_sweep_gives_the_same_table_with_and_without_the_disk_cache(tmp_path):
    folder = tmp_path / "compositions"
    tables = []
    for setting in ("off", str(folder), str(folder)):  # off, then the first sweep writes, the second reads
        out = tmp_path / f"sweep{len(tables)}"
        subprocess.run([sys.executable, "-m", "sim", "-m", "pakistan.tolerance=30.0,70.0", "sweep.replicates=2",
                        "months=12", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", f"hydra.sweep.dir={out}"],
                       cwd=ROOT, env={**os.environ, cache.DISK_ENV: setting}, check=True, capture_output=True)
        tables.append(load_table(out))
        if setting == "off":
            assert not _entries(folder)
    assert _entries(folder), "the sweep kept no composition"
    for other in tables[1:]:
        pd.testing.assert_frame_equal(other, tables[0])


@pytest.mark.slow  # starts worker processes
def test_a_sweep_refused_by_one_of_its_points_leaves_no_worker_behind():
    """The joblib workers start while the points are checked (sim/sweeps/warmup.py); a refused
    point kills them before the error reaches the user."""
    import threading

    import psutil

    from sim.sweeps.plan import check_sweep

    for attempt in range(2):  # (the second finds the first's pool, shut down: a new one is made and killed)
        with pytest.raises(ConfigError, match="pakistan.tolerance"):
            check_sweep(["pakistan.tolerance=30.0,-5.0", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
                         f"months={12 + attempt}"], start_workers=True)
        for thread in threading.enumerate():
            if thread.name == "sweep-warmup":
                thread.join(timeout=30)
                assert not thread.is_alive(), "the warm-up is still waiting for workers"
        workers = [p for p in psutil.Process().children(recursive=True) if _is_live_loky_worker(p)]
        _, alive = psutil.wait_procs(workers, timeout=10)
        assert not alive


def _is_live_loky_worker(process) -> bool:
    """A joblib (loky) worker that still runs; an exited one (gone, or a zombie not yet reaped by its
    parent, e.g. one killed a moment ago or a child of another test) is not."""
    import psutil

    try:
        return process.status() != psutil.STATUS_ZOMBIE and "LokyProcess" in " ".join(process.cmdline())
    except (psutil.ZombieProcess, psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def test_a_job_waiting_for_a_point_looks_soon_then_less_and_less_often(tmp_path, monkeypatch):
    """The end of a sweep: a job waits for the last point another job holds (sim/sweeps/claims.py);
    it looks again after 10 ms, then twice as long each time up to the poll it was given, and
    returns at the first look after the release."""
    from sim.sweeps import claims

    lock = tmp_path / "p.lock"
    assert claims.try_claim(lock, stale_after=60.0)  # held by this (live) process
    pauses = []

    def sleep(seconds):
        pauses.append(seconds)
        if len(pauses) == 8:
            claims.release(lock)

    monkeypatch.setattr(claims.time, "sleep", sleep)
    assert claims.wait_released(lock, stale_after=60.0, poll=0.5)
    assert pauses == [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.5, 0.5]
    assert not lock.exists()


def test_a_search_path_of_the_user_s_own_is_never_kept_on_disk(disk, tmp_path, user_folder):
    """``hydra.searchpath=[file://DIR]`` (a line, or a config file) makes Hydra read folders this
    process does not list, whose files cannot be in the key: such compositions are not kept."""
    other = tmp_path / "other"
    other.mkdir()
    assert compose(overrides=[f"hydra.searchpath=[file://{other}]"]).scenario.name == "baseline"
    assert not _entries(disk)
    path = _write_scenario(user_folder, "41.0")  # (any file naming Hydra's search path, even in a comment)
    path.write_text(path.read_text() + f"# hydra.searchpath: [file://{other}] would be read too\n")
    assert load_config("mine").scenario.name == "mine"
    assert not _entries(disk)


@pytest.mark.slow  # two command-line runs in subprocesses
def test_a_run_folder_with_a_date_resolves_when_its_composition_comes_from_disk(tmp_path):
    # The second process finds the hydra settings on disk and composes nothing itself: the
    # resolvers Hydra registers when it composes (${now:...}) must be there all the same.
    env = {**os.environ, cache.DISK_ENV: str(tmp_path / "compositions")}
    for _ in range(2):  # the same command twice: the second finds every composition on disk
        proc = subprocess.run([sys.executable, "-m", "sim", "months=2", "output.figures=false",
                               "hydra.run.dir=out/run_${now:%Y}"], cwd=tmp_path, env=env,
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-2000:]
    assert _entries(tmp_path / "compositions")
    assert len(list((tmp_path / "out").glob("run_20*/timeseries.csv"))) == 2  # (the second: run_YYYY_2)
