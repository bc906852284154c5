"""Reading a sweep's override lines and expanding them into jobs, exactly as Hydra does.

``python -m sim -m a=1,2 b=range(0,3) "scenario=glob(*)"`` and a named experiment's
``hydra.sweeper.params`` are Hydra override lines; Hydra's basic sweeper turns them into
the cartesian product of jobs. ``expand`` gives the same jobs (through the Hydra
functions wrapped in ``sim.adapters``) so that every point can be checked, identified
and recorded before any job runs.
"""

from __future__ import annotations

import functools

from sim import adapters
from sim.config import CONFIG_DIR, ConfigError
from sim.config.loading import group_options

DESIGN_ROW_KEY = "design_row"  # top-level key a design sweep runs over: +design_row=range(0,N) (docs/sweeps.md)
# Keys of a job's overrides that are not parameters of the model: they never become table
# columns (their values change no result; sim/sweeps/identity.py leaves them out too).
NON_PARAMETER_KEYS = ("experiment", "seed", DESIGN_ROW_KEY)
NON_PARAMETER_PREFIXES = ("sweep.", "output.", "hydra.")


def experiment_names() -> list[str]:
    """The named experiments of ``configs/experiment`` and of the user's config folders (``--config-dir``)."""
    return group_options("experiment")


def parse_overrides(lines: list[str], with_loader: bool = False) -> list:
    """Parse Hydra override strings; a syntax error becomes a one-line ``ConfigError``.

    Parsed lines are kept per process (the parsed overrides are only read, never changed):
    Hydra's grammar costs about a millisecond a line, and a grid's points share most lines.
    """
    out = []
    for line in lines:
        out.extend(_parse_line(line, with_loader))
    return out


@functools.lru_cache(maxsize=100_000)
def _parse_line(line: str, with_loader: bool) -> tuple:
    from hydra.errors import HydraException

    try:
        return tuple(_parser(with_loader).parse_overrides([line]))  # (plural: it hands the loader to glob)
    except HydraException as exc:
        text = str(exc).split("\nSee https://hydra.cc")[0]
        raise ConfigError(f"{line}: cannot read this override ({' '.join(text.split())})") from None


@functools.cache
def _parser(with_loader: bool):
    return adapters.override_parser(CONFIG_DIR, with_config_loader=with_loader)


def is_hydra(override) -> bool:
    return override.is_hydra_override()


def is_group(override) -> bool:
    """A config-group choice (``scenario=NAME``), as opposed to a parameter value."""
    key = override.key_or_group
    return "/" in key or ("." not in key and (CONFIG_DIR / key).is_dir())


def is_sweep_setting(key: str) -> bool:
    return key == "sweep" or key.startswith("sweep.")


def is_parameter_key(key: str) -> bool:
    """Does a job's override key name a model parameter (a table column)?"""
    key = key.lstrip("+~")
    return key not in NON_PARAMETER_KEYS and key not in ("sweep", "output", "hydra") \
        and not key.startswith(NON_PARAMETER_PREFIXES)


def expand(lines: list[str]) -> list[list[str]]:
    """The jobs (one override list each) Hydra's basic sweeper makes of these overrides.

    ``lines`` are ``hydra.sweeper.params`` entries first, then the command line (later
    entries replace earlier ones for the same key, as in Hydra). Raises ``ConfigError``
    for an empty sweep or a sweep kind the basic sweeper cannot expand.
    """
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
        except (HydraException, ValueError) as exc:  # (ValueError: a range with step 0)
            raise ConfigError(f"{key}: {o.input_line.split('=', 1)[1]} cannot be expanded "
                              f"({' '.join(str(exc).split())})") from None
        if not values:
            raise ConfigError(f"{key}: the sweep {o.input_line.split('=', 1)[1]} is empty; "
                              f"give at least one value, e.g. {key}=1,2")
        if not is_hydra(o) and (is_sweep_setting(o.key_or_group) or o.key_or_group == "experiment"):
            raise ConfigError(f"{key}: sweep settings cannot be swept; give one value per sweep")
    return adapters.grid_of(overrides)
