"""`python -m sim [overrides]`: run one scenario as a Hydra app (the README, "Public interface").

`python -m sim -m [experiment=NAME] [overrides]` runs a sweep (Hydra multirun): each
job is one parameter point run for `sweep.replicates` seeds (sim/sweeps/sweep.py).

Overrides are checked before Hydra starts, so a bad scenario name, an unknown
parameter, a wrong type, an out-of-range value, a bad scenario event, an unknown
``hydra.*`` setting, an override without ``=``, an unknown flag or a flag without its
value stops the run with one line and nothing written; for a sweep every point is
checked (and an empty range, an unknown experiment, a key given twice with a sweep
among its values, an empty ``hydra.sweep.dir``, a setting the sweeper makes itself or a
search's ``n_trials``/``n_jobs`` below 1 refused) before any job runs. A single run's folder is created atomically
before Hydra starts (``sim.output.files.claim_run_dir``): two runs started in the same
second get two folders, and a ``hydra.run.dir`` holding an earlier run is refused
unless ``output.overwrite=true`` (then replaced whole). ``--config-dir DIR`` adds a
user's config folder (e.g. ``DIR/scenario/mine.yaml``), as in any Hydra app.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from sim.config import CONFIG_DIR, ConfigError, add_config_dir, load_config, validate
from sim.config.loading import check_config_files, compose_with_hydra_settings
from sim.config.overrides import parse_line
from sim.output.files import claim_run_dir

HYDRA_FLAGS_WITH_VALUE = {"--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd",
                          "--experimental-rerun", "--package", "-p", "--info", "-i", "--cfg", "-c"}
MULTIRUN_FLAGS = ("-m", "--multirun")
INFO_FLAGS = ("--help", "-h", "--hydra-help", "--version", "--shell-completion", "-sc", "--cfg", "-c", "--info", "-i",
              "--resolve")
PRIMARY_CONFIG = "config"  # configs/config.yaml, the one primary config
# Every flag Hydra's command line has. Anything else starting with "-" is refused here: Hydra's
# own parser would answer with a usage screen, and it takes an abbreviation (--multi) for a flag.
KNOWN_FLAGS = {*HYDRA_FLAGS_WITH_VALUE, *MULTIRUN_FLAGS, *INFO_FLAGS, "--run", "-r"}
FLAGS_TEXT = "-m/--multirun, --config-dir DIR (-cd), --help, --hydra-help, --cfg job, --info (python -m sim --help)"
# Set by the batched sweeper for each job (configs/sweep/default.yaml); never given by hand.
SWEEPER_SET_KEYS = ("sweep.invocation", "sweep.batch")
# Settings of a search sweeper (Hydra's Optuna sweeper) that must be a count >= 1 or a share in [0, 1]:
# the sweeper itself would loop forever or fail with a bare assertion only after it has started.
SEARCH_COUNTS = ("hydra.sweeper.n_trials", "hydra.sweeper.n_jobs")
SEARCH_SHARES = ("hydra.sweeper.max_failure_rate",)


def _is_info(argv: list[str]) -> bool:
    return any(a in INFO_FLAGS or a.startswith("--cfg") or a.startswith("--info") for a in argv)


def _split_argv(argv: list[str]) -> tuple[list[tuple[str, str]], list[str]]:
    """Hydra's flags with their values, and the override lines, of a command line."""
    flags, lines, i = [], [], 0
    while i < len(argv):
        a = argv[i]
        if a.startswith("--") and "=" in a and a.split("=", 1)[0] in HYDRA_FLAGS_WITH_VALUE:
            flags.append(tuple(a.split("=", 1)))
        elif a in HYDRA_FLAGS_WITH_VALUE:
            flags.append((a, argv[i + 1] if i + 1 < len(argv) else ""))
            i += 1
        elif a.startswith("-"):
            flags.append((a, ""))
        else:
            lines.append(a)
        i += 1
    return flags, lines


def _is_hydra_line(line: str) -> bool:
    key = line.split("=", 1)[0].lstrip("+~")
    return key == "hydra" or key.startswith(("hydra.", "hydra/"))


def _check_flags(flags: list[tuple[str, str]]) -> None:
    """Only Hydra's own flags, each flag that takes a value with one."""
    given = {flag for flag, _ in flags}
    if given & {"--run", "-r"} and given & set(MULTIRUN_FLAGS):
        raise ConfigError("--run: cannot be combined with -m/--multirun; give one of them")
    for flag, value in flags:
        if flag not in KNOWN_FLAGS:
            raise ConfigError(f"{flag}: unknown option; allowed: {FLAGS_TEXT}")
        if flag in HYDRA_FLAGS_WITH_VALUE and not value.strip():
            raise ConfigError(f"{flag}: needs a value (e.g. {flag} DIR for a folder of config groups)"
                              if flag in ("--config-dir", "-cd") else f"{flag}: needs a value")


def _use_config_folders(flags: list[tuple[str, str]]) -> None:
    """``--config-dir DIR`` adds the user's folder (as in Hydra); another primary config is refused."""
    for flag, value in flags:
        if flag in ("--config-dir", "-cd"):
            if Path(value).expanduser().is_dir():
                check_config_files(Path(value).expanduser().resolve())  # (before the folder is searched)
            add_config_dir(value)
        elif flag in ("--config-path", "-cp"):
            raise ConfigError(f"{flag}: replacing the project's configs is not supported; add your own "
                              f"config folder with --config-dir DIR (e.g. DIR/scenario/NAME.yaml)")
        elif flag in ("--config-name", "-cn") and value != PRIMARY_CONFIG:
            raise ConfigError(f"{flag}: {value!r} is not the primary config; allowed: {PRIMARY_CONFIG} "
                              f"(choose a scenario with scenario=NAME)")


def _check_single_run(lines: list[str]) -> str:
    """Check a single run's overrides and claim its folder; return the ``hydra.run.dir=`` line to use."""
    config = load_config(overrides=[line for line in lines if not _is_hydra_line(line)])
    settings = compose_with_hydra_settings(lines)
    pattern = OmegaConf.to_container(settings.hydra.run, resolve=False)["dir"]
    folder = claim_run_dir(OmegaConf.select(settings, "hydra.run.dir"), fixed="${now:" not in str(pattern),
                           overwrite=config.output.overwrite)
    return "hydra.run.dir=" + "'" + str(folder).replace("'", "\\'") + "'"


def _check_sweep_lines(lines: list[str]) -> None:
    """What only the command line of a sweep can get wrong: a key given twice with a sweep among
    its values (Hydra would silently keep the last), a setting the sweeper makes itself, an empty
    sweep folder (the current folder would fill with the sweep's files), a search's count or share
    out of range."""
    seen: dict[str, Any] = {}
    for line in lines:
        o = parse_line(line)  # a line without "=" gets its own one-line answer
        key = o.key_or_group
        earlier = seen.get(key)
        if earlier is not None and (o.is_sweep_override() or earlier.is_sweep_override()):
            raise ConfigError(f"{key}: given twice ({earlier.input_line} and {line}); a sweep takes each key once, "
                              f"e.g. {key}=a,b,c")
        seen[key] = o
        value = None if o.is_sweep_override() else o.value()
        if key.lstrip("+") in SWEEPER_SET_KEYS:
            raise ConfigError(f"{key.lstrip('+')}: set by the sweeper for each job; leave it out of the command line")
        if key.lstrip("+") == "hydra.sweep.dir" and (value is None or not str(value).strip()):
            raise ConfigError("hydra.sweep.dir: empty; give the sweep's folder, "
                              "e.g. hydra.sweep.dir=results/sweeps/NAME")
        if key.lstrip("+") in SEARCH_COUNTS and not o.is_sweep_override() and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ConfigError(f"{key.lstrip('+')}: {value!r} is not allowed; allowed a whole number >= 1")
        if key.lstrip("+") in SEARCH_SHARES and not o.is_sweep_override() and (
                isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1):
            raise ConfigError(f"{key.lstrip('+')}: {value!r} is not allowed; allowed 0 <= value <= 1")


def _check_sweep(lines: list[str]) -> None:
    _check_sweep_lines(lines)
    fixed = [line for line in lines if _is_hydra_line(line) and "," not in line.split("=", 1)[-1]]
    if any(line.startswith("+") for line in fixed):
        compose_with_hydra_settings(fixed)  # refuses an added key that is not a Hydra setting
    from sim.sweeps.plan import check_sweep  # (light: the launching process never imports the model)

    made = _make_sweep_folder(lines)
    try:
        check_sweep(lines, start_workers=True)
    except ConfigError:
        for folder in made:  # a refused sweep leaves nothing behind
            with contextlib.suppress(OSError):  # (unless another sweep has started writing into it meanwhile)
                folder.rmdir()
        raise


def _make_sweep_folder(lines: list[str]) -> list[Path]:
    """Create the sweep folder given on the command line (Hydra would create it next), so a folder
    that cannot be made is one line, not a traceback once the sweep has started. Returns the
    folders created, deepest first (removed again if the sweep is refused)."""
    given = [parse_line(line) for line in lines if line.lstrip("+").split("=", 1)[0] == "hydra.sweep.dir"]
    if not given or "${" in str(given[-1].value()):
        return []  # (the default folder, or one that is only known once Hydra resolves it)
    folder = Path(str(given[-1].value())).expanduser().absolute()
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        for p in missing:  # (whatever part of the path was made)
            if p.is_dir() and not any(p.iterdir()):
                p.rmdir()
        raise ConfigError(f"hydra.sweep.dir: cannot create {folder} ({exc.strerror}); give a folder that can be "
                          f"made") from None
    return missing


def prepare(argv: list[str]) -> list[str]:
    """Check a command line before Hydra starts; return it as Hydra should run it.

    Raises ``ConfigError`` (one line) for any bad input, before anything is written.
    A single run's folder is created here, atomically (``claim_run_dir``), and handed
    to Hydra as ``hydra.run.dir``, so two runs never share a folder.
    """
    if _is_info(argv):
        return argv  # --help, --cfg, ...: Hydra answers, nothing runs
    flags, lines = _split_argv(argv)
    _check_flags(flags)
    _use_config_folders(flags)
    if any(flag in MULTIRUN_FLAGS for flag, _ in flags):
        _check_sweep(lines)
        return argv
    run_dir = _check_single_run(lines)
    return [a for a in argv if a.split("=", 1)[0].lstrip("+") != "hydra.run.dir"] + [run_dir]


@hydra.main(config_path=str(CONFIG_DIR), config_name="config", version_base=None)
def main(cfg: DictConfig) -> dict | None:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if HydraConfig.get().mode == RunMode.MULTIRUN:
        from sim.sweeps.sweep import run_point

        return run_point(cfg)

    from sim.model.policy_model import PolicyModel
    from sim.output.files import summary, write_run

    logging.getLogger("MESA").setLevel(logging.WARNING)
    config = validate(cfg)
    model = PolicyModel(config).run()
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    paths = write_run(model, out_dir, cfg)
    metrics = json.loads(paths["metrics"].read_text())
    print(f"Wrote results to {out_dir}/")
    for kind, path in paths.items():
        print(f"  {kind:<10} {path.name}")
    for line in summary(model.frame(), metrics):
        print(line)


def cli() -> None:
    try:
        argv = prepare(sys.argv[1:])
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    sys.argv = [sys.argv[0], *argv]
    main()


if __name__ == "__main__":
    cli()
