"""Loading a run's configuration: Hydra composition, overrides, validation into the schema.

``load_config`` composes the Hydra config of a scenario plus overrides and turns it
into the typed dataclasses of ``sim.config.schema``, so a typo, a wrong type or an
out-of-range value stops the run before it starts with one line naming the field.
"""

from __future__ import annotations

import difflib
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from sim.config.calendar import parse_month
from sim.config.history import apply_history
from sim.config.schema import CONFIG_DIR, PASSTHROUGH_KEYS, Config, ConfigError, _join, build

# ---------------------------------------------------------------------------- loading
def scenario_names() -> list[str]:
    return sorted(p.stem for p in (CONFIG_DIR / "scenario").glob("*.yaml"))


GROUP_DIRS = ("pakistan", "taliban", "militants", "mediators", "world", "influences", "output", "metrics",
              "scenario", "history", "experiment")
OPEN_MAPPINGS = ("militants.groups", "mediators.parties")  # a new entry here adds a group or a mediator


def _split_overrides(overrides: dict | list | None) -> tuple[list[str], dict]:
    """Hydra-syntax strings go to Hydra; a mapping's values are set directly after composing.

    Mapping values are set as Python objects (lists of events, booleans, ...), so they
    never pass through Hydra's override grammar; a mapping key naming a config group
    with a text value (``{"scenario": "baseline"}``) is a group choice.
    """
    if overrides is None:
        return [], {}
    if not isinstance(overrides, dict):
        return [str(o) for o in overrides], {}
    choices = [f"{k}={v}" for k, v in overrides.items() if k in GROUP_DIRS and isinstance(v, str)]
    values = {k: v for k, v in overrides.items() if not (k in GROUP_DIRS and isinstance(v, str))}
    return choices, values


def _set_value(cfg: DictConfig, key: str, value: Any) -> None:
    parent, _, leaf = key.rpartition(".")
    node = OmegaConf.select(cfg, parent) if parent else cfg
    if not isinstance(node, DictConfig):
        raise ConfigError(f"{key}: unknown parameter; {parent or key} is not a parameter group")
    if leaf not in node and parent not in OPEN_MAPPINGS:
        close = difflib.get_close_matches(leaf, [str(k) for k in node.keys()], n=1)
        hint = f"did you mean {_join(parent, close[0])}?" if close else f"allowed keys: {', '.join(map(str, node.keys()))}"
        raise ConfigError(f"{key}: unknown parameter; {hint}")
    with open_dict(cfg):
        OmegaConf.update(cfg, key, value, merge=False)


def compose(scenario: str | None = None, seed: int | None = None, months: int | None = None,
            overrides: dict | list | None = None) -> DictConfig:
    """Compose the raw Hydra config for a scenario plus overrides (no validation of values)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException

    ov, values = _split_overrides(overrides)
    if scenario is not None:
        ov = [o for o in ov if not o.startswith("scenario=")] + [f"scenario={scenario}"]
    if seed is not None:
        ov.append(f"seed={seed}")
    if months is not None:
        ov.append(f"months={months}")
    for o in ov:
        if o.startswith("scenario="):
            name = o.split("=", 1)[1]
            if name not in scenario_names():
                raise ConfigError(f"scenario: unknown scenario {name!r}; allowed: {', '.join(scenario_names())}")
    try:
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
            cfg = hydra_compose(config_name="config", overrides=ov)
    except (HydraException, OmegaConfBaseException, ValueError) as exc:
        raise ConfigError(_explain_compose_error(exc, ov)) from None
    for key, value in values.items():
        _set_value(cfg, key, value)
    return cfg


def _explain_compose_error(exc: Exception, overrides: list[str]) -> str:
    text = str(exc)
    for o in overrides:
        key, _, choice = o.partition("=")
        key = key.lstrip("+~")
        if key in GROUP_DIRS and f"'{key}/{choice}'" in text:
            options = sorted(p.stem for p in (CONFIG_DIR / key).glob("*.yaml"))
            return f"{key}: unknown option {choice!r}; allowed: {', '.join(options)}"
        if f"'{key}'" in text or key in text:
            parent, _, leaf = key.rpartition(".")
            siblings = _keys_at(parent)
            close = difflib.get_close_matches(leaf, siblings, n=1)
            hint = f"did you mean {_join(parent, close[0])}?" if close else (
                f"allowed keys: {', '.join(siblings)}" if siblings else "no such parameter group")
            return f"{key}: unknown parameter; {hint}"
    return " ".join(text.split())


def _keys_at(path: str) -> list[str]:
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    try:
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
            cfg = hydra_compose(config_name="config")
        node = OmegaConf.select(cfg, path) if path else cfg
        return list(node.keys()) if isinstance(node, DictConfig) else []
    except Exception:
        return []


def validate(cfg: DictConfig | dict) -> Config:
    """Turn a composed config into typed dataclasses; raise ConfigError on bad input."""
    if isinstance(cfg, DictConfig):
        try:
            data = OmegaConf.to_container(cfg, resolve=True)
        except OmegaConfBaseException as exc:
            raise ConfigError(" ".join(str(exc).split())) from None
    else:
        data = dict(cfg)
    extras = {k: data.pop(k) for k in list(data) if k in PASSTHROUGH_KEYS}
    config = build(Config, data)
    config.extras = extras
    for name in ("scenario", "pakistan", "taliban", "militants", "mediators", "world", "influences", "output"):
        if getattr(config, name) is None:
            raise ConfigError(f"{name}: missing config group")
    _check_cross_field(config)
    if "history" in extras:
        apply_history(config)  # history.mode forced: the stance record becomes held stance events
    return config


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


def load_config(scenario: str | None = None, seed: int | None = None, months: int | None = None,
                overrides: dict | list | None = None) -> Config:
    """Compose and validate: the one entry point for building a run's configuration."""
    return validate(compose(scenario, seed, months, overrides))
