"""The layering the project promises: the plain core imports no Dagster and no entity; each entity, in either
direction, is one folder with the same parts, registered by one line, talking to other entities only through their
public faces; no import cycle; no private Dagster API."""

from __future__ import annotations

import ast
import importlib.util
import re
import shlex
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from ctfluent_dagster.entities import ENTITIES
from ctfluent_dagster.entity import EntityDeclaration, FluentSource

PACKAGE = Path(__file__).resolve().parent.parent / "ctfluent_dagster"
CORE = [
    "transport.py", "staging.py", "entity.py", "records.py", "hooks.py", "preflight.py", "privacy.py", "settings.py",
    "journey.py", "commercetools", "fluent", "ledger", "sync", "messages", "webhooks",
]  # fmt: skip
# The files of an entity: its face (__init__.py), its declaration, its pure mapping and payload models, its settings
# section, its sync (read and write logic) and its GraphQL operations (Fluent writes, or Fluent reads); one read
# from commercetools also has its message routes (one read from Fluent declares its webhook event types instead).
ENTITY_PARTS = ("__init__.py", "declaration.py", "mapping.py", "models.py", "settings.py", "sync.py", "operations")
COMMERCETOOLS_PARTS = ("routes.yaml",)


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


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_imports() -> dict[str, set[str]]:
    """Each module of ``ctfluent_dagster`` -> the modules of it that importing it imports: what its import statements
    name (inside functions too), and the packages above those, whose ``__init__`` Python runs first; not the packages
    above the importing module itself (importing a module always runs its own package's ``__init__``)."""
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}

    def above(name: str) -> set[str]:
        parts = name.split(".")
        return {".".join(parts[:end]) for end in range(1, len(parts))}

    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        own = above(name) | {package}
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            named: list[str] = []
            if isinstance(node, ast.Import):
                named = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([node.module] if node.module else [])])
                named = [base, *(f"{base}.{alias.name}" for alias in node.names)]
            for target in named:
                if target in modules:
                    found |= {m for m in {target} | above(target) if m in modules and m not in own}
        graph[name] = found - {name}
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    cycles.append(sorted(group))
    return cycles


def test_the_package_has_no_import_cycle() -> None:
    assert import_cycles(package_imports()) == []


def test_an_import_cycle_is_found_through_functions_and_packages() -> None:
    """The detector itself: an import inside a function counts, and so does a package whose ``__init__`` runs."""
    graph = {"a": {"b"}, "b": {"c.d", "c"}, "c": {"a"}, "c.d": set(), "e": {"a"}}
    assert import_cycles(graph) == [["a", "b", "c"]]
    imports = package_imports()
    assert "ctfluent_dagster.entities" in imports["ctfluent_dagster.configuration"]
    assert "ctfluent_dagster.ledger" in imports["ctfluent_dagster.sync.engine"]  # the package above ledger.store


@pytest.mark.parametrize("entity", ENTITIES, ids=lambda e: e.name)
def test_an_entity_is_one_folder_with_the_same_parts(entity: EntityDeclaration) -> None:
    folder = PACKAGE / "entities" / entity.name
    if isinstance(entity.source, FluentSource):
        parts = ENTITY_PARTS
        assert entity.source.event_types, "an entity read from Fluent names the webhook event types of its records"
    else:
        parts = ENTITY_PARTS + COMMERCETOOLS_PARTS
        assert entity.source.routes == folder / "routes.yaml"
    assert sorted(p for p in parts if not (folder / p).exists()) == []
    assert list((folder / "operations").glob("*.graphql"))


def test_both_directions_are_registered() -> None:
    assert {entity.source.system for entity in ENTITIES} == {"commercetools", "fluent"}


def entity_of(module: str) -> str | None:
    """The entity folder a module of ``ctfluent_dagster.entities`` is in (None: the registry or the shared rules)."""
    parts = module.split(".")
    return (
        parts[2] if len(parts) > 2 and parts[:2] == ["ctfluent_dagster", "entities"] and parts[2] != "shared" else None
    )


def entity_files() -> list[Path]:
    return sorted(p for p in (PACKAGE / "entities").rglob("*.py") if p.parent != PACKAGE / "entities")


@pytest.mark.parametrize("path", entity_files(), ids=lambda p: str(p.relative_to(PACKAGE / "entities")))
def test_an_entity_uses_another_only_through_its_face_and_imports_types_not_the_store_or_the_engine(
    path: Path,
) -> None:
    """Across entity folders only ``ctfluent_dagster.entities.<other>`` (its ``__init__``: what it offers) or the shared
    rules (``entities.shared``); never the ledger's store or the sync engine (an entity uses ``records``' types)."""
    own = path.relative_to(PACKAGE / "entities").parts[0]
    modules = imported_modules(path)
    behind_faces = sorted(m for m in modules if (other := entity_of(m)) not in (None, own)
                          and m != f"ctfluent_dagster.entities.{other}")  # fmt: skip
    assert behind_faces == [], f"{path.name} reaches behind another entity's face"
    assert not modules & {"ctfluent_dagster.ledger.store", "ctfluent_dagster.sync.engine"}


def test_each_face_names_what_it_offers() -> None:
    for entity in ENTITIES:
        face = (PACKAGE / "entities" / entity.name / "__init__.py").read_text(encoding="utf-8")
        assert ast.get_docstring(ast.parse(face)), f"{entity.name}/__init__.py says what other entities use of it"


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_private_dagster_api(path: Path) -> None:
    private = {m for m in imported_modules(path) if re.match(r"dagster(_[a-z]+)?\._", m)}
    assert not private, f"{path.name} imports private Dagster API: {private}"


def test_each_entity_is_registered_by_one_line() -> None:
    registry = (PACKAGE / "entities" / "__init__.py").read_text(encoding="utf-8")
    for entity in ENTITIES:
        assert registry.count(f"ctfluent_dagster.entities.{entity.name}.declaration import") == 1


# -- The product alone: no sandbox in it, nor in the production image -----------------------------------------------

ROOT = PACKAGE.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
DISTRIBUTION = canonicalize_name(PROJECT["name"])
# Extras that are not the product: the sandbox's dependencies and the development tools.
NOT_THE_PRODUCT = {"sandbox", "dev"}


def product_files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", product_files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_product_imports_nothing_from_the_sandbox(path: Path) -> None:
    sandbox = {m for m in imported_modules(path) if m == "ctfluent_sandbox" or m.startswith("ctfluent_sandbox.")}
    assert not sandbox, f"{path.name} imports the sandbox: {sandbox}"
    assert "ctfluent_sandbox" not in path.read_text(encoding="utf-8")  # nor names it (a dotted path, a plugin)


def requirements(extras: set[str]) -> set[str]:
    """The distributions (canonical names) the project requires with these extras: its dependencies and those of
    each extra, an extra that names the project itself (``ctfluent-dagster[sandbox]``) resolved in turn."""
    names: set[str] = set()
    pending, seen = [*PROJECT["dependencies"]], set()
    pending += [r for extra in extras for r in PROJECT["optional-dependencies"][extra]]
    while pending:
        requirement = Requirement(pending.pop())
        name = canonicalize_name(requirement.name)
        if name == DISTRIBUTION:
            new = requirement.extras - seen
            seen |= new
            pending += [r for extra in new for r in PROJECT["optional-dependencies"][extra]]
        else:
            names.add(name)
    return names


def dockerfile_installs() -> list[list[str]]:
    """The arguments of each ``pip install`` in deploy/Dockerfile's RUN instructions (continuation lines joined)."""
    text = (ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    installs = []
    for line in text.splitlines():
        if not line.startswith("RUN "):
            continue
        for command in re.split(r"&&|;|\|\|", line.removeprefix("RUN ")):
            words = shlex.split(command)
            if "pip" in " ".join(words[:4]) and "install" in words:
                installs.append([w for w in words[words.index("install") + 1 :] if not w.startswith("-")])
    return installs


def test_the_production_image_installs_the_product_alone() -> None:
    # Two pip installs: the locked dependencies, then the project itself (no extras: the lock holds them).
    assert dockerfile_installs() == [["requirements.lock"], ["."]]
    spec = importlib.util.spec_from_file_location("deploy_lock", ROOT / "deploy" / "lock.py")
    assert spec is not None and spec.loader is not None
    lock = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lock)
    extras = set(lock.EXTRAS)  # what the lock was compiled for
    assert extras <= PROJECT["optional-dependencies"].keys()
    assert not extras & NOT_THE_PRODUCT

    sandbox = requirements({"sandbox"}) - requirements(set())
    assert {"aiohttp", "faker", "lark", "multidict", "sortedcontainers"} <= sandbox  # the sandbox's own
    assert not requirements(extras) & sandbox
    # The sandbox package is not even copied into the image (nor the whole build context).
    lines = (ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8").splitlines()
    copied = {source for line in lines if line.startswith(("COPY ", "ADD ")) for source in line.split()[1:-1]}
    assert "ctfluent_dagster" in copied and not copied & {".", "./", "ctfluent_sandbox"}


def third_party_imports(files: list[Path]) -> set[str]:
    tops = {module.split(".")[0] for path in files for module in imported_modules(path)}
    return {top for top in tops if top not in sys.stdlib_module_names and not top.startswith(("ctfluent_", "tests"))}


def providers(module: str) -> set[str]:
    return {canonicalize_name(name) for name in packages_distributions().get(module, [])}


def test_what_the_product_imports_is_a_product_dependency() -> None:
    """So the image, which installs no sandbox and no dev tools, has every module the product imports."""
    product = requirements(set(PROJECT["optional-dependencies"]) - NOT_THE_PRODUCT)
    imported = third_party_imports(product_files())
    assert {"dagster", "pyarrow", "pyrate_limiter"} <= imported
    assert sorted(module for module in imported if not providers(module) & product) == []


def test_what_the_sandbox_imports_is_a_product_or_sandbox_dependency() -> None:
    """The sandbox extra is complete: `pip install .[sandbox]` runs the sandbox (and `ctfluent-sandbox`)."""
    available = requirements({"sandbox"})
    imported = third_party_imports(sorted((ROOT / "ctfluent_sandbox").rglob("*.py")))
    assert {"aiohttp", "faker"} <= imported
    assert sorted(module for module in imported if not providers(module) & available) == []


def test_every_package_data_pattern_matches_and_every_data_file_is_packaged() -> None:
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    for package, patterns in package_data["package-data"].items():
        root = ROOT / package
        for pattern in patterns:
            assert list(root.glob(pattern)), f"{package}: {pattern} matches no file"
        data = {p for p in root.rglob("*") if p.is_file() and p.suffix not in {".py", ".pyc"}}
        packaged = {p for pattern in patterns for p in root.glob(pattern)}
        assert sorted(str(p.relative_to(root)) for p in data - packaged) == []
