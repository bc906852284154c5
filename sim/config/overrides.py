"""Overrides of a run's config: group choices, values, and the few only Hydra can apply.

Overrides come as a mapping (``{"pakistan.tolerance": 60}``, the API) or as Hydra
override lines (``["pakistan.tolerance=60", "scenario=pressure_first"]``, the command
line). ``split`` sorts them into:

- ``groups``: config-group choices (``scenario=NAME``), which decide what Hydra composes;
- ``values``: plain ``key=value`` settings, applied to an already composed config (so a
  composed config can be reused, see ``sim.config.cache``);
- ``lines``: every override line, kept for the rare ones only Hydra's own composition
  can apply (``+key=...``, ``++key=...``, ``~key``, a mapping merged into a mapping, an
  interpolation ``${...}``, any ``hydra.*`` setting). ``needs_hydra`` says whether there
  are any.

Values are plain Python data (``sim.config.schema.plain``: numpy scalars accepted). A
line without ``=`` or that Hydra cannot read is refused with one line.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.config.schema import ConfigError, plain

FORM = "the form is key=value (e.g. pakistan.tolerance=50)"


@dataclass
class Overrides:
    groups: list[str] = field(default_factory=list)             # group choices as override lines
    values: list[tuple[str, Any]] = field(default_factory=list)  # (config path, plain value), in order
    lines: list[str] = field(default_factory=list)               # every override line as given
    needs_hydra: bool = False                                    # some line only Hydra can apply

    def choice(self, group: str) -> list[str]:
        """The options chosen for ``group`` (``scenario``), in order."""
        # (a deletion ``~scenario`` chooses no option: it has no ``=`` and is not listed)
        return [line.split("=", 1)[1] for line in self.groups
                if "=" in line and line.split("=", 1)[0].lstrip("+~") == group]


def is_group(key: str, config_dirs: tuple[Path, ...]) -> bool:
    """A config-group name (a folder of option files in a config folder), not a parameter."""
    key = key.lstrip("+~")
    return "/" in key or ("." not in key and any((d / key).is_dir() for d in config_dirs))


@functools.cache
def _parser():
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return OverridesParser.create()


def has_interpolation(value: Any) -> bool:
    if isinstance(value, str):
        return "${" in value
    if isinstance(value, list):
        return any(has_interpolation(v) for v in value)
    if isinstance(value, dict):
        return any(has_interpolation(v) for v in value.values())
    return False


def parse_line(line: str):
    """One Hydra override line, parsed; one-line ``ConfigError`` if it has no ``=`` or cannot be read."""
    from hydra.errors import HydraException

    text = line.strip()
    if not text.startswith("~") and ("=" not in text or text.startswith("=") or text.lstrip("+").startswith("=")):
        raise ConfigError(f"{text or repr(line)}: not an override; {FORM}")
    try:
        (override,) = _parser().parse_overrides([text])
    except HydraException as exc:
        key = text.split("=", 1)[0].lstrip("+~")
        reason = " ".join(str(exc).split("\nSee https://hydra.cc")[0].split())
        raise ConfigError(f"{key}: cannot read the override {text!r}; {FORM} ({reason})") from None
    return override


def split(overrides: dict | list | tuple | None, config_dirs: tuple[Path, ...]) -> Overrides:
    """Sort overrides into group choices, plain values and lines only Hydra can apply."""
    out = Overrides()
    if overrides is None:
        return out
    if isinstance(overrides, dict):
        for key, value in overrides.items():
            key = str(plain(key, "overrides"))
            if key.startswith(("+", "~")):  # (Hydra's add/delete marks belong to override lines)
                raise ConfigError(f"{key}: a mapping of overrides takes config paths; give a line with "
                                  f"{key[0]} in a list instead, e.g. overrides=['{key}=...']")
            value = plain(value, key)
            if is_group(key, config_dirs) and isinstance(value, str):
                out.groups.append(f"{key}={value}")
            else:
                out.values.append((key, value))
        return out
    if isinstance(overrides, str) or not isinstance(overrides, (list, tuple)):
        raise ConfigError(f"overrides: expected a mapping of config paths to values or a list of key=value "
                          f"lines, got {overrides!r}")
    for raw in overrides:
        if not isinstance(raw, str):
            raise ConfigError(f"overrides: {raw!r} is not an override line; {FORM}")
        line = raw.strip()
        o = parse_line(line)
        key = o.key_or_group
        if o.is_sweep_override():
            raise ConfigError(f"{key}: {line.split('=', 1)[1]} is a sweep; a single run takes one value "
                              f"(run a sweep with python -m sim -m {line})")
        out.lines.append(line)
        if o.package is not None or is_group(key, config_dirs):
            out.groups.append(line)
            continue
        value = o.value()
        simple = (not o.is_hydra_override() and not o.is_add() and not o.is_force_add() and not o.is_delete()
                  and not isinstance(value, dict) and not has_interpolation(value))
        if simple:
            out.values.append((key, plain(value, key)))
        else:
            out.needs_hydra = True
    return out
