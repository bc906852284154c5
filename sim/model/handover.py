"""Starting from today: the replay prefix, its snapshot cache and the hand-over (docs/ODD.md, "Starting from today").

With ``start=today`` (``sim.config.start``) a forward run does not begin from the hand-set
defaults. ``take_over`` (called by ``PolicyModel.__init__`` once the agents exist):

1. picks the run's parameter set of the calibrated ensemble (``params_draw``);
2. gets the **snapshot** of the record replayed with the run's seed and that set: the
   history scenario in forced mode, August 2021 to November 2025, its dated holds
   ended as the record ends. The snapshot holds every attribute of the world, of every
   agent (Pakistan, the Taliban, each militant group and mediator) and of the external
   influences, plus every random stream, plus the replay's frame. It is computed once
   per (seed, parameter set): kept per process, and on disk keyed by a hash of the
   config files, the seed, the parameter set's values and the model's source code
   (written atomically), so a cold or warm cache gives the same numbers;
3. sets **today's parameters** on the run's config: the set's fitted values and every
   parameter the record itself moved (India's outreach, the military's weight, the
   2024 counter-terror intensity, ...), but only where neither the scenario nor the
   user's overrides changed the default (a value equal to the default counts as
   unchanged). So the future runs on draw + scenario + overrides, and an override
   acts from the hand-over on: the past stays the same;
4. copies the snapshot's state into the run's objects, whole: every attribute except
   the wiring (the model, the parameters, Mesa's ids), so a field added to an agent or
   the world is carried without a change here. The random streams continue where the
   replay left them.

The forward frame starts in the hand-over month; the replay's frame is kept on the
model as ``model.replay_frame`` for figures that show history and future together.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import os
import pickle
import random
import sys
import tempfile
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import mesa
import numpy as np
import pandas as pd
import yaml

from sim.config import start
from sim.config.loading import config_dirs, load_config
from sim.config.schema import Config

# A model here is a ``sim.model.policy_model.PolicyModel`` (typed as mesa.Model: that module imports this one).

# Attributes that wire an object into its model rather than describe its state.
WIRING = frozenset({"model", "unique_id", "pos", "params"})
# Config branches that hold the model's parameters (the rest: seed, scenario, output, ...).
PARAMETER_BRANCHES = ("pakistan", "taliban", "militants", "mediators", "world", "influences")
SOURCE = Path(__file__).resolve().parents[1]      # the ``sim`` package
CODE_FOLDERS = ("model", "agents", "config")      # the code a replay's numbers depend on
CACHE_ENV = "SIM_REPLAY_CACHE"                    # a folder for the disk cache, or "off"
DEFAULT_CACHE = SOURCE.parent / "results" / "cache" / "replay"
MAX_SNAPSHOTS = 256                               # per process (least recently used dropped); ~50 KB each

stats = {"process_hits": 0, "disk_hits": 0, "replays": 0}  # for tests and the benchmark


@dataclass(frozen=True)
class Snapshot:
    """The record replayed with one seed and parameter set, at the hand-over."""

    draw: int
    states: dict[str, dict[str, Any]]    # object (world, pakistan, militants.ttp, ..., model) -> attributes
    today_params: dict[str, Any]         # config path -> value: the set's fitted values and what the record moved
    frame: pd.DataFrame                  # the replay's frame, one row per month of the record


# ------------------------------------------------------------------ the objects carried
def carried_objects(model: mesa.Model) -> dict[str, Any]:
    """Every object whose state is handed over, by a name shared by the replay and the run."""
    out: dict[str, Any] = {"world": model.world, "pakistan": model.pakistan, "taliban": model.taliban,
                           "influences": model.influences, "sectarian": model.sectarian}
    out.update({f"militants.{name}": g for name, g in model.militants.items()})
    out.update({f"mediators.{name}": m for name, m in model.mediators.items()})
    return out


def state_of(obj: Any) -> dict[str, Any]:
    """An object's state: every attribute but its wiring (model, parameters, ids, links to agents)."""
    return {k: v for k, v in vars(obj).items()
            if k not in WIRING and not isinstance(v, (mesa.Model, mesa.Agent))}


def model_streams(model: mesa.Model) -> dict[str, Any]:
    """The model's own random generators (its named streams and Mesa's), by attribute name."""
    return {k: v for k, v in vars(model).items() if isinstance(v, (np.random.Generator, random.Random))}


def _put(obj: Any, name: str, value: Any) -> None:
    """Set one attribute; a random generator keeps its identity and takes the state over."""
    current = getattr(obj, name, None)
    if isinstance(current, np.random.Generator) and isinstance(value, np.random.Generator):
        current.bit_generator.state = value.bit_generator.state
    elif isinstance(current, random.Random) and isinstance(value, random.Random):
        current.setstate(value.getstate())
    else:
        setattr(obj, name, _copy(value))


def _copy(value: Any) -> Any:
    """A deep copy, fast for the plain numbers, texts and mappings that most state is made of."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if type(value) is dict:
        return {k: _copy(v) for k, v in value.items()}
    if type(value) is list:
        return [_copy(v) for v in value]
    return copy.deepcopy(value)


# ------------------------------------------------------------------ config paths
def parameter_values(config: Config) -> dict[str, Any]:
    """Every model parameter of a config as flat dotted paths (``militants.groups.ttp.attack_rate``)."""
    out: dict[str, Any] = {}

    def walk(node: Any, path: str) -> None:
        if dataclasses.is_dataclass(node):
            for f in dataclasses.fields(node):
                walk(getattr(node, f.name), f"{path}.{f.name}")
        elif isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{path}.{k}")
        else:
            out[path] = node

    for branch in PARAMETER_BRANCHES:
        walk(getattr(config, branch), branch)
    return out


_MISSING = object()


def _resolve(config: Config, path: str) -> tuple[Any, str]:
    """The object holding the last part of ``path``, and that part (``_MISSING`` if none)."""
    *parents, leaf = path.split(".")
    node: Any = config
    for part in parents:
        node = node.get(part, _MISSING) if isinstance(node, dict) else getattr(node, part, _MISSING)
        if node is _MISSING:
            return _MISSING, leaf
    return node, leaf


def get_path(config: Config, path: str) -> Any:
    node, leaf = _resolve(config, path)
    if node is _MISSING:
        return _MISSING
    return node.get(leaf, _MISSING) if isinstance(node, dict) else getattr(node, leaf, _MISSING)


def set_path(config: Config, path: str, value: Any) -> None:
    node, leaf = _resolve(config, path)
    if isinstance(node, dict):
        node[leaf] = value
    else:
        setattr(node, leaf, value)


# ------------------------------------------------------------------ the replay
_REPLAY_CONFIGS: dict[tuple, Config] = {}


def replay_config(seed: int, draw: int) -> Config:
    """The record's config for one seed and parameter set: forced mode, the set's values.

    Composed and validated once per parameter set and process; only the seed differs.
    """
    ens = start.ensemble()
    key = (draw, ens.signature, start.record_span(), config_dirs())
    if key not in _REPLAY_CONFIGS:
        overrides = {"history.mode": "forced", **ens.sets[draw].values}
        _REPLAY_CONFIGS[key] = load_config(start.RECORD_SCENARIO, 0, overrides=overrides)
    config = copy.deepcopy(_REPLAY_CONFIGS[key])
    config.seed = int(seed)
    return config


def end_holds(model: mesa.Model) -> None:
    """End every dated hold still running as the record ends (latest first, so overlaps unwind).

    A held parameter returns to its earlier value and a forced stance, instrument or
    border is released, as they would have been the month after.
    """
    last = model.month
    for ev in sorted(model.timeline.events, key=lambda e: (e.start, e.index), reverse=True):
        if ev.spec.months > 0 and ev.start <= last < ev.end:
            if ev.binding.release is not None:
                ev.binding.release()
            else:
                ev.binding.set(ev.saved)


def replay(model_class: type, seed: int, draw: int) -> Snapshot:
    """Run the record with this seed and parameter set and take its snapshot at the hand-over."""
    config = replay_config(seed, draw)
    model = model_class(config).run()
    end_holds(model)
    before = parameter_values(config)            # the replay's parameters as the record began
    after = parameter_values(model.config)       # ... and as it ends (events move some for good)
    moved = {path: value for path, value in after.items() if before.get(path, _MISSING) != value}
    states = {name: copy.deepcopy(state_of(obj)) for name, obj in carried_objects(model).items()}
    states["model"] = copy.deepcopy(model_streams(model))
    today = {**start.ensemble().sets[draw].values, **moved}
    stats["replays"] += 1
    return Snapshot(draw=draw, states=states, today_params=today, frame=model.frame())


# ------------------------------------------------------------------ caches
_SNAPSHOTS: OrderedDict[tuple, Snapshot] = OrderedDict()
_CODE_VERSION: list[str] = []


def code_version() -> str:
    """A hash of the model's source code and the libraries its random numbers come from."""
    if not _CODE_VERSION:
        h = hashlib.sha256(f"{sys.version_info[:2]} numpy {np.__version__} mesa {mesa.__version__}".encode())
        for folder in CODE_FOLDERS:
            for path in sorted((SOURCE / folder).rglob("*.py")):
                h.update(str(path.relative_to(SOURCE)).encode())
                h.update(path.read_bytes())
        _CODE_VERSION.append(h.hexdigest())
    return _CODE_VERSION[0]


def cache_folder() -> Path | None:
    """The disk cache's folder (``SIM_REPLAY_CACHE``; ``off`` turns it off)."""
    where = os.environ.get(CACHE_ENV, "")
    if where.lower() == "off":
        return None
    return Path(where).expanduser() if where else DEFAULT_CACHE


_CONFIG_DIGESTS: dict[tuple, str] = {}


def config_digest() -> str:
    """A hash of every config file the replay may read (all of ``configs/`` and the user's folders), once per process.

    Wider than the replay needs (an edit to any config file makes new keys), but it is
    read without composing and validating a config, so a disk hit costs a file read.
    """
    key = config_dirs()
    if key not in _CONFIG_DIGESTS:
        h = hashlib.sha256()
        for folder in key:
            for path in sorted(folder.rglob("*.y*ml")):
                h.update(str(path.relative_to(folder)).encode())
                h.update(path.read_bytes())
        _CONFIG_DIGESTS[key] = h.hexdigest()
    return _CONFIG_DIGESTS[key]


def disk_key(seed: int, draw: int) -> str:
    """The disk cache's key: the model's code, the config files, the seed and the parameter set's values."""
    values = json.dumps(start.ensemble().sets[draw].values, sort_keys=True, default=str)
    text = f"{code_version()}\n{config_digest()}\n{start.RECORD_SCENARIO}\nseed {int(seed)}\nset {draw}\n{values}"
    return hashlib.sha256(text.encode()).hexdigest()


def _load(path: Path) -> Snapshot | None:
    try:
        with open(path, "rb") as fh:
            snap = pickle.load(fh)
        return snap if isinstance(snap, Snapshot) else None
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, TypeError, ValueError):
        return None  # unreadable or from older code: computed again


def _store(path: Path, snap: Snapshot) -> None:
    """Write atomically (temporary file, then rename): a reader never sees half a snapshot."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(snap, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except (OSError, pickle.PicklingError, TypeError, AttributeError):
        # A read-only or full disk, or state that cannot be pickled, only costs the replay again next time.
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)


def snapshot(model_class: type, seed: int, draw: int) -> Snapshot:
    """The snapshot of (seed, parameter set): from this process, else from disk, else replayed."""
    ens = start.ensemble()
    key = (int(seed), draw, ens.signature, start.record_span(), config_dirs())
    hit = _SNAPSHOTS.get(key)
    if hit is not None:
        _SNAPSHOTS.move_to_end(key)
        stats["process_hits"] += 1
        return hit
    folder = cache_folder()
    path = None
    snap = None
    if folder is not None:
        path = folder / f"{disk_key(seed, draw)}.pkl"
        snap = _load(path)
        if snap is not None:
            stats["disk_hits"] += 1
    if snap is None:
        snap = replay(model_class, seed, draw)
        if path is not None:
            _store(path, snap)
    _SNAPSHOTS[key] = snap
    while len(_SNAPSHOTS) > MAX_SNAPSHOTS:
        _SNAPSHOTS.popitem(last=False)
    return snap


def clear_cache() -> None:
    """Forget this process's snapshots (the disk cache stays; delete its folder to clear it)."""
    _SNAPSHOTS.clear()


# ------------------------------------------------------------------ the hand-over
_DEFAULTS: dict[tuple, dict[str, Any]] = {}


def default_values() -> dict[str, Any]:
    """The parameters of the default config (no scenario changes, no overrides), once per process."""
    key = config_dirs()
    if key not in _DEFAULTS:
        _DEFAULTS[key] = parameter_values(load_config())
    return _DEFAULTS[key]


def scenario_paths(name: str) -> frozenset[str]:
    """The parameter paths a scenario file sets (whatever their value), read from the file itself."""
    for folder in reversed(config_dirs()):  # a user's folder first, as Hydra's search path finds it
        path = folder / "scenario" / f"{name}.yaml"
        if path.is_file():
            st = path.stat()
            return _file_paths(str(path), st.st_mtime_ns, st.st_size)
    return frozenset()


@lru_cache(maxsize=64)
def _file_paths(path: str, mtime: int, size: int) -> frozenset[str]:
    data = yaml.safe_load(Path(path).read_text()) or {}
    out: set[str] = set()

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict) and node:
            for k, v in node.items():
                walk(v, f"{prefix}.{k}" if prefix else str(k))
        else:
            out.add(prefix)

    walk({k: v for k, v in data.items() if k in PARAMETER_BRANCHES}, "")
    return frozenset(out)


def apply_today(config: Config, today: dict[str, Any]) -> list[str]:
    """Set today's parameters where the scenario and the overrides left the default; return the paths set.

    The scenario's own settings are known exactly (``scenario_paths``); an override is
    recognised by its value differing from the default.
    """
    defaults = default_values()
    own = scenario_paths(config.scenario.name)
    applied = []
    for path, value in today.items():
        current = get_path(config, path)
        if current is _MISSING or path in own or current != defaults.get(path, _MISSING):
            continue  # not in this run's config, or the scenario or the user set it
        set_path(config, path, value)
        applied.append(path)
    return applied


def hand_over(model: mesa.Model, snap: Snapshot) -> None:
    """Copy the snapshot's state into the run's objects (in place: their identities stay)."""
    objects = carried_objects(model)
    for name, state in snap.states.items():
        target = model if name == "model" else objects.get(name)
        if target is None:
            continue  # a group or mediator the run does not have
        for attr, value in state.items():
            _put(target, attr, value)
    # The run's own groups decide the ceasefire flags (a group new to the run starts without one).
    carried = model.world.ceasefire
    model.world.ceasefire = {name: bool(carried.get(name, False)) for name in model.militants}
    # Learning speed is a parameter the attractions keep a copy of: the run's config decides it.
    for state in (model.pakistan, model.taliban):
        state.attractions.learning_rate = state.params.learning_rate
        state.attractions.decay = state.params.attraction_decay


def take_over(model: mesa.Model, model_class: type | None = None) -> Snapshot | None:
    """``start=today``: continue the record (the steps above). Returns the snapshot the run continues.

    ``model_class`` replays the record (default: the model's own class). The model passes
    its base class, so a subclass built from keywords (``mesa.batch_run``'s way) can start
    from today even when the replay must be computed. Returns None for ``start=stylized``
    and for the history scenario itself.
    """
    config = model.config
    if config.start != "today" or start.is_record(config):
        return None
    ens = start.ensemble()
    draw = start.draw_index(config.params_draw, config.seed, len(ens.sets))
    snap = snapshot(model_class or type(model), config.seed, draw)
    apply_today(config, snap.today_params)
    hand_over(model, snap)
    month = start.handover_month()
    model.start_date = month
    config.scenario.start_date = f"{month:%Y-%m}"
    return snap
