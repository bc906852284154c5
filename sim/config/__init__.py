"""Scenarios and configuration: the typed schema, Hydra loading, dates and the history replay.

``sim.config`` re-exports what users' scripts import (``Config``, ``ConfigError``,
``load_config``) and what the rest of the package uses; the modules are:

- ``schema``: every parameter's type and range (dataclasses), and ``build``;
- ``calendar``: months as ``YYYY-MM`` and ``+N`` offsets;
- ``history``: the forced and free modes of the history replay;
- ``loading``: Hydra composition, overrides and validation (``load_config``).
"""

from sim.config.loading import (
    GROUP_DIRS,
    compose,
    load_config,
    scenario_names,
    validate,
)
from sim.config.schema import (
    CONFIG_DIR,
    Config,
    ConfigError,
    EventSpec,
    InfluenceParams,
    MediatorParams,
    MilitantGroupParams,
    PakistanParams,
    TalibanParams,
    WorldParams,
    bounded,
    build,
)

__all__ = [
    "CONFIG_DIR", "GROUP_DIRS", "Config", "ConfigError", "EventSpec", "InfluenceParams", "MediatorParams",
    "MilitantGroupParams", "PakistanParams", "TalibanParams", "WorldParams", "bounded", "build", "compose",
    "load_config", "scenario_names", "validate",
]
