"""The production image's lock (deploy/requirements.lock): current with pyproject.toml, pinned, hashed, and what the
Dockerfile installs from. Offline: nothing here reaches PyPI."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import shlex
from pathlib import Path
from types import ModuleType

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
REGENERATE = "Regenerate it from the current pyproject.toml (needs PyPI): python3 deploy/lock.py"


def _lock_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ctfluent_deploy_lock", DEPLOY / "lock.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


LOCK_TOOL = _lock_tool()
# The environment the lock is resolved for: the image's CPython 3.11 on Linux (markers are evaluated for it).
IMAGE_ENVIRONMENT = {
    **default_environment(),
    "python_version": "3.11",
    "python_full_version": "3.11.0",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "os_name": "posix",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
}


def parse_lock(text: str) -> tuple[list[str], dict[str, tuple[Version, list[str]]]]:
    """(the header comment lines, name -> (pinned version, its sha256 hashes)). A requirement line that is not
    ``name==version`` followed by ``--hash`` options fails."""
    header = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        header.append(line)
    logical = re.sub(r"\\\n", " ", text)
    pins: dict[str, tuple[Version, list[str]]] = {}
    for raw in logical.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        requirement, *options = shlex.split(line)
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)", requirement)
        assert match, f"not a pinned requirement (name==version): {line!r}"
        hashes = [option.removeprefix("--hash=sha256:") for option in options if option.startswith("--hash=sha256:")]
        assert len(hashes) == len(options), f"only --hash=sha256: options may follow a pin: {line!r}"
        name = canonicalize_name(match[1])
        assert name not in pins, f"{name} is pinned twice"
        pins[name] = (Version(match[2]), hashes)
    return header, pins


def read_lock() -> tuple[list[str], dict[str, tuple[Version, list[str]]]]:
    return parse_lock((DEPLOY / "requirements.lock").read_text(encoding="utf-8"))


def unsatisfied(requirements: list[str], pins: dict[str, tuple[Version, list[str]]]) -> list[str]:
    """The requirements (for the image's Python and platform) no pin of the lock satisfies, and the requirements of
    their extras (``psycopg[binary]``: psycopg-binary) that the lock does not pin."""
    missing = []
    for text in requirements:
        requirement = Requirement(text)
        if requirement.marker and not requirement.marker.evaluate({**IMAGE_ENVIRONMENT, "extra": ""}):
            continue
        pin = pins.get(canonicalize_name(requirement.name))
        if pin is None or not requirement.specifier.contains(pin[0], prereleases=True):
            missing.append(f"{text} (lock: {pin[0] if pin else 'absent'})")
            continue
        for extra in requirement.extras:
            for needed in importlib.metadata.requires(requirement.name) or []:
                dependency = Requirement(needed)
                wanted = dependency.marker and dependency.marker.evaluate({**IMAGE_ENVIRONMENT, "extra": extra})
                if wanted and canonicalize_name(dependency.name) not in pins:
                    missing.append(f"{dependency.name} (for {text})")
    return missing


def test_the_lock_was_compiled_from_the_current_dependency_lists() -> None:
    header, _ = read_lock()
    recorded = [
        line.removeprefix(LOCK_TOOL.DIGEST_PREFIX) for line in header if line.startswith(LOCK_TOOL.DIGEST_PREFIX)
    ]
    assert recorded, f"deploy/requirements.lock has no '{LOCK_TOOL.DIGEST_PREFIX}' line. {REGENERATE}"
    assert recorded == [LOCK_TOOL.inputs_digest()], (
        "deploy/requirements.lock is stale: pyproject.toml's [project] dependencies, its extras "
        f"{', '.join(LOCK_TOOL.EXTRAS)} or [build-system] requires changed since it was compiled. {REGENERATE}"
    )


def test_every_requirement_the_image_installs_is_pinned_by_the_lock() -> None:
    _, pins = read_lock()
    inputs = LOCK_TOOL.locked_inputs()
    assert inputs["dependencies"] and inputs["build-system"] and all(inputs[f"extra:{e}"] for e in LOCK_TOOL.EXTRAS)
    requirements = [requirement for group in inputs.values() for requirement in group]
    assert unsatisfied(requirements, pins) == [], f"deploy/requirements.lock does not satisfy these. {REGENERATE}"


def test_every_pin_of_the_lock_carries_its_hashes() -> None:
    _, pins = read_lock()
    assert len(pins) > 50  # the whole tree, not only the direct dependencies
    assert {"dagster", "dagster-k8s", "dagster-docker", "s3fs", "setuptools", "wheel"} <= pins.keys()
    assert [name for name, (_, hashes) in pins.items() if not hashes] == []
    assert all(re.fullmatch(r"[0-9a-f]{64}", digest) for _, hashes in pins.values() for digest in hashes)


def test_the_lock_checks_catch_a_stale_or_unhashed_lock(tmp_path: Path) -> None:
    """The checks above, on a lock that is wrong in each way they look for."""
    _, pins = read_lock()
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        (ROOT / "pyproject.toml").read_text(encoding="utf-8").replace('"tenacity>=9",', '"tenacity>=9", "rich>=99",'),
        encoding="utf-8",
    )
    assert LOCK_TOOL.inputs_digest(pyproject) != LOCK_TOOL.inputs_digest()
    assert unsatisfied(["rich>=99", "not-in-the-lock>=1", "psycopg[binary]>=3.2"], pins) == [
        f"rich>=99 (lock: {pins['rich'][0]})",
        "not-in-the-lock>=1 (lock: absent)",
    ]
    without_binary = {name: pin for name, pin in pins.items() if name != "psycopg-binary"}
    assert unsatisfied(["psycopg[binary]>=3.2"], without_binary) == ["psycopg-binary (for psycopg[binary]>=3.2)"]
    with pytest.raises(AssertionError, match="not a pinned requirement"):
        parse_lock("requests>=2 \\\n    --hash=sha256:" + "0" * 64 + "\n")
    with pytest.raises(AssertionError, match="only --hash"):
        parse_lock("requests==2.32.0 --index-url=https://example.com\n")
    _, unhashed = parse_lock("requests==2.32.0\n    # via x\n")
    assert unhashed == {"requests": (Version("2.32.0"), [])}


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text(encoding="utf-8"))
    lines = (line.strip() for line in text.splitlines())
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines if line and line[0] != "#"]


def test_the_image_installs_only_what_the_lock_pins() -> None:
    """Every `pip install` of the Dockerfile either installs the lock with its hashes, or installs without
    dependencies and without an index (the project itself): nothing is resolved or downloaded unhashed."""
    installs = [
        shlex.split(command)
        for instruction, argument in _dockerfile_instructions()
        if instruction == "RUN"
        for command in re.split(r"&&|;", argument)
        if "pip install" in command
    ]
    assert len(installs) == 2, installs
    lock_install, project_install = installs
    assert {"--require-hashes", "--no-deps"} <= set(lock_install)
    assert lock_install[lock_install.index("-r") + 1] == "requirements.lock"
    assert {"--no-deps", "--no-index", "--no-build-isolation", "."} <= set(project_install)
    copies = [argument.split() for instruction, argument in _dockerfile_instructions() if instruction == "COPY"]
    assert [[source, os.path.normpath(target)] for source, target, *_ in copies].count(
        ["deploy/requirements.lock", "requirements.lock"]
    ) == 1
