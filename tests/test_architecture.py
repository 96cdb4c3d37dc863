"""The layering the project promises: the plain core imports no Dagster and no entity, and each entity is one
folder with the same parts, registered by one line."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ctfluent_dagster.entities import ENTITIES
from ctfluent_dagster.entity import EntityDeclaration

PACKAGE = Path(__file__).resolve().parent.parent / "ctfluent_dagster"
CORE = [
    "transport.py", "staging.py", "entity.py", "hooks.py", "preflight.py", "privacy.py", "settings.py",
    "commercetools", "fluent", "ledger", "sync", "messages",
]  # fmt: skip
ENTITY_PARTS = ("declaration.py", "mapping.py", "models.py", "settings.py", "sync.py", "routes.yaml", "operations")


def core_files() -> list[Path]:
    files: list[Path] = []
    for name in CORE:
        path = PACKAGE / name
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return files


def imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
    return modules


@pytest.mark.parametrize("path", core_files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_core_imports_no_dagster_and_no_entity(path: Path) -> None:
    modules = imported_modules(path)
    assert not {m for m in modules if m == "dagster" or m.startswith(("dagster.", "dagster_"))}
    entity_modules = {m for m in modules if m.startswith("ctfluent_dagster.entities.")}
    assert not entity_modules, f"{path.name} imports an entity: {entity_modules}"
    assert not {
        m for m in modules if m.startswith("ctfluent_dagster.assets") or m.startswith("ctfluent_dagster.sensors")
    }


def test_settings_reach_the_entities_only_through_the_registry() -> None:
    assert "ctfluent_dagster.entities" in imported_modules(PACKAGE / "settings.py")


@pytest.mark.parametrize("entity", ENTITIES, ids=lambda e: e.name)
def test_an_entity_is_one_folder_with_the_same_parts(entity: EntityDeclaration) -> None:
    folder = PACKAGE / "entities" / entity.name
    assert sorted(p for p in ENTITY_PARTS if not (folder / p).exists()) == []
    assert entity.routes == folder / "routes.yaml"
    assert list((folder / "operations").glob("*.graphql"))


def test_each_entity_is_registered_by_one_line() -> None:
    registry = (PACKAGE / "entities" / "__init__.py").read_text(encoding="utf-8")
    for entity in ENTITIES:
        assert registry.count(f"ctfluent_dagster.entities.{entity.name}.declaration import") == 1
