"""Every third-party module the code imports is declared in pyproject.toml.

The agent and CLI may use only `dependencies`, except the brain, which may also use the
`brain` extra (the agent runs without it), and memory, which may also use numpy from it
(imported only when it searches); the tests may also use the `dev` extra. A module
that is merely present in the developer's venv (pulled in by something else) would be
missing from a user's install.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

from tests.harness import REPO

FIRST_PARTY = {"agent", "cli", "tests"}
# Declared on purpose though never imported by name: loaded by another package or run as a tool.
NOT_IMPORTED = {
    "sniffio",  # httpcore's fast path
    "python-multipart",  # starlette's form parser
    "pytest-asyncio",
    "pytest-timeout",
    "pytest-xdist",
    "playwright",  # imported through pytest.importorskip by tests/dashboard
    "ruff",
    "mypy",
    "types-pyyaml",  # stubs for mypy
    "types-psutil",
    "types-jsonschema",
    "import-linter",  # lint-imports in make lint
    "schemathesis",  # run as a command by tests/ops/test_fuzz.py
    "setuptools",  # builds the wheel in tests/packaging
}
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared(*requirements: list[str]) -> set[str]:
    return {
        canonical(re.split(r"[\s<>=!~;\[]", r, maxsplit=1)[0])
        for reqs in requirements
        for r in reqs
    }


def imported(folder: Path, *, leaving: tuple[Path, ...] = ()) -> set[str]:
    """Top-level names of every absolute import under `folder` (but not under `leaving`),
    wherever it sits in a file, except under `if TYPE_CHECKING:` (never run)."""
    names: set[str] = set()
    for path in folder.rglob("*.py"):
        if any(path.is_relative_to(skip) for skip in leaving):
            continue
        tree = ast.parse(path.read_text(), str(path))
        typing_only = {
            id(inner)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
            for statement in node.body
            for inner in ast.walk(statement)
        }
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    # Sibling modules imported by bare name (pytest puts their folder on sys.path).
    local = {path.stem for path in folder.rglob("*.py")}
    return names - FIRST_PARTY - local - set(sys.stdlib_module_names)


def undeclared(
    folders: list[str], allowed: set[str], leaving: tuple[str, ...] = ()
) -> dict[str, list[str]]:
    providers = importlib.metadata.packages_distributions()
    missing: dict[str, list[str]] = {}
    skip = tuple(REPO / folder for folder in leaving)
    for module in sorted(set().union(*(imported(REPO / f, leaving=skip) for f in folders))):
        dists = [canonical(d) for d in providers.get(module, [])]
        if not set(dists) & allowed:
            missing[module] = dists
    return missing


EXTRAS = PROJECT["optional-dependencies"]


def test_the_agent_and_cli_import_only_declared_dependencies() -> None:
    core = declared(PROJECT["dependencies"])
    assert undeclared(["agent", "cli"], core, leaving=("agent/brain", "agent/memory")) == {}
    assert undeclared(["agent/brain"], core | declared(EXTRAS["brain"])) == {}
    assert undeclared(["agent/memory"], core | {"numpy"}) == {}


def test_the_tests_import_only_declared_or_dev_dependencies() -> None:
    allowed = declared(PROJECT["dependencies"], EXTRAS["dev"], EXTRAS["brain"])
    assert undeclared(["tests"], allowed) == {}


def test_every_declared_dependency_is_used() -> None:
    """A dependency nothing imports is dead weight for every install, unless it is a tool."""
    providers = importlib.metadata.packages_distributions()
    used = {
        canonical(d)
        for module in imported(REPO / "agent") | imported(REPO / "cli") | imported(REPO / "tests")
        for d in providers.get(module, [])
    }
    every = declared(PROJECT["dependencies"], EXTRAS["dev"], EXTRAS["brain"])
    assert every - used - NOT_IMPORTED == set()
