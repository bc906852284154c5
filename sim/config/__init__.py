"""Scenarios and configuration: the typed schema, Hydra loading, dates and the history replay.

``sim.config`` re-exports what users' scripts import (``Config``, ``ConfigError``,
``load_config``) and what the rest of the package uses; the modules are:

- ``schema``: every parameter's type and range (dataclasses), and ``build``;
- ``calendar``: months as ``YYYY-MM`` and ``+N`` offsets;
- ``history``: the forced and free modes of the history replay;
- ``events``: what a scenario event may target, and every event checked before a run;
- ``overrides``: sorting overrides into group choices and values;
- ``cache``: each Hydra composition done once per process;
- ``loading``: Hydra composition, overrides and validation (``load_config``).

This package never imports the model, the agents, the sweeps or the app.
"""

from sim.config.loading import (
    GROUP_DIRS,
    add_config_dir,
    compose,
    config_dirs,
    load_config,
    remove_config_dir,
    scenario_names,
    validate,
)
from sim.config.schema import (
    CONFIG_DIR,
    Config,
    ConfigError,
    EventSpec,
    ExperimentConfig,
    HistoryConfig,
    InfluenceParams,
    MediatorParams,
    MetricsConfig,
    MilitantGroupParams,
    OutputConfig,
    PakistanParams,
    SweepSettings,
    TalibanParams,
    WorldParams,
    bounded,
    build,
)

__all__ = [
    "CONFIG_DIR", "GROUP_DIRS", "Config", "ConfigError", "EventSpec", "ExperimentConfig", "HistoryConfig",
    "InfluenceParams", "MediatorParams", "MetricsConfig", "MilitantGroupParams", "OutputConfig", "PakistanParams",
    "SweepSettings", "TalibanParams", "WorldParams", "add_config_dir", "bounded", "build", "compose", "config_dirs",
    "load_config", "remove_config_dir", "scenario_names", "validate",
]
