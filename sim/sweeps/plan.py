"""Checking and planning a sweep before any job runs (in the launching process).

``check_sweep(overrides)`` is called by ``python -m sim -m ...`` before Hydra starts:

- a **grid** sweep (the batched or the basic sweeper: comma lists, ``range(...)``,
  ``glob(...)``, a named experiment's ``hydra.sweeper.params``, a design file's rows) is
  expanded into its jobs exactly as Hydra would, and every point is composed, checked
  against the typed schema and given its identity (sim/sweeps/identity.py);
- a **search** (another sweeper, e.g. ``hydra/sweeper=optuna``) cannot be expanded: its
  search space is checked instead, every key a parameter and every bound or choice a
  value the parameter allows, and the objectives against the sweeper's directions.

Anything wrong stops with one line (``ConfigError``): an unknown experiment or
parameter, a syntax error, an empty range, a value of the wrong type or out of range at
any point, a bad ``sweep.*`` setting, one point listed twice or two seed blocks of one
point that overlap. ``plan_blocks`` returns the checked points as ``Block`` s (one per
job Hydra would run); it is kept per process, so the batched sweeper (same process)
reuses the check instead of repeating it.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from sim.config import CONFIG_DIR, Config, ConfigError, SweepSettings, build, config_dirs, load_config, validate
from sim.config.loading import compose_with_hydra_settings
from sim.sweeps.design import Block
from sim.sweeps.grid import (
    DESIGN_ROW_KEY,
    expand,
    experiment_names,
    is_group,
    is_hydra,
    is_parameter_key,
    parse_overrides,
)
from sim.sweeps import warmup
from sim.sweeps.identity import point_id

DESIGN_KEY = "sweep.design"
GRID_SWEEPERS = ("BatchedSweeper", "BasicSweeper")  # sweepers whose jobs are a grid check_sweep can expand


# ---------------------------------------------------------------------------- settings
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
    if isinstance(data, SweepSettings):
        return data
    return build(SweepSettings, dict(data), "sweep")


def sweeper_lines(cfg: DictConfig) -> list[str]:
    """``hydra.sweeper.params`` of a composed config as override lines (Hydra's order)."""
    params = OmegaConf.select(cfg, "hydra.sweeper.params")
    return [f"{k}={v}" for k, v in (params or {}).items()]


def is_grid_sweeper(cfg: DictConfig) -> bool:
    target = str(OmegaConf.select(cfg, "hydra.sweeper._target_", default="") or "")
    return target.rsplit(".", 1)[-1] in GRID_SWEEPERS


def literal(value: Any) -> str:
    """A Python value as the right-hand side of a Hydra override line (read back exactly)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


# ------------------------------------------------------------------------ design files
def read_design_file(path: str | Path):
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
        raise ConfigError(f"{DESIGN_KEY}: {path} does not exist; give a Parquet or CSV file of parameter points") from None
    return _read_design(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4)
def _read_design(path: str, mtime_ns: int, size: int):  # (mtime and size: re-read a file changed since)
    import pandas as pd

    suffix = Path(path).suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise ConfigError(f"{DESIGN_KEY}: {path}: unknown file type {suffix!r}; allowed: .parquet, .csv")
    try:
        design = pd.read_parquet(path) if suffix == ".parquet" else pd.read_csv(path)
    except Exception as exc:  # noqa: BLE001 - any reader error becomes one line
        raise ConfigError(f"{DESIGN_KEY}: {path}: cannot read it ({' '.join(str(exc).split())})") from None
    if design.empty or not len(design.columns):
        raise ConfigError(f"{DESIGN_KEY}: {path} has no rows or no columns; give one row per point")
    for col in design.columns:
        key = str(col).lstrip("+")
        if key == DESIGN_ROW_KEY or key.startswith(("sweep.", "hydra.")) or key in ("sweep", "hydra", "experiment") \
                or ("." not in key and (CONFIG_DIR / key).is_dir()):
            raise ConfigError(f"{DESIGN_KEY}: column {col!r} cannot be set by a design; only parameter values "
                              f"(config paths such as pakistan.tolerance) can")
    missing = design.isna().any(axis=1)
    if missing.any():
        raise ConfigError(f"{DESIGN_KEY}: {path} row {int(missing.to_numpy().argmax())} has a missing value")
    return design


def design_values(design_path: Any, row: Any) -> dict[str, Any]:
    """The parameter values of row ``row`` of a design file, as plain Python values."""
    if design_path is None:
        raise ConfigError(f"{DESIGN_ROW_KEY}: needs +{DESIGN_KEY}=PATH, a Parquet or CSV file with one column per "
                          f"parameter and one row per point")
    if row is None:
        raise ConfigError(f"{DESIGN_KEY}: no design row to run; sweep the rows with '+{DESIGN_ROW_KEY}=range(0,N)'")
    design = read_design_file(design_path)
    if isinstance(row, bool) or not isinstance(row, int) or not 0 <= row < len(design):
        raise ConfigError(f"{DESIGN_ROW_KEY}: {row!r} is out of range; the design {design_path} has {len(design)} "
                          f"rows (0 to {len(design) - 1})")
    return {str(k): (v.item() if hasattr(v, "item") else v) for k, v in design.iloc[row].items()}


def _design_error(exc: ConfigError, keys: tuple[str, ...], design_path: Any, row: int) -> ConfigError:
    """Name the design file and row when the error is about one of the row's values."""
    if str(exc).split(":")[0].split(" ")[0] not in keys:
        return exc  # a value given on the command line
    return ConfigError(f"{DESIGN_KEY} {design_path} row {row}: {exc}")


def apply_design_row(cfg: DictConfig) -> tuple[str, ...]:
    """Set a design job's parameters from its row of ``sweep.design``; return the keys set.

    For a job Hydra composed itself (a sweeper other than the batched one). Removes
    ``design_row`` from ``cfg`` (changed in place). A config without ``design_row`` and
    without ``sweep.design`` is left alone (returns ``()``).
    """
    row = cfg.get(DESIGN_ROW_KEY) if DESIGN_ROW_KEY in cfg else None
    design_path = OmegaConf.select(cfg, DESIGN_KEY, default=None)
    if row is None and design_path is None:
        return ()
    values = design_values(design_path, row)
    with open_dict(cfg):
        del cfg[DESIGN_ROW_KEY]
    keys = tuple(values)
    try:
        with open_dict(cfg):
            for key, value in values.items():
                OmegaConf.update(cfg, key, value, merge=False)
        validate(cfg)  # (an unknown column is refused here: "unknown parameter; did you mean ...")
    except ConfigError as exc:
        raise _design_error(exc, keys, design_path, row) from None
    return keys


# ------------------------------------------------------------------------------ points
@dataclass
class PointConfig:
    config: Config                 # the point's checked config (its base seed included)
    design_row: int | None         # the design row a design sweep's job runs
    design_keys: tuple[str, ...]   # the parameters the row set


def resolve_design(lines: list[str]) -> tuple[list[str], int | None, tuple[str, ...], Any]:
    """A job's override lines with a design row's values written out as plain lines.

    Returns the lines (without ``+design_row`` and ``+sweep.design``, plus one
    ``key=value`` line per design column), the row, the keys the row set and the design
    file (``None, (), None`` for a job that is not a design row).
    """
    parsed = parse_overrides(list(lines))
    row_lines = [o for o in parsed if o.key_or_group == DESIGN_ROW_KEY]
    path_lines = [o for o in parsed if o.key_or_group == DESIGN_KEY]
    rest = [o.input_line for o in parsed if o.key_or_group not in (DESIGN_ROW_KEY, DESIGN_KEY)]
    if not row_lines and not path_lines:
        return rest, None, (), None
    for o in row_lines + path_lines:
        if not o.input_line.startswith("+"):
            raise ConfigError(f"{o.key_or_group}: write +{o.input_line} (a design sweep adds this key)")
    row = row_lines[-1].value() if row_lines else None
    design_path = path_lines[-1].value() if path_lines else None
    values = design_values(design_path, row)
    keys = tuple(values)
    given = sorted(set(keys) & {o.key_or_group for o in parsed})
    if given:
        raise ConfigError(f"{given[0]}: set both by the design {design_path} and on the command line; "
                          f"give it in one place")
    return rest + [f"{k}={literal(v)}" for k, v in values.items()], row, keys, design_path


def point_config(lines: list[str]) -> PointConfig:
    """Compose and check one job's config from its override lines (the per-process cache composes)."""
    plain_lines, row, keys, design_path = resolve_design(lines)
    try:
        return PointConfig(load_config(overrides=_as_mapping(plain_lines) or plain_lines), row, keys)
    except ConfigError as exc:
        raise _design_error(exc, keys, design_path, row) from None


def _as_mapping(lines: list[str]) -> dict[str, Any] | None:
    """Plain ``key=value`` lines and group choices as the mapping ``load_config`` also takes
    (the lines are parsed once, here); None if some line needs Hydra's own composition."""
    out: dict[str, Any] = {}
    for o in parse_overrides(lines):
        value = o.value()
        if is_hydra(o) or o.is_add() or o.is_force_add() or o.is_delete() or o.is_sweep_override() \
                or o.package is not None or isinstance(value, dict) or "${" in str(value):
            return None
        if is_group(o) and not isinstance(value, str):
            return None
        out.pop(o.key_or_group, None)  # (a key given twice: the last value, in the last place, as in Hydra)
        out[o.key_or_group] = value
    return out


def _walk(node: Any, parts: list[str]) -> Any:
    for part in parts:
        if dataclasses.is_dataclass(node) and part in {f.name for f in dataclasses.fields(node)}:
            node = getattr(node, part)
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise KeyError(part)
    return node


def _cell(value: Any) -> Any:
    """A value fit for a table cell: scalars as they are, anything else as sorted JSON."""
    import json

    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if dataclasses.is_dataclass(value):
        value = dataclasses.asdict(value)
    return json.dumps(value, sort_keys=True, default=str)


def point_params(lines: list[str], pc: PointConfig) -> dict[str, Any]:
    """The parameters a job's overrides set (its table columns), by config path, at their checked values.

    ``pakistan.tolerance=40`` and ``=40.0`` both give 40.0. A group choice
    (``scenario=NAME``) keeps its name; settings that change no result (``sweep.*``,
    ``output.*``, ``experiment``) and the base seed (column ``base_seed``) are left out.
    A design sweep adds ``design_row`` and the parameters the row set.
    """
    config = pc.config
    params: dict[str, Any] = {}
    for o in parse_overrides(list(lines)):
        key = o.key_or_group
        if is_hydra(o) or not is_parameter_key(key) or key == DESIGN_KEY:
            continue
        if o.is_delete():
            params[key] = "<deleted>"
        elif is_group(o):
            params[key] = str(o.value())
        else:
            try:
                params[key] = _cell(_walk(config, key.split(".")))
            except KeyError:
                params[key] = _cell(_walk(config.extras, key.split(".")))
    if pc.design_row is not None:
        params[DESIGN_ROW_KEY] = pc.design_row
    for key in pc.design_keys:
        params[key] = _cell(_walk(config, key.split(".")))
    return dict(sorted(params.items()))


def make_block(lines: list[str], pc: PointConfig) -> Block:
    settings = sweep_settings(pc.config)
    return Block(point=point_id(pc.config, pc.design_row), overrides=list(lines), params=point_params(lines, pc),
                 base_seed=int(pc.config.seed), replicates=settings.replicates, design_row=pc.design_row)


def plan_blocks(lines: tuple[str, ...]) -> tuple[Block, ...]:
    """Every job of a grid sweep as a checked ``Block``, in Hydra's order (see the module docstring).

    Kept per process for the same lines, config files and design files (a file changed
    since is a new plan).
    """
    return _plan(tuple(lines), _files_state(lines))


def _files_state(lines: tuple[str, ...]) -> tuple:
    """Names, times and sizes of the config files and design files a plan reads."""
    paths = [p for d in config_dirs() for p in sorted(Path(d).rglob("*.yaml"))]
    paths += [Path(line.split("=", 1)[1]) for line in lines if line.lstrip("+").startswith(f"{DESIGN_KEY}=")]
    state = []
    for path in paths:
        try:
            st = path.stat()
            state.append((str(path), st.st_mtime_ns, st.st_size))
        except OSError:
            state.append((str(path), None, None))
    return tuple(state)


@functools.lru_cache(maxsize=8)
def _plan(lines: tuple[str, ...], files_state: tuple) -> tuple[Block, ...]:
    blocks = []
    for job in expand(list(lines)):
        try:
            blocks.append(make_block(job, point_config(job)))
        except ConfigError as exc:
            raise ConfigError(" ".join(str(exc).split())) from None
    _check_distinct(blocks)
    return tuple(blocks)


def _check_distinct(blocks: list[Block]) -> None:
    """No point twice with the same seeds, and no two seed blocks of one point that overlap."""
    by_point: dict[str, list[Block]] = {}
    for b in blocks:
        by_point.setdefault(b.point, []).append(b)
    for same in by_point.values():
        same.sort(key=lambda b: b.base_seed)
        for a, b in zip(same, same[1:]):
            if a.base_seed == b.base_seed:
                raise ConfigError(f"the sweep lists one point twice: {' '.join(a.overrides)} and {' '.join(b.overrides)}")
            if b.base_seed < a.base_seed + a.replicates:
                raise ConfigError(f"seed: the jobs {' '.join(a.overrides)} and {' '.join(b.overrides)} run the same "
                                  f"point with overlapping seeds ({a.base_seed}-{a.base_seed + a.replicates - 1} and "
                                  f"{b.base_seed}-{b.base_seed + b.replicates - 1}); space base seeds at least "
                                  f"sweep.replicates ({a.replicates}) apart")


# ---------------------------------------------------------------------------- checking
def check_sweep(overrides: list[str], start_workers: bool = False) -> list[list[str]]:
    """Expand and check a sweep before any job runs; return its jobs' override lists.

    ``overrides`` are the command line's overrides (task and ``hydra.*``). For a search
    (a sweeper that proposes its own points, e.g. Optuna) the search space is checked
    and ``[]`` returned. Raises ``ConfigError`` with one line (module docstring).
    ``start_workers`` (``python -m sim -m``): with the joblib launcher, its workers are
    started in the background once the sweep's settings are checked, while its points are
    (and killed if a point is refused; sim/sweeps/warmup.py).
    """
    parsed = parse_overrides(overrides, with_loader=any("glob(" in line for line in overrides))
    for o in parsed:
        if o.key_or_group == "experiment":
            if o.is_sweep_override():
                raise ConfigError("experiment: give one experiment per sweep")
            name = o.value()
            if name is not None and name not in experiment_names():
                raise ConfigError(f"experiment: unknown experiment {name!r}; allowed: {', '.join(experiment_names())}")
        if o.key_or_group in (DESIGN_ROW_KEY, DESIGN_KEY) and not o.input_line.startswith("+"):
            raise ConfigError(f"{o.key_or_group}: write +{o.input_line} (a design sweep adds this key)")
    fixed = [o.input_line for o in parsed if not o.is_sweep_override()]
    launch_cfg = compose_with_hydra_settings(fixed)
    lines = sweeper_lines(launch_cfg) + [o.input_line for o in parsed if not is_hydra(o)]
    if OmegaConf.select(launch_cfg, "sweep.objectives", default=None) or not is_grid_sweeper(launch_cfg):
        from sim.sweeps.objective import check_objectives  # (imports the metrics: only when a search needs them)

        check_objectives(launch_cfg)
    if not is_grid_sweeper(launch_cfg):
        check_search_space(lines)
        return []
    if start_workers:  # (its settings are good: the workers start while its points are checked)
        warmup.start(launch_cfg, [o.input_line for o in parsed if not o.is_sweep_override() and is_group(o)
                                  and not is_hydra(o)])
    try:
        blocks = plan_blocks(tuple(lines))
    except BaseException:  # (refused, or interrupted: no worker left behind)
        if start_workers:
            warmup.cancel()
        raise
    return [list(b.overrides) for b in blocks]


def check_search_space(lines: list[str]) -> None:
    """Check a search's space: each searched key a parameter, each bound or choice an allowed value."""
    parsed = parse_overrides(lines)
    fixed = [o.input_line for o in parsed if not o.is_sweep_override()]
    load_config(overrides=fixed)
    for o in parsed:
        if not o.is_sweep_override():
            continue
        key = o.key_or_group
        if not is_group(o) and not is_parameter_key(key):
            raise ConfigError(f"{key}: cannot be searched; search model parameters (config paths such as "
                              f"pakistan.tolerance) or a config group")
        if o.is_interval_sweep():
            span = o.value()
            if not span.start < span.end:
                raise ConfigError(f"{key}: the search interval({span.start}, {span.end}) is empty; "
                                  f"give interval(low, high) with low < high")
            values = [span.start, span.end]
        else:
            values = list(o.sweep_iterator())
            if not values:
                raise ConfigError(f"{key}: the search {o.input_line.split('=', 1)[1]} is empty; "
                                  f"give at least one value")
        for value in values:
            line = f"{key}={value}" if is_group(o) else f"{key}={literal(value)}"
            try:
                load_config(overrides=fixed + [line])
            except ConfigError as exc:
                raise ConfigError(f"{' '.join(str(exc).split())} (in the search space {o.input_line})") from None
