"""Parameter sweeps: `python -m sim -m [experiment=NAME] [overrides]` (docs/ODD.md and the README).

Hydra's multirun expands the sweep (comma lists, ``range(...)``, ``glob(...)`` on the
command line, plus ``hydra.sweeper.params`` of a named experiment) into *points*, and a
launcher (basic, joblib, Ray, submitit/SLURM) runs one Hydra job per point. This module
holds what Hydra does not give:

- ``check_sweep(overrides)``: the sweep is expanded and every point validated *before*
  any job runs, so a bad specification (unknown parameter, empty range, value out of
  range, unknown experiment) stops at once with one line (``ConfigError``).
- ``run_point(cfg)``: the job function. One job = one point run for
  ``sweep.replicates`` seeds ``seed, seed+1, ..., seed+replicates-1`` (``seed`` is the
  point's base seed), so process start-up is paid once per point. A run that raises is
  recorded as ``status = "failed"`` with its error text, and the job goes on.
- Results stream to disk: each point writes one small Parquet file,
  ``<sweep dir>/points/<point id>.parquet`` (one row per seed: parameters, seed, status,
  error, every pattern metric), written to a temporary file and renamed, so a killed
  sweep never leaves a half file that looks finished. Nothing is kept in memory.
- Resume: a point's identity is its override set (the parameters the sweep set, by
  config path, at their typed values; ``sweep.*`` settings and ``experiment`` are not
  part of it), hashed into the point id. Re-running a sweep into the same folder skips
  points whose file exists and was made from the same resolved config (its hash is in
  the file); a point whose config changed since (e.g. another ``sweep.replicates`` or
  an edited default) is run again and its file replaced, so rows are never duplicated.
- ``SweepCallback``: a Hydra callback (configs/config.yaml) that shows progress while
  jobs run, whatever the launcher, and reports the failed runs at the end.
- Design files: a list of points that is not a grid (a Sobol or Morris design) runs as
  ``python -m sim -m +sweep.design=PATH '+design_row=range(0,N)'``. ``PATH`` is a Parquet
  or CSV file with one column per parameter (config path) and one row per point; job
  ``design_row=i`` runs row i's values (``apply_design_row``). The row's values are part
  of the point's identity and config hash, so such a sweep is checked, streamed, resumed
  and its failures recorded like any other.

``python -m sim.aggregate FOLDER`` reads the point files into one table (sim/sweeps/aggregate.py).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import json
import logging
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, open_dict

from sim.config import CONFIG_DIR, Config, ConfigError, bounded, build, compose, load_config, validate

log = logging.getLogger(__name__)

POINTS_DIR = "points"          # sub-folder of the sweep folder holding one Parquet file per point
PROGRESS_DIR = ".progress"     # sub-folder of per-invocation "point done" markers (progress display)
POINT_SUFFIX = ".parquet"
DESIGN_ROW_KEY = "design_row"  # top-level key a design sweep runs over: +design_row=range(0,N) (docs/sweeps.md)
PROGRESS_POLL_SECONDS = 0.5    # how often the progress display looks for finished points (not a model parameter)

# Columns of a point file besides the swept parameters and the metrics.
RUN_COLUMNS = ("point", "base_seed", "replicate", "seed", "status", "error")
STATUS_OK, STATUS_FAILED = "ok", "failed"

# Sweep settings left out of a point's config hash: they change no result, or (the
# testing aid fail_on_seed) only make runs fail, which sweep.retry_failed=true redoes.
HASH_EXCLUDED_SETTINGS = ("retry_failed", "keep_runs", "progress", "exit_in_job", "fail_on_seed", "design", "collect")
# (``design``, the design file's path, is left out because the row's values it supplies are hashed.)
# Top-level keys that change no result: left out of a point's config hash.
RESULT_NEUTRAL_KEYS = ("hydra", "output", "experiment")


# ---------------------------------------------------------------------------- settings
@dataclass(kw_only=True)
class SweepSettings:
    """The ``sweep`` config group (configs/sweep/default.yaml gives meaning and unit)."""

    replicates: int = bounded(1, 1_000_000)
    retry_failed: bool
    keep_runs: bool
    progress: bool
    fail_on_seed: int | None = bounded(0, 2**63 - 1, default=None)
    exit_in_job: int | None = bounded(0, None, default=None)
    collect: Literal["metrics", "full"] = "metrics"
    design: str | None = None   # a design file of points (Parquet or CSV), given as +sweep.design=PATH


def sweep_settings(cfg: DictConfig | dict | Config) -> SweepSettings:
    """The checked sweep settings of a composed config, a plain mapping or a ``Config``."""
    if isinstance(cfg, Config):
        data = cfg.extras.get("sweep")
    elif isinstance(cfg, DictConfig):
        data = OmegaConf.to_container(cfg.get("sweep"), resolve=True) if "sweep" in cfg else None
    else:
        data = cfg.get("sweep")
    if data is None:
        raise ConfigError("sweep: missing config group; configs/config.yaml must list `sweep: default`")
    return build(SweepSettings, data, "sweep")


# -------------------------------------------------------------------- overrides & ids
def experiment_names() -> list[str]:
    return sorted(p.stem for p in (CONFIG_DIR / "experiment").glob("*.yaml"))


def _loader():
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra._internal.utils import create_config_search_path

    return ConfigLoaderImpl(config_search_path=create_config_search_path(str(CONFIG_DIR)))


def parse_overrides(lines: list[str], with_loader: bool = False) -> list:
    """Parse Hydra override strings; a syntax error becomes a one-line ``ConfigError``."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    parser = OverridesParser.create(config_loader=_loader() if with_loader else None)
    out = []
    for line in lines:
        try:
            out.extend(parser.parse_overrides([line]))  # (plural: it hands the loader to glob)
        except HydraException as exc:
            text = str(exc).split("\nSee https://hydra.cc")[0]
            raise ConfigError(f"{line}: cannot read this override ({' '.join(text.split())})") from None
    return out


def _is_hydra(override) -> bool:
    return override.is_hydra_override()


def _is_group(override) -> bool:
    """A config-group choice (``scenario=NAME``), as opposed to a parameter value."""
    key = override.key_or_group
    return "." not in key and (CONFIG_DIR / key).is_dir()


def _is_identity_key(key: str) -> bool:
    return key not in ("experiment", "sweep") and not key.startswith("sweep.")


def expand(lines: list[str]) -> list[list[str]]:
    """The jobs (one override list each) Hydra's basic sweeper makes of these overrides.

    ``lines`` are ``hydra.sweeper.params`` entries first, then the command line (later
    entries replace earlier ones for the same key, as in Hydra). Raises ``ConfigError``
    for an empty sweep or a sweep kind the basic sweeper cannot expand.
    """
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.errors import HydraException

    overrides = parse_overrides(lines, with_loader=any("glob(" in line for line in lines))
    for o in overrides:
        if not o.is_sweep_override():
            continue
        key = o.get_key_element()
        if not o.is_discrete_sweep():
            raise ConfigError(f"{key}: {o.input_line.split('=', 1)[1]} is not a list of values; the sweeper takes "
                              f"a,b,c or range(start,stop,step) or glob(pattern)")
        try:
            values = list(o.sweep_string_iterator())
        except HydraException as exc:
            raise ConfigError(f"{key}: {' '.join(str(exc).split())}") from None
        if not values:
            raise ConfigError(f"{key}: the sweep {o.input_line.split('=', 1)[1]} is empty; "
                              f"give at least one value, e.g. {key}=1,2")
        if not _is_hydra(o) and not _is_identity_key(o.key_or_group):
            raise ConfigError(f"{key}: sweep settings cannot be swept; give one value per sweep")
    return BasicSweeper.split_arguments(overrides, None)[0]


def _walk(node: Any, parts: list[str]) -> Any:
    for part in parts:
        if dataclasses.is_dataclass(node) and part in {f.name for f in dataclasses.fields(node)}:
            node = getattr(node, part)
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise KeyError(part)
    return node


def _plain(value: Any) -> Any:
    """A value fit for a table cell: scalars as they are, anything else as sorted JSON."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if dataclasses.is_dataclass(value):
        value = dataclasses.asdict(value)
    return json.dumps(value, sort_keys=True, default=str)


def point_params(job_overrides: list[str], config: Config, design_keys: tuple[str, ...] = ()) -> dict[str, Any]:
    """The parameters a job's overrides set, by config path, at their checked (typed) values.

    This is the point's identity: ``pakistan.tolerance=40`` and ``=40.0`` are one point.
    ``sweep.*`` settings and the ``experiment`` choice are left out; a group choice
    (``scenario=NAME``) keeps its name; the base ``seed`` is kept under ``seed``. For a
    design sweep, ``design_row`` and the parameters the row set (``design_keys``) count too.
    """
    params: dict[str, Any] = {}
    for o in parse_overrides(list(job_overrides)):
        key = o.key_or_group
        if _is_hydra(o) or not _is_identity_key(key):
            continue
        if key == DESIGN_ROW_KEY:
            params[key] = int(o.value())
        elif o.is_delete():
            params[key] = "<deleted>"
        elif _is_group(o):
            params[key] = str(o.value())
        else:
            parts = key.split(".")
            try:
                value = _walk(config, parts)
            except KeyError:
                value = _walk(config.extras, parts)
            params[key] = _plain(value)
    for key in design_keys:
        params[key] = _plain(_walk(config, key.split(".")))
    return dict(sorted(params.items()))


def point_id(params: dict[str, Any]) -> str:
    """Short stable hash of a point's parameters (its file name)."""
    text = json.dumps(params, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def config_hash(cfg: DictConfig | dict) -> str:
    """Hash of the resolved config of a point, without the settings that change no result."""
    data = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else copy.deepcopy(cfg)
    for key in RESULT_NEUTRAL_KEYS:
        data.pop(key, None)
    sweep = data.get("sweep")
    if isinstance(sweep, dict):
        for key in HASH_EXCLUDED_SETTINGS:
            sweep.pop(key, None)
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


# ------------------------------------------------------------------------ design files
def read_design(path: str | Path):
    """A design file as a DataFrame: one row per point, one column per parameter (config path).

    Parquet (``.parquet``) or CSV (``.csv``); a relative path is read from the current
    folder. Raises a one-line ``ConfigError`` for a missing, unreadable or empty file, a
    missing value, or a column that is not a parameter value (a config group, ``sweep.*``,
    ``hydra.*``, ``design_row``).
    """
    path = Path(path)
    try:
        stat = path.stat()
    except OSError:
        raise ConfigError(f"sweep.design: {path} does not exist; give a Parquet or CSV file of parameter points") from None
    return _read_design(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4)
def _read_design(path: str, mtime_ns: int, size: int):  # (mtime and size: re-read a file changed since)
    import pandas as pd

    suffix = Path(path).suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise ConfigError(f"sweep.design: {path}: unknown file type {suffix!r}; allowed: .parquet, .csv")
    try:
        design = pd.read_parquet(path) if suffix == ".parquet" else pd.read_csv(path)
    except Exception as exc:  # noqa: BLE001 - any reader error becomes one line
        raise ConfigError(f"sweep.design: {path}: cannot read it ({' '.join(str(exc).split())})") from None
    if design.empty or not len(design.columns):
        raise ConfigError(f"sweep.design: {path} has no rows or no columns; give one row per point")
    for col in design.columns:
        key = str(col).lstrip("+")
        if key == DESIGN_ROW_KEY or key.startswith(("sweep.", "hydra.")) or key in ("sweep", "hydra", "experiment") \
                or ("." not in key and (CONFIG_DIR / key).is_dir()):
            raise ConfigError(f"sweep.design: column {col!r} cannot be set by a design; only parameter values "
                              f"(config paths such as pakistan.tolerance) can")
    missing = design.isna().any(axis=1)
    if missing.any():
        raise ConfigError(f"sweep.design: {path} row {int(missing.to_numpy().argmax())} has a missing value")
    return design


def apply_design_row(cfg: DictConfig) -> tuple[str, ...]:
    """Set a design job's parameters from its row of ``sweep.design``; return the keys set.

    Removes ``design_row`` from ``cfg`` (a composed config, changed in place). A config
    without ``design_row`` and without ``sweep.design`` is left alone (returns ``()``).
    Raises a one-line ``ConfigError`` when one is given without the other, for a row out
    of range, an unknown parameter or a value the parameter does not allow.
    """
    from sim.config.loading import _set_value

    row = cfg.get(DESIGN_ROW_KEY) if DESIGN_ROW_KEY in cfg else None
    design_path = OmegaConf.select(cfg, "sweep.design", default=None)
    if row is None and design_path is None:
        return ()
    if design_path is None:
        raise ConfigError(f"{DESIGN_ROW_KEY}: needs +sweep.design=PATH, a Parquet or CSV file with one column per "
                          f"parameter and one row per point")
    if row is None:
        raise ConfigError(f"sweep.design: no design row to run; sweep the rows with '+{DESIGN_ROW_KEY}=range(0,N)'")
    design = read_design(design_path)
    if isinstance(row, bool) or not isinstance(row, int) or not 0 <= row < len(design):
        raise ConfigError(f"{DESIGN_ROW_KEY}: {row!r} is out of range; the design {design_path} has {len(design)} "
                          f"rows (0 to {len(design) - 1})")
    with open_dict(cfg):
        del cfg[DESIGN_ROW_KEY]
    keys = tuple(str(c) for c in design.columns)
    try:
        for key, value in design.iloc[row].items():
            _set_value(cfg, str(key), value.item() if hasattr(value, "item") else value)
        validate(cfg)
    except ConfigError as exc:
        if str(exc).split(":")[0].split(" ")[0] not in keys:
            raise  # a value given on the command line
        raise ConfigError(f"sweep.design {design_path} row {row}: {exc}") from None
    return keys


# -------------------------------------------------------------------- checking a sweep
def _compose_with_hydra(overrides: list[str]) -> DictConfig:
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    try:
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
            return hydra_compose(config_name="config", overrides=overrides, return_hydra_config=True)
    except (HydraException, OmegaConfBaseException, ValueError) as exc:
        text = str(exc).split("\nConfig search path")[0]
        raise ConfigError(" ".join(text.split())) from None


def sweeper_lines(cfg: DictConfig) -> list[str]:
    """``hydra.sweeper.params`` of a composed config as override lines (Hydra's order)."""
    params = OmegaConf.select(cfg, "hydra.sweeper.params")
    return [f"{k}={v}" for k, v in (params or {}).items()]


def check_sweep(overrides: list[str]) -> list[list[str]]:
    """Expand and validate a sweep before any job runs; return its jobs' override lists.

    ``overrides`` are the command line's overrides (task and ``hydra.*``). Raises
    ``ConfigError`` with one line for an unknown experiment, a syntax error, an empty or
    unsupported range, an unknown parameter, a value of the wrong type or out of range
    at any point, a bad ``sweep.*`` setting, or two spellings of the same point.
    """
    parsed = parse_overrides(overrides, with_loader=any("glob(" in line for line in overrides))
    for o in parsed:
        if o.key_or_group == "experiment":
            if o.is_sweep_override():
                raise ConfigError("experiment: give one experiment per sweep")
            name = o.value()
            if name is not None and name not in experiment_names():
                raise ConfigError(f"experiment: unknown experiment {name!r}; allowed: {', '.join(experiment_names())}")
        if o.key_or_group in (DESIGN_ROW_KEY, "sweep.design") and not o.input_line.startswith("+"):
            raise ConfigError(f"{o.key_or_group}: write +{o.input_line} (a design sweep adds this key)")
    fixed_groups = [o.input_line for o in parsed if not o.is_sweep_override() and _is_group(o) and not _is_hydra(o)]
    try:
        hydra_cfg = _compose_with_hydra([o.input_line for o in parsed if not o.is_sweep_override() and _is_hydra(o)]
                                        + fixed_groups)
    except ConfigError:
        compose(overrides=fixed_groups)  # a bad group choice gets its own one-line message here
        raise
    task_lines = [o.input_line for o in parsed if not _is_hydra(o)]
    jobs = expand(sweeper_lines(hydra_cfg) + task_lines)
    seen: dict[str, list[str]] = {}
    bases: dict[tuple, DictConfig] = {}
    for job in jobs:
        config, design_keys = _validate_job(job, bases)
        sweep_settings(config)
        pid = point_id(point_params(job, config, design_keys))
        if pid in seen:
            raise ConfigError(f"the sweep lists one point twice: {' '.join(seen[pid])} and {' '.join(job)}")
        seen[pid] = job
    return jobs


def _validate_job(job: list[str], bases: dict[tuple, DictConfig]) -> tuple[Config, tuple[str, ...]]:
    """Validate one point: compose once per group choice, then apply its values (fast).

    Returns the checked config and the parameters its design row set (``()`` if none).
    """
    from hydra._internal.config_loader_impl import ConfigLoaderImpl

    parsed = parse_overrides(job)
    groups = tuple(o.input_line for o in parsed if _is_group(o))
    if groups not in bases:
        bases[groups] = compose(overrides=list(groups))
    cfg = copy.deepcopy(bases[groups])
    try:
        ConfigLoaderImpl._apply_overrides_to_config([o for o in parsed if not _is_group(o)], cfg)
        design_keys = apply_design_row(cfg)
        both = sorted(set(design_keys) & {o.key_or_group for o in parsed})
        if both:
            raise ConfigError(f"{both[0]}: set both by the design {OmegaConf.select(cfg, 'sweep.design')} and on "
                              f"the command line; give it in one place")
        return validate(cfg), design_keys
    except Exception as exc:  # noqa: BLE001 - re-done the slow way for its one-line message
        load_config(overrides=[o.input_line for o in parsed if o.key_or_group not in (DESIGN_ROW_KEY, "sweep.design")])
        raise ConfigError(" ".join(str(exc).split())) from None


# ------------------------------------------------------------------------- the job
def points_dir(sweep_dir: str | Path) -> Path:
    return Path(sweep_dir) / POINTS_DIR


def write_parquet_atomic(frame, path: Path, die_mid_write: bool = False) -> None:
    """Write ``frame`` to ``path`` via a temporary file in the same folder and a rename.

    ``die_mid_write`` (testing aid ``sweep.exit_in_job``) leaves a half-written temporary
    file and ends the process at once, as a kill would.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    frame.to_parquet(tmp, index=False)
    if die_mid_write:
        with open(tmp, "r+b") as fh:
            fh.truncate(tmp.stat().st_size // 2)
        os._exit(3)
    os.replace(tmp, path)


def read_point(path: Path):
    """A point file as a DataFrame, or None if it is missing or unreadable."""
    import pandas as pd

    try:
        return pd.read_parquet(path)
    except (OSError, ValueError):
        return None


def _is_finished(path: Path, chash: str, retry_failed: bool) -> bool:
    done = read_point(path)
    if done is None or len(done) == 0 or "config_hash" not in done:
        return False
    if (done["config_hash"] != chash).any():
        return False
    return not (retry_failed and (done["status"] != STATUS_OK).any())


class DeliberateFailure(RuntimeError):
    """Raised by the testing aid ``sweep.fail_on_seed``."""


def _run_one(cfg: DictConfig, config: Config, seed: int, settings: SweepSettings,
             keep_dir: Path | None) -> dict[str, float]:
    """One run of a point: ``config`` is the point's checked config (the model runs on its own copy)."""
    from sim.analysis.metrics import pattern_metrics
    from sim.analysis.metrics import REQUIRED_COLUMNS
    from sim.model.policy_model import PolicyModel

    config = dataclasses.replace(config, seed=seed)
    if settings.fail_on_seed is not None and seed == settings.fail_on_seed:
        raise DeliberateFailure(f"deliberate failure of the run with seed {seed} (testing aid sweep.fail_on_seed)")
    full = keep_dir is not None or settings.collect == "full"
    model = PolicyModel(config, collect=True if full else REQUIRED_COLUMNS).run()
    if keep_dir is not None:
        from sim.output.files import write_run

        raw = copy.deepcopy(cfg)
        raw.seed = seed
        write_run(model, keep_dir / f"seed{seed}", raw)
    return pattern_metrics(model.frame(), config.extras.get("metrics"))


def run_point(cfg: DictConfig) -> dict[str, Any]:
    """Hydra job function of a multirun: run one point for its replicate seeds.

    Returns a small summary (point id, runs ok / failed, skipped) for the launcher.
    """
    import pandas as pd
    from hydra.core.hydra_config import HydraConfig

    from sim.analysis.metrics import METRIC_NAMES

    logging.getLogger("MESA").setLevel(logging.WARNING)
    hc = HydraConfig.get()
    sweep_dir = Path(hc.sweep.dir)
    job_overrides = list(hc.overrides.task)
    out = points_dir(sweep_dir)
    out.mkdir(parents=True, exist_ok=True)
    base_seed = int(cfg.seed)
    settings = sweep_settings(cfg)  # checked with the sweep before it started
    if DESIGN_ROW_KEY in cfg:
        cfg = copy.deepcopy(cfg)  # a design sweep: this job's row of sweep.design is set on a copy
    design_keys = apply_design_row(cfg)
    config = validate(cfg)  # once per point: every run builds its model from a private copy
    params = point_params(job_overrides, config, design_keys)
    pid = point_id(params)
    chash = config_hash(cfg)
    path = out / f"{pid}{POINT_SUFFIX}"
    summary = {"point": pid, "job": int(hc.job.num), "overrides": job_overrides}
    if _is_finished(path, chash, settings.retry_failed):
        log.info("point %s (%s): already finished, skipped", pid, " ".join(job_overrides))
        summary.update(skipped=True, ok=0, failed=0, errors=[])
        _mark_done(sweep_dir, summary)
        return summary

    keep_dir = Path(hc.runtime.output_dir) if settings.keep_runs else None
    rows = []
    for replicate in range(settings.replicates):
        seed = base_seed + replicate
        row: dict[str, Any] = {"point": pid, **{_column(k): v for k, v in params.items()},
                               "base_seed": base_seed, "replicate": replicate, "seed": seed}
        try:
            metrics = _run_one(cfg, config, seed, settings, keep_dir)
            row.update(status=STATUS_OK, error=None, **{m: float(metrics[m]) for m in METRIC_NAMES})
        except Exception as exc:  # noqa: BLE001 - a failed run is recorded, the sweep goes on
            log.exception("point %s seed %d failed", pid, seed)
            row.update(status=STATUS_FAILED, error=f"{type(exc).__name__}: {' '.join(str(exc).split())}",
                       **dict.fromkeys(METRIC_NAMES, float("nan")))
        row["config_hash"] = chash
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame["error"] = frame["error"].astype("string")
    die = settings.exit_in_job is not None and int(hc.job.num) == settings.exit_in_job
    write_parquet_atomic(frame, path, die_mid_write=die)
    failed = frame[frame["status"] != STATUS_OK]
    summary.update(skipped=False, ok=int(len(frame) - len(failed)), failed=int(len(failed)),
                   errors=[f"seed {s}: {e}" for s, e in zip(failed["seed"], failed["error"])])
    log.info("point %s (%s): %d runs ok, %d failed", pid, " ".join(job_overrides), summary["ok"], summary["failed"])
    _mark_done(sweep_dir, summary)
    return summary


def _column(key: str) -> str:
    """Table column of a swept parameter: its config path (the base seed is ``base_seed``)."""
    return "base_seed" if key == "seed" else key


def _mark_done(sweep_dir: Path, summary: dict[str, Any]) -> None:
    marks = sweep_dir / PROGRESS_DIR
    marks.mkdir(parents=True, exist_ok=True)
    path = marks / f"{summary['point']}.json"
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(summary))
    os.replace(tmp, path)


# ------------------------------------------------------------------ progress & report
class SweepCallback(Callback):
    """Progress of a multirun while its jobs run (any launcher), and a report at the end.

    Jobs leave a marker in ``<sweep dir>/.progress/`` when they finish a point (run or
    skipped); a thread in the launching process counts them. In a terminal it draws a
    tqdm bar, otherwise it logs a line per finished point.
    """

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._total: int | None = None

    # Launchers (joblib, Ray, submitit) pickle the callbacks with each job; the watcher
    # thread stays in the launching process.
    def __getstate__(self) -> dict:
        return {}

    def __setstate__(self, state: dict) -> None:
        self.__init__()

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        """Where a sweep's job ran, just before its return goes back to the launching process.

        Launchers keep every job's return until the sweep ends. Without the job's two
        composed configs (about 0.3 MB, unused once the job is done; the point file holds
        its results) the launching process stays the same size however many points there are.
        """
        if OmegaConf.select(config, "hydra.mode") == RunMode.MULTIRUN:
            job_return.cfg = job_return.hydra_cfg = None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        marks = sweep_dir / PROGRESS_DIR
        marks.mkdir(parents=True, exist_ok=True)
        for old in marks.iterdir():  # markers of an earlier invocation
            old.unlink()
        pts = points_dir(sweep_dir)
        if pts.is_dir():
            for stale in pts.glob(".*.tmp"):  # left by a killed job; never read as a result
                stale.unlink()
        try:
            self._total = len(expand(sweeper_lines(config) + [str(t) for t in config.hydra.overrides.task]))
        except ConfigError:  # checked before Hydra started; a progress bar is no reason to stop
            self._total = None
        if OmegaConf.select(config, "sweep.progress", default=True):
            self._thread = threading.Thread(target=self._watch, args=(marks,), daemon=True)
            self._thread.start()

    def _watch(self, marks: Path) -> None:
        from tqdm import tqdm

        tty = sys.stderr.isatty()
        bar = tqdm(total=self._total, unit="point", desc="sweep", file=sys.stderr, disable=not tty)
        seen = 0
        while True:
            stopping = self._stop.wait(PROGRESS_POLL_SECONDS)
            done = sum(1 for p in marks.glob("*.json"))
            if done != seen:
                bar.update(done - seen)
                if not tty:
                    print(f"sweep progress: {done}/{self._total or '?'} points done", file=sys.stderr, flush=True)
                seen = done
            if stopping:
                break
        bar.close()

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        sweep_dir = Path(str(config.hydra.sweep.dir))
        for line in report(sweep_dir):
            print(line)


def report(sweep_dir: Path) -> list[str]:
    """Plain lines on the last invocation of a sweep: points run or skipped, failed runs."""
    marks = sorted((sweep_dir / PROGRESS_DIR).glob("*.json"))
    done = [json.loads(p.read_text()) for p in marks]
    skipped = sum(d["skipped"] for d in done)
    ok = sum(d["ok"] for d in done)
    failed = [d for d in done if d["failed"]]
    n_failed = sum(d["failed"] for d in failed)
    lines = [f"Sweep finished: {len(done)} point{'s' * (len(done) != 1)} ({len(done) - skipped} run, {skipped} already finished and "
             f"skipped); {ok} runs ok, {n_failed} failed. Results: {points_dir(sweep_dir)}/"]
    for d in sorted(failed, key=lambda d: d["job"]):
        for err in d["errors"]:
            lines.append(f"  FAILED job #{d['job']} ({' '.join(d['overrides'])}) {err}")
    if n_failed:
        lines.append(f"  {n_failed} failed runs are in the table with status 'failed' and their error; "
                     f"re-run with sweep.retry_failed=true to run those points again.")
    lines.append(f"Aggregate with: python -m sim.aggregate {sweep_dir}")
    return lines

