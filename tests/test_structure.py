"""The package's structure: no import circle, roles from config, frames unchanged by refactors."""

from __future__ import annotations

import ast
import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

import sim
from sim.config import ConfigError

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "data" / "frame_fingerprints.json"


# ----------------------------------------------------------------------- import circles
def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(tree: ast.AST, here: str, modules: set[str]) -> set[str]:
    """Every project module this one imports, at any depth: functions and ``if TYPE_CHECKING:``
    included (a type-only import still ties the two modules together for a reader and a type
    checker). ``from pkg import sub`` counts as importing the submodule ``pkg.sub``."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module
            if node.level:  # relative import
                base = ".".join(here.split(".")[: len(here.split(".")) - node.level] + [node.module])
            subs = {f"{base}.{a.name}" for a in node.names}
            if subs <= modules:
                found.update(subs)
            else:
                found.add(base)
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it makes Python import (parent packages included)."""
    files = {_module_name(p): p for p in (ROOT / "sim").rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        edges = set()
        for target in _imports(ast.parse(path.read_text()), name, set(files)):
            parts = target.split(".")
            # Importing sim.a.b runs sim.a's __init__ and sim.a.b; the root package ``sim``
            # is every module's parent, so an edge to it is counted only when named explicitly.
            for i in range(2, len(parts) + 1):
                prefix = ".".join(parts[:i])
                # A module's own parent packages are loaded before it, so passing through
                # them is no circle; importing names *from* a parent package explicitly is.
                passing_parent = name.startswith(prefix + ".") and prefix != target
                if prefix in files and prefix != name and not passing_parent:
                    edges.add(prefix)
            if target == "sim" and name != "sim":
                edges.add("sim")
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = dfs(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = dfs(node)
            if found:
                return found
    return None


def test_cycle_finder_finds_a_planted_circle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_package_has_no_import_circle():
    graph = import_graph()
    assert "sim.model.policy_model" in graph and graph["sim.model.policy_model"], "the graph is empty"
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_configuration_imports_nothing_of_the_model_sweeps_or_app():
    graph = import_graph()
    for name, edges in graph.items():
        if name.startswith("sim.config"):
            bad = [e for e in edges if e.split(".")[1] in ("model", "agents", "sweeps", "app", "output", "analysis")]
            assert not bad, f"{name} imports {bad}"


# ----------------------------------------------------------------------------- roles
def test_without_a_rival_group_defection_is_a_documented_no_op():
    frame = sim.run("ttp_talks", seed=2, months=48, overrides={"start": "stylized", "militants.roles.rival": None})
    with_rival = sim.run("ttp_talks", seed=2, months=48, overrides={"start": "stylized"})
    assert with_rival["defected_ttp"].sum() > 0, "the comparison needs defection to happen with a rival"
    assert frame["defected_ttp"].sum() == 0


def test_roles_follow_config_not_group_names():
    """Make ISKP the sheltered group: talks and ceasefires then act on ISKP, not on the TTP."""
    frame = sim.run("ttp_talks", seed=2, months=48,
                    overrides={"start": "stylized", "militants.roles.sheltered": "iskp", "militants.roles.rival": "ttp"})
    assert frame["ceasefire_iskp"].any() and not frame["ceasefire_ttp"].any()
    assert frame["defected_iskp"].sum() > 0 and frame["defected_ttp"].sum() == 0


@pytest.mark.parametrize("overrides, field", [
    ({"militants.roles.sheltered": "hgb"}, "militants.roles.sheltered"),
    ({"militants.roles.rival": "daesh"}, "militants.roles.rival"),
    ({"militants.roles.rival": "ttp"}, "militants.roles.rival"),
])
def test_a_role_naming_no_configured_group_is_one_line(overrides, field):
    with pytest.raises(ConfigError) as err:
        sim.load_config("baseline", overrides=overrides)
    message = str(err.value)
    assert message.startswith(field) and "\n" not in message


# ------------------------------------------------------------ frames kept by refactors
CASES = [("baseline", 0), ("pressure_first", 3), ("ttp_talks", 3), ("history_2021_2025", 0)]


def fingerprint(frame: pd.DataFrame) -> str:
    """A hash of a frame's values, independent of column order."""
    ordered = frame[sorted(frame.columns)]
    return hashlib.sha256(pd.util.hash_pandas_object(ordered, index=True).values.tobytes()).hexdigest()


def current_fingerprints() -> dict[str, str]:
    return {f"{sc}/{seed}": fingerprint(sim.run(sc, seed=seed)) for sc, seed in CASES}


def test_frames_are_those_recorded_before_the_last_refactor():
    """A pure refactor (moving code, renaming, generating columns) leaves every frame identical.

    The fingerprints in tests/data/frame_fingerprints.json were recorded from the code
    before the change they guard. A change that is *meant* to alter behaviour (a new
    mechanism, new random streams, recalibration) records new ones in the same commit:
    ``python -m tests.test_structure --record``, and says so in its message.
    """
    recorded = json.loads(GOLDEN.read_text())
    assert current_fingerprints() == recorded["fingerprints"], recorded.get("recorded_at", "")


if __name__ == "__main__":
    import sys

    if "--record" in sys.argv:
        note = sys.argv[sys.argv.index("--record") + 1] if len(sys.argv) > sys.argv.index("--record") + 1 else ""
        GOLDEN.write_text(json.dumps({"recorded_at": note, "fingerprints": current_fingerprints()}, indent=2) + "\n")
        print(f"recorded {GOLDEN}")
