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
"""

from __future__ import annotations

import copy
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

MAX_ENTRIES = 64          # combinations kept per process (least recently used dropped); a few KB each
EVERYTHING = "*"          # in references: an interpolation whose inputs cannot be read off its text
_NODE = re.compile(r"\$\{([^${}]*)\}")
_PATH = re.compile(r"^[A-Za-z_][\w-]*(\.[\w-]+)*$")


@dataclass(frozen=True)
class Base:
    raw: DictConfig                 # the composed config, interpolations unresolved
    plain: dict | None              # resolved, as plain data (None if it does not resolve on its own)
    references: frozenset[str]      # config paths read by interpolations


_CACHE: OrderedDict[tuple, Base] = OrderedDict()
LOCK = threading.RLock()           # Hydra's global state allows one composition at a time
stats = {"hits": 0, "misses": 0}    # for tests and the benchmark: how often composition was avoided


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
