"""Loading a run's configuration: Hydra composition, overrides, validation into the schema.

``load_config`` composes the Hydra config of a scenario plus overrides and turns it
into the typed dataclasses of ``sim.config.schema``, so a typo, a wrong type, an
out-of-range value or a bad scenario event stops the run before it starts with one
line naming the field. Every top-level branch (``metrics``, ``history``, ``sweep``,
``experiment``, ``output``, ...) is checked with its schema too.

Composition is done once per process for each combination of config folders and
group choices (``sim.config.cache``); value overrides are applied to a copy of it,
as Hydra itself applies them after composing, so the result is the same as a fresh
composition. User config folders (``python -m sim --config-dir DIR``,
``add_config_dir``) are searched after ``configs/``, as Hydra searches them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import functools
import os
import re
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import (
    ConfigTypeError,
    GrammarParseError,
    InterpolationKeyError,
    InterpolationResolutionError,
    OmegaConfBaseException,
    ValidationError,
)

from sim.config import cache
from sim.config.calendar import parse_month
from sim.config.events import check_events
from sim.config.history import apply_history
from sim.config.start import check_start, handover_month, is_record
from sim.config.overrides import Overrides, has_interpolation, split
from sim.config.schema import BRANCH_SCHEMAS, CONFIG_DIR, PASSTHROUGH_KEYS, Config, ConfigError, _join, build, plain

GROUP_DIRS = ("pakistan", "taliban", "militants", "mediators", "world", "influences", "output", "metrics",
              "scenario", "history", "experiment")
OPEN_MAPPINGS = ("militants.groups", "mediators.parties")  # a new entry here adds a group or a mediator
START_DATE = "scenario.start_date"


# ---------------------------------------------------------------------- config folders
_EXTRA_DIRS: list[Path] = []


def add_config_dir(path: str | os.PathLike) -> Path:
    """Search a user's config folder too (after ``configs/``), as ``--config-dir`` does in Hydra.

    The folder holds config groups like ``configs/`` does, e.g. ``DIR/scenario/mine.yaml``
    for ``scenario=mine``. It applies to every later ``load_config``, ``sim.run`` and
    ``scenario_names()`` of this process.
    """
    folder = Path(path).expanduser().resolve()
    if not folder.is_dir():
        raise ConfigError(f"config_dir: {path} is not a folder; give a folder of config groups "
                          f"(e.g. DIR/scenario/NAME.yaml)")
    if folder != CONFIG_DIR and folder not in _EXTRA_DIRS:
        _EXTRA_DIRS.append(folder)
    return folder


def remove_config_dir(path: str | os.PathLike) -> None:
    """Stop searching a folder added with ``add_config_dir`` (no error if it was not added)."""
    folder = Path(path).expanduser().resolve()
    if folder in _EXTRA_DIRS:
        _EXTRA_DIRS.remove(folder)


def config_dirs() -> tuple[Path, ...]:
    """The config folders searched, in Hydra's order: ``configs/`` first, then the user's."""
    return (CONFIG_DIR, *_EXTRA_DIRS)


def group_options(group: str) -> list[str]:
    """The options of a config group (file names without ``.yaml``) over every config folder."""
    return sorted({p.stem for d in config_dirs() for p in (d / group).glob("*.yaml")})


def scenario_names() -> list[str]:
    return group_options("scenario")


def check_config_files(folder: Path) -> None:
    """Every YAML file of a config folder must be readable as Hydra reads it (OmegaConf's
    loader: UTF-8, valid YAML, no key given twice); else one line naming the file, not a parser trace."""
    for path in sorted(folder.rglob("*.yaml")):  # (the files Hydra reads as configs)
        try:
            OmegaConf.load(path)
        except Exception as exc:  # noqa: BLE001 - yaml's, OmegaConf's and decoding errors alike
            raise ConfigError(_unreadable(path, exc)) from None


def _unreadable(path: Path, exc: Exception) -> str:
    problem = " ".join(str(exc).split()).replace(f'in "{path}", ', "")  # (the file is named once)
    return f"{path}: cannot read it as YAML ({problem[:200]})"


def _explain_unreadable_file(exc: Exception) -> str:
    """One line naming the config file Hydra could not read (yaml's error names it; a decoding error does not)."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is not None and Path(mark.name).is_file():
        return _unreadable(Path(mark.name), exc)
    for folder in config_dirs():
        try:
            check_config_files(folder)
        except ConfigError as named:
            return str(named)
    return f"config: a config file cannot be read as YAML ({' '.join(str(exc).split())[:200]})"


def _fingerprint(dirs: tuple[Path, ...]) -> tuple:
    """Names, times and sizes of every config file: a file edited since makes a new cache key."""
    out = []
    for d in dirs:
        for folder, _, files in os.walk(d):
            for name in files:
                if name.endswith((".yaml", ".yml")):
                    st = os.stat(os.path.join(folder, name))
                    out.append((folder, name, st.st_mtime_ns, st.st_size))
    return tuple(out)


# -------------------------------------------------------------------------- composing
def _quote(text: str) -> str:
    return "'" + text.replace("'", "\\'") + "'"


@contextlib.contextmanager
def _outside_a_running_app():
    """Let a config be composed inside a running Hydra app (``python -m sim``'s job, a sweep job).

    Hydra allows one initialised instance per process; the app's is set aside while
    ``initialize_config_dir`` composes, and put back after.
    """
    from hydra.core.global_hydra import GlobalHydra

    gh = GlobalHydra.instance()
    running = gh.hydra if gh.is_initialized() else None
    if running is not None:
        gh.clear()
    try:
        yield
    finally:
        if running is not None:
            GlobalHydra.instance().initialize(running)


def _hydra_compose(lines: list[str], return_hydra_config: bool = False) -> DictConfig:
    """A Hydra composition of ``configs/`` (and the user's folders) with these override lines.

    The caller's own object: composed afresh, or read back from the disk cache when this
    composition was made before, by any process, from the same files (``cache.composed``).
    """
    own_search_path = not any(line.lstrip("+~").startswith("hydra.searchpath") for line in lines)
    if _EXTRA_DIRS and own_search_path:
        lines = [f"hydra.searchpath=[{','.join(_quote(f'file://{d}') for d in _EXTRA_DIRS)}]", *lines]
    key = _disk_key(lines, return_hydra_config) if own_search_path else None
    if key is None:  # (folders this process does not know of: their files are not in the key)
        return _compose_afresh(lines, return_hydra_config)
    _register_hydra_resolvers()
    return cache.composed(key, lambda: _compose_afresh(lines, return_hydra_config))


@functools.cache
def _register_hydra_resolvers() -> None:
    """The resolvers Hydra registers when it composes (``${now:...}``, ``${hydra:...}``): a composition
    read back from the disk cache, with no Hydra composition in this process, needs them to resolve."""
    from hydra.core.utils import setup_globals

    setup_globals()


def _disk_key(lines: list[str], return_hydra_config: bool) -> str | None:
    """Everything a composition reads: the lines, the config files' contents, the folder it runs in
    (Hydra records it; a relative search path is read from it) and the libraries (``cache.environment``).
    None (not kept on disk) when a config file names a search path of its own, or the key cannot be made."""
    dirs = config_dirs()
    try:
        state = _fingerprint(dirs)
        files = tuple(sorted(os.path.join(folder, name) for folder, name, _, _ in state))
        digest = cache.content_digest(files, tuple(sorted(state)))
        cwd = os.getcwd()
    except OSError:  # (a folder removed meanwhile, the working folder gone): composed afresh
        return None
    if digest is None:
        return None
    return "\n".join([cache.environment(), f"cwd {cwd}", f"folders {[str(d) for d in dirs]}", f"configs {digest}",
                      f"hydra settings {return_hydra_config}", f"lines {lines!r}"])


def _compose_afresh(lines: list[str], return_hydra_config: bool) -> DictConfig:
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException

    try:
        with cache.LOCK, _outside_a_running_app(), initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
            return hydra_compose(config_name="config", overrides=lines, return_hydra_config=return_hydra_config)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:  # a config file of the user's folder is broken
        raise ConfigError(_explain_unreadable_file(exc)) from None
    except (HydraException, OmegaConfBaseException, ValueError, AssertionError, TypeError, KeyError) as exc:
        # (OmegaConf answers some impossible overrides, e.g. a key under an unset node, with an assert)
        raise ConfigError(_explain_compose_error(exc, lines)) from None


def compose_with_hydra_settings(overrides: list[str]) -> DictConfig:
    """The composed config with its ``hydra`` branch (run folder, launcher, ...), never cached.

    ``+hydra.KEY=...`` / ``++hydra.KEY=...`` lines that add a key Hydra's own schema does
    not have (Hydra accepts them silently) are refused with one line.
    """
    lines = list(overrides)
    adds = [line for line in lines if line.lstrip("+").startswith("hydra.") and line.startswith("+")]
    cfg = _hydra_compose([line for line in lines if line not in adds], return_hydra_config=True)
    for line in adds:
        _check_hydra_key(cfg, line.lstrip("+").split("=", 1)[0])
    return _hydra_compose(lines, return_hydra_config=True) if adds else cfg


def _check_hydra_key(cfg: DictConfig, key: str) -> None:
    """An added ``hydra.*`` key must be a setting of Hydra's schema or sit in one of its open mappings."""
    parts = key.split(".")
    node = cfg.hydra
    for depth, part in enumerate(parts[1:], start=1):
        path = ".".join(parts[:depth])
        fields = [str(k) for k in node.keys()]
        if part not in fields:
            if OmegaConf.get_type(node) in (dict, None):
                return  # a new key of an open mapping (job.env_set, callbacks, ...)
            raise _unknown_hydra(key, path, fields)
        if depth == len(parts) - 1:
            return
        child = OmegaConf.select(node, part, throw_on_missing=False)
        if child is None:
            raise ConfigError(f"{key}: {path}.{part} is not set; set it whole instead, "
                              f"e.g. {path}.{part}={{{parts[depth + 1]}: ...}}")
        if not isinstance(child, DictConfig):
            return  # not a mapping: Hydra's composition answers for it
        node = child


def _unknown_hydra(key: str, parent: str, fields: list[str]) -> ConfigError:
    close = difflib.get_close_matches(key.rpartition(".")[2], fields, n=1)
    hint = f"did you mean {_join(parent, close[0])}?" if close else f"allowed keys: {', '.join(fields)}"
    return ConfigError(f"{key}: not a Hydra setting; {hint}")


def _base(groups: list[str]) -> cache.Base:
    dirs = config_dirs()
    key = (cache.folders_key(dirs), _fingerprint(dirs), tuple(groups))
    return cache.base(key, lambda: _hydra_compose(list(groups)))


def _request(scenario: Any, seed: Any, months: Any, overrides: dict | list | None) -> tuple[Overrides, list]:
    """The overrides sorted, with the scenario choice and the seed and months arguments checked.

    Returns the overrides and the values the arguments set (applied last). A scenario,
    seed or months given both as an argument and in ``overrides`` must agree.
    """
    ov = split(overrides, config_dirs())
    if scenario is not None:
        scenario = plain(scenario, "scenario")
        if not isinstance(scenario, str):
            raise ConfigError(f"scenario: expected a scenario name, got {scenario!r}; allowed: "
                              f"{', '.join(scenario_names())}")
        other = [c for c in ov.choice("scenario") if c != scenario]
        if other:
            raise ConfigError(f"scenario: {scenario!r} is the scenario argument but the overrides choose "
                              f"{other[0]!r}; give the scenario once")
        if not ov.choice("scenario"):
            ov.groups.append(f"scenario={scenario}")
    for name in ov.choice("scenario"):
        if name not in scenario_names():
            raise ConfigError(f"scenario: unknown scenario {name!r}; allowed: {', '.join(scenario_names())}")
    extra = []
    for name, arg in (("seed", seed), ("months", months)):
        if arg is None:
            continue
        arg = plain(arg, name)
        given = [v for k, v in ov.values if k == name]
        if given and given[-1] != arg:
            raise ConfigError(f"{name}: {arg!r} is the {name} argument but the overrides set {given[-1]!r}; "
                              f"give {name} once")
        extra.append((name, arg))
    return ov, extra


def _compose_request(ov: Overrides, extra: list) -> DictConfig:
    if ov.needs_hydra:  # only Hydra can apply some line: compose them all afresh, in their order
        lines = ov.lines + [g for g in ov.groups if g not in ov.lines]
        if any(line.startswith("+") and line.lstrip("+").startswith("hydra.") for line in lines):
            compose_with_hydra_settings(lines)  # refuses an added key that is not a Hydra setting
        cfg = _hydra_compose(lines)
        values = ([] if ov.lines else ov.values) + extra
    else:
        cfg = cache.raw_copy(_base(ov.groups))
        values = ov.values + extra
    for key, value in values:
        _set_value(cfg, key, value)
    return cfg


def compose(scenario: str | None = None, seed: int | None = None, months: int | None = None,
            overrides: dict | list | None = None) -> DictConfig:
    """The raw Hydra config of a scenario plus overrides (no validation of values); the caller's own copy."""
    return _compose_request(*_request(scenario, seed, months, overrides))


def load_config(scenario: str | None = None, seed: int | None = None, months: int | None = None,
                overrides: dict | list | None = None) -> Config:
    """Compose and validate: the one entry point for building a run's configuration.

    ``scenario`` None runs the scenario the overrides choose, else ``baseline``; ``seed``
    and ``months`` None keep the config's (or the overrides') values. Numbers may be
    numpy scalars. Raises ``ConfigError`` (one line) for any bad input.
    """
    ov, extra = _request(scenario, seed, months, overrides)
    values = ov.values + extra
    start_date_given = any(key == START_DATE for key, _ in ov.values) or any(
        line.split("=", 1)[0].lstrip("+~") == START_DATE for line in ov.lines)
    if not ov.needs_hydra:
        base = _base(ov.groups)
        if base.plain is not None and not any(
                cache.touches_reference(base, k) or has_interpolation(v) for k, v in values):
            data = cache.plain_copy(base)  # the fast path: plain data, no OmegaConf
            for key, value in values:
                _set_plain(data, key, value)
            return validate(data, start_date_given=start_date_given)
    return validate(_compose_request(ov, extra), start_date_given=start_date_given)


# ------------------------------------------------------------------- setting values
def _unknown(key: str, parent: str, siblings: list[str]) -> ConfigError:
    close = difflib.get_close_matches(key.rpartition(".")[2], siblings, n=1)
    hint = f"did you mean {_join(parent, close[0])}?" if close else f"allowed keys: {', '.join(siblings)}"
    return ConfigError(f"{key}: unknown parameter; {hint}")


def _set_value(cfg: DictConfig, key: str, value: Any) -> None:
    """Set one config path on a composed config, as a Hydra ``key=value`` override would."""
    value = plain(value, key)
    parent, _, leaf = key.rpartition(".")
    node = OmegaConf.select(cfg, parent) if parent else cfg
    if not isinstance(node, DictConfig):
        raise ConfigError(f"{key}: unknown parameter; {parent or key} is not a parameter group")
    if leaf not in node and parent not in OPEN_MAPPINGS:
        raise _unknown(key, parent, [str(k) for k in node.keys()])
    with open_dict(cfg):
        OmegaConf.update(cfg, key, value, merge=False)


def _select(data: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


def _set_plain(data: dict, key: str, value: Any) -> None:
    """``_set_value`` on the plain (resolved) data of a composed config."""
    parent, _, leaf = key.rpartition(".")
    node = _select(data, parent) if parent else data
    if not isinstance(node, dict):
        raise ConfigError(f"{key}: unknown parameter; {parent or key} is not a parameter group")
    if leaf not in node and parent not in OPEN_MAPPINGS:
        raise _unknown(key, parent, [str(k) for k in node])
    node[leaf] = value


def _explain_compose_error(exc: Exception, overrides: list[str]) -> str:
    # Hydra wraps OmegaConf's error ("Error merging override ..."): the wrapped one names
    # the field and what went wrong more precisely.
    cause = exc.__cause__
    if isinstance(cause, (ValidationError, ConfigTypeError)) and getattr(cause, "full_key", None):
        return _explain_wrong_value(cause)
    text = str(exc)
    if text.startswith("Could not delete from config."):
        deleted = text.split("'")[1] if text.count("'") >= 2 else ""
        if deleted and _exists(deleted):  # Hydra counts a null setting as missing
            return (f"{deleted}: already null (unset), nothing to delete; allowed: leave it out, "
                    f"or set it with {deleted}=VALUE")
        parent, _, index = deleted.rpartition(".")
        entries = _select(_base([]).plain, parent) if parent else None
        if isinstance(entries, list):
            held = f"{len(entries)} entries (0 to {len(entries) - 1})" if entries else "no entries"
            return f"{deleted}: no such entry; {parent} has {held}"
    for o in overrides:
        key, _, choice = o.partition("=")
        key = key.lstrip("+~")
        if key == "hydra.searchpath":
            continue
        if key in GROUP_DIRS and f"'{key}/{choice}'" in text:
            return f"{key}: unknown option {choice!r}; allowed: {', '.join(group_options(key))}"
        if "An item is already at" in text and f"'{key}'" in text:
            return f"{key}: already set; to change it write {o.lstrip('+')} (a leading + adds a new key)"
        if key.startswith("hydra.") and f"'{key}'" in text:
            return f"{key}: not a Hydra setting (python -m sim --cfg hydra lists them)"
        if (f"'{key}'" in text or key in text) and not _exists(key):
            parent, _, leaf = key.rpartition(".")
            siblings = _keys_at(parent)
            close = difflib.get_close_matches(leaf, siblings, n=1)
            hint = f"did you mean {_join(parent, close[0])}?" if close else (
                f"allowed keys: {', '.join(siblings)}" if siblings else "no such parameter group")
            return f"{key}: unknown parameter; {hint}"
    return " ".join(text.split("\nSee https://hydra.cc")[0].split())


# OmegaConf's names of the types a value failed to convert to, as the messages say them
_TYPE_WORDS = {"bool": "true or false", "Integer": "a whole number", "int": "a whole number", "Float": "a number",
               "float": "a number", "str": "a text", "string": "a text"}


def _merge_message(key: str, given_kind: str, kept_kind: str) -> str:
    given, kept = ("a mapping" if kind == "Dict" else "a list" for kind in (given_kind, kept_kind))
    example = "[...]" if kept == "a list" else "{...}"
    return f"{key}: {given} cannot replace {kept}; allowed: {kept} (e.g. {key}={example})"


# OmegaConf's first line for a value of the wrong kind -> our one line (key, the groups matched)
_WRONG_VALUE_MESSAGES = (
    (r"Value '(.*)' (?:is not a valid|could not be converted to) (\w+)",
     lambda key, value, kind: f"{key}: {value!r} is not allowed; allowed: {_TYPE_WORDS.get(kind, kind)}"),
    (r"Invalid value '(.*)', expected one of \[(.*)\]",
     lambda key, value, choices: f"{key}: {value!r} is not allowed; allowed: {choices}"),
    (r"Cannot assign (\w+) to (.+)",
     lambda key, kind, target: f"{key}: a value of type {kind} is not allowed; allowed: {target}"),
    (r"Cannot convert '(\w+)' to (\w+)",
     lambda key, kind, to: f"{key}: a value of type {kind} is not allowed; allowed: {_TYPE_WORDS.get(to, to)}"),
    (r"Cannot merge (\w+)Config with (\w+)Config", _merge_message),
)


def _explain_wrong_value(cause: OmegaConfBaseException) -> str:
    """One line for a value of the wrong kind (``hydra.job.chdir=maybe``, ``scenario.events={}``)."""
    key = cause.full_key
    problem = str(cause).split("\n")[0].strip()
    for pattern, message in _WRONG_VALUE_MESSAGES:
        found = re.match(pattern, problem)
        if found:
            return message(key, *found.groups())
    return f"{key}: {problem}"


def _exists(path: str) -> bool:
    """Whether a config path names a setting of the default composition (a null one too)."""
    parent, _, leaf = path.rpartition(".")
    node = _select(_base([]).plain, parent) if parent else _base([]).plain
    return isinstance(node, dict) and leaf in node


def _keys_at(path: str) -> list[str]:
    try:
        node = _select(_base([]).plain, path) if path else _base([]).plain
        return [str(k) for k in node] if isinstance(node, dict) else []
    except ConfigError:
        return []


# ------------------------------------------------------------------------- validating
def validate(cfg: DictConfig | dict, *, start_date_given: bool = False) -> Config:
    """Turn a composed config into typed dataclasses; raise ConfigError on bad input.

    Checks every parameter, every top-level branch (``BRANCH_SCHEMAS``), cross-field
    rules, the history record and every scenario event, so nothing runs on a bad config.
    ``start_date_given``: the user's overrides set ``scenario.start_date`` (refused for a
    run from today unless it is the hand-over month, which such a run starts at anyway).
    """
    if isinstance(cfg, DictConfig):
        try:
            data = OmegaConf.to_container(cfg, resolve=True)
        except OmegaConfBaseException as exc:
            raise ConfigError(_explain_resolution_error(exc)) from None
    elif isinstance(cfg, dict):
        data = dict(cfg)
    else:
        raise ConfigError(f"config: expected a mapping of settings, got {type(cfg).__name__}")
    extras = {k: data.pop(k) for k in list(data) if k in PASSTHROUGH_KEYS}
    top = [f.name for f in dataclasses.fields(Config) if f.name != "extras"] + list(BRANCH_SCHEMAS)
    for key in data:
        if key not in top:
            raise _unknown(str(key), "", top)
    config = build(Config, data)
    config.extras = check_branches(extras)
    for name in ("scenario", "pakistan", "taliban", "militants", "mediators", "world", "influences", "output"):
        if getattr(config, name) is None:
            raise ConfigError(f"{name}: missing config group")
    _check_cross_field(config)
    if "history" in extras:
        apply_history(config)  # history.mode forced: the stance record becomes held stance events
    if start_date_given:
        _check_start_date_given(config)
    check_start(config)  # start=today: the run begins where the record ends
    check_events(config)
    return config


def _explain_resolution_error(exc: OmegaConfBaseException) -> str:
    """One line for a value OmegaConf cannot resolve (``seed=${nope}``), naming the field.

    OmegaConf's own text spans lines (``full_key: ...``, ``object_type=...``); only its
    first line says what went wrong.
    """
    field_name = getattr(exc, "full_key", None) or "config"
    problem = str(exc).split("\n")[0].strip()
    if isinstance(exc, InterpolationKeyError):
        missing = problem.split("'")[1] if problem.count("'") >= 2 else problem
        return (f"{field_name}: the interpolation names {missing!r}, which is not a setting; allowed: a value, "
                f"or an interpolation to an existing setting (e.g. ${{scenario.months}})")
    if isinstance(exc, (InterpolationResolutionError, GrammarParseError)):
        return (f"{field_name}: cannot resolve the interpolation ({problem}); allowed: a value, "
                f"or an interpolation to an existing setting (e.g. ${{scenario.months}})")
    return f"{field_name}: {problem}"


def _check_start_date_given(config: Config) -> None:
    """A run from today starts at the hand-over month: a start month the user chose would be silently replaced."""
    if config.start != "today" or is_record(config):
        return
    handover = handover_month()
    if parse_month(config.scenario.start_date, START_DATE) != handover:
        raise ConfigError(f"{START_DATE}: a run from today starts at the hand-over ({handover:%Y-%m}); "
                          f"set start=stylized to choose the start month")


def check_branches(extras: dict[str, Any]) -> dict[str, Any]:
    """Check each top-level branch beside the model's parameters with its schema.

    Returns the branches as plain mappings of the checked, typed values (the way
    ``Config.extras`` carries them); a branch without a schema is kept as it is.
    """
    out = {}
    for key, value in extras.items():
        schema = BRANCH_SCHEMAS.get(key)
        out[key] = value if schema is None or value is None else dataclasses.asdict(build(schema, value, key))
    return out


def _check_cross_field(config: Config) -> None:
    parse_month(config.scenario.start_date, "scenario.start_date")
    for name, g in config.militants.groups.items():
        if g.share_security + g.share_civilian > 1.0 + 1e-9:
            raise ConfigError(
                f"militants.groups.{name}.share_security + share_civilian: "
                f"{g.share_security + g.share_civilian:g} is out of range; allowed sum <= 1")
    groups, roles = config.militants.groups, config.militants.roles
    for role in ("sheltered", "rival"):
        name = getattr(roles, role)
        if name is not None and name not in groups:
            allowed = ", ".join(groups) + ("" if role == "sheltered" else ", null")
            raise ConfigError(f"militants.roles.{role}: {name!r} is not a configured group; allowed: {allowed}")
    if roles.rival is not None and roles.rival == roles.sheltered:
        raise ConfigError(f"militants.roles.rival: {roles.rival!r} is also the sheltered group; choose another group or null")
