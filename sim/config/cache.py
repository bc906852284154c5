"""Compose once: the Hydra composition of each (config folders, group choices), kept per process.

Hydra's composition (reading and merging the YAML files of ``configs/``) costs about a
hundred times more than applying a few values to its result, and it depends only on
the config folders and the group choices (``scenario=...``), not on the values
(``pakistan.tolerance=60``): Hydra too composes first and applies value overrides after.
So ``base`` composes each combination once and keeps it; ``sim.config.loading`` applies
the values to a copy. A ``Base`` is never handed out: callers get deep copies, so no
caller's change can leak into the cache or into another caller's config.

``Base.plain`` is the resolved config as plain data (the fast path: copying it costs
about a tenth of a millisecond); ``Base.references`` are the config paths that
interpolations (``${militants.resettled_per_release}``) read: a value set on one of
those must go through OmegaConf, which resolves the interpolation again.

Compositions are also kept **between processes**, on disk (``composed``): a sweep's
launching process and each of its worker processes would otherwise compose the same
config afresh at start (0.1-0.3 s each, on the sweep's critical path); reading one back
costs 1-2 ms. An entry's key is everything a composition reads: the override lines, the
*content* of every config file, the working folder, the Python, Hydra and OmegaConf
versions and the installed Hydra plugins' files. An edit to any of them makes a new
key; an entry that cannot be read (damaged, truncated, from other code) is ignored and
written again, never an error. ``SIM_CONFIG_CACHE`` names the folder (default: the
user's cache folder, ``$XDG_CACHE_HOME/pakaf-sim/compositions`` or
``~/.cache/pakaf-sim/compositions``); ``SIM_CONFIG_CACHE=off`` turns it off.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import os
import pickle
import re
import sys
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import hydra
import omegaconf

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

MAX_ENTRIES = 64          # combinations kept per process (least recently used dropped); a few KB each
EVERYTHING = "*"          # in references: an interpolation whose inputs cannot be read off its text
_NODE = re.compile(r"\$\{([^${}]*)\}")
_PATH = re.compile(r"^[A-Za-z_][\w-]*(\.[\w-]+)*$")
DISK_ENV = "SIM_CONFIG_CACHE"   # a folder for compositions kept between processes, or "off"
DISK_FORMAT = 1                 # raised when what an entry holds changes: older entries are then never read
MAX_DISK_ENTRIES = 256          # entries kept on disk (oldest removed); 30-50 KB each


@dataclass(frozen=True)
class Base:
    raw: DictConfig                 # the composed config, interpolations unresolved
    plain: dict | None              # resolved, as plain data (None if it does not resolve on its own)
    references: frozenset[str]      # config paths read by interpolations


_CACHE: OrderedDict[tuple, Base] = OrderedDict()
LOCK = threading.RLock()           # Hydra's global state allows one composition at a time
stats = {"hits": 0, "misses": 0}    # for tests and the benchmark: how often composition was avoided
disk_stats = {"hits": 0, "misses": 0, "unreadable": 0}  # the same for the disk cache


def _references(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, str):
        for inner in _NODE.findall(node):
            found.add(inner if _PATH.match(inner) else EVERYTHING)
        if "${" in node and not found:
            found.add(EVERYTHING)
    elif isinstance(node, dict):
        for v in node.values():
            found |= _references(v)
    elif isinstance(node, list):
        for v in node:
            found |= _references(v)
    return found


def base(key: tuple, compose: Callable[[], DictConfig]) -> Base:
    """The cached composition for ``key`` (config folders, group choices), composed once by ``compose``."""
    with LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            stats["hits"] += 1
            return hit
        raw = compose()
        try:
            resolved = OmegaConf.to_container(raw, resolve=True)
        except OmegaConfBaseException:
            resolved = None  # validation will report it; every caller takes the OmegaConf path
        entry = Base(raw=raw, plain=resolved,
                     references=frozenset(_references(OmegaConf.to_container(raw, resolve=False))))
        _CACHE[key] = entry
        stats["misses"] += 1
        while len(_CACHE) > MAX_ENTRIES:
            _CACHE.popitem(last=False)
        return entry


def touches_reference(base_: Base, key: str) -> bool:
    """Whether setting ``key`` changes what an interpolation of the config reads."""
    if EVERYTHING in base_.references:
        return True
    return any(key == ref or ref.startswith(key + ".") or key.startswith(ref + ".") for ref in base_.references)


def raw_copy(base_: Base) -> DictConfig:
    return copy.deepcopy(base_.raw)


def plain_copy(base_: Base) -> dict:
    return copy.deepcopy(base_.plain)


def clear() -> None:
    """Forget every composition (configs edited on disk while the process runs, tests)."""
    with LOCK:
        _CACHE.clear()


def folders_key(config_dirs: tuple[Path, ...]) -> tuple[str, ...]:
    return tuple(str(d) for d in config_dirs)


# ------------------------------------------------------------------ between processes
def disk_folder() -> Path | None:
    """The disk cache's folder (``SIM_CONFIG_CACHE``; ``off`` turns it off; module docstring)."""
    where = os.environ.get(DISK_ENV, "").strip()
    if where.lower() == "off":
        return None
    if where:
        return Path(where).expanduser()
    root = os.environ.get("XDG_CACHE_HOME", "").strip()
    try:
        return (Path(root) if root else Path.home() / ".cache") / "pakaf-sim" / "compositions"
    except RuntimeError:  # no home folder to be found: nothing kept
        return None


@functools.cache
def environment() -> str:
    """What a composition reads besides the config files and the override lines: the Python,
    Hydra and OmegaConf versions and the installed Hydra plugins (their schemas and config
    files are part of the ``hydra`` branch), by name, time and size of each file."""
    try:
        import hydra_plugins  # (a namespace package: every installed plugin's folder)
        roots = sorted({str(p) for p in hydra_plugins.__path__})
    except ImportError:  # no plugin installed
        roots = []
    parts = [f"format {DISK_FORMAT}", sys.version, f"hydra {hydra.__version__}", f"omegaconf {omegaconf.__version__}"]
    for root in roots:
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                if name.endswith((".py", ".yaml", ".yml")):
                    st = os.stat(os.path.join(folder, name))
                    parts.append(f"{folder}/{name} {st.st_mtime_ns} {st.st_size}")
    return "\n".join(parts)


@functools.lru_cache(maxsize=16)
def content_digest(files: tuple[str, ...], stats_: tuple) -> str | None:
    """A hash of the names and contents of config files, read once per process while their
    times and sizes (``stats_``) stay the same; None if a file sets Hydra's search path
    (the composition then reads folders whose files are not in the hash)."""
    h = hashlib.sha256()
    for path in files:
        h.update(path.encode() + b"\0")
        try:
            content = Path(path).read_bytes()
        except OSError:
            content = b"<unreadable>"
        if b"searchpath" in content:
            return None
        h.update(content)
        h.update(b"\0")
    return h.hexdigest()


def composed(key_text: str, compose: Callable[[], DictConfig]) -> DictConfig:
    """The composition ``compose`` makes, read from the disk cache when an entry for ``key_text`` is
    there (module docstring); the caller's own object either way. A failing ``compose`` stores nothing."""
    folder = disk_folder()
    if folder is None:
        return compose()
    path = folder / f"{hashlib.sha256(key_text.encode()).hexdigest()[:40]}.pickle"
    found = _read(path, key_text)
    if found is not None:
        disk_stats["hits"] += 1
        return found
    cfg = compose()
    disk_stats["misses"] += 1
    _write(path, key_text, cfg)
    return cfg


def _read(path: Path, key_text: str) -> DictConfig | None:
    try:
        with open(path, "rb") as fh:
            stored_key, cfg = pickle.load(fh)
    except FileNotFoundError:
        return None
    except Exception:  # noqa: BLE001 - damaged, truncated or written by other code: composed again
        disk_stats["unreadable"] += 1
        return None
    if stored_key != key_text or not isinstance(cfg, DictConfig):
        disk_stats["unreadable"] += 1
        return None
    return cfg


def _write(path: Path, key_text: str, cfg: DictConfig) -> None:
    """Write atomically (a temporary file, then a rename): a reader never sees half an entry.
    A folder that cannot be written only means nothing is kept."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            pickle.dump((key_text, cfg), fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
        tmp = None
        _prune(path.parent)
    except Exception:  # noqa: BLE001 - a cache: never an error (read-only folder, full disk, ...)
        pass
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _prune(folder: Path) -> None:
    """Keep the ``MAX_DISK_ENTRIES`` newest entries (entries of edited config files are never read again)."""
    entries = list(folder.glob("*.pickle"))
    if len(entries) <= MAX_DISK_ENTRIES:
        return
    def age(p: Path) -> float:
        try:
            return p.stat().st_mtime
        except OSError:
            return 0.0
    for old in sorted(entries, key=age)[:len(entries) - MAX_DISK_ENTRIES]:
        with contextlib.suppress(OSError):
            old.unlink()
