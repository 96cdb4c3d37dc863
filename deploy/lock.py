#!/usr/bin/env python3
"""Regenerate deploy/requirements.lock, the production image's dependencies pinned with their hashes.

    python3 deploy/lock.py

What is locked: the product with the extras the image installs (`pip install '.[k8s,docker,s3]'`) and the build
backend (`[build-system] requires`: the Dockerfile builds the project without build isolation and without an index,
so nothing is downloaded unhashed). Resolved for the image: CPython 3.11 on Linux (glibc); the hashes are those of
every file of each pinned release, so an arm64 build verifies too. uv (pinned below) resolves, in a throwaway virtual
environment: nothing is installed into the project's .venv. Needs PyPI.

The lock's header records a digest of the dependency lists it was compiled from; tests/test_deploy_lock.py fails
when pyproject.toml's lists change and the lock was not regenerated.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
LOCK = ROOT / "deploy" / "requirements.lock"
EXTRAS = ("k8s", "docker", "s3")
UV = "uv==0.13.10"
# The image's interpreter and platform (deploy/Dockerfile: python:3.11-slim, Debian, glibc).
PYTHON_VERSION = "3.11"
PYTHON_PLATFORM = "x86_64-manylinux_2_28"
COMMAND = "python3 deploy/lock.py"
DIGEST_PREFIX = "# inputs-sha256: "


def locked_inputs(pyproject: Path = PYPROJECT) -> dict[str, list[str]]:
    """The dependency lists the lock is compiled from, as pyproject.toml declares them."""
    data: dict[str, Any] = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    extras = data["project"].get("optional-dependencies", {})
    return {
        "dependencies": list(data["project"].get("dependencies", [])),
        **{f"extra:{name}": list(extras.get(name, [])) for name in EXTRAS},
        "build-system": list(data["build-system"]["requires"]),
    }


def inputs_digest(pyproject: Path = PYPROJECT) -> str:
    canonical = json.dumps(locked_inputs(pyproject), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="ctfluent-lock-") as tmp:
        work = Path(tmp)
        subprocess.run([sys.executable, "-m", "venv", str(work / "venv")], check=True)
        pip = [str(work / "venv" / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, UV], check=True)
        build = work / "build-system.in"
        build.write_text("\n".join(locked_inputs()["build-system"]) + "\n", encoding="utf-8")
        compiled = work / "requirements.lock"
        subprocess.run(
            [
                str(work / "venv" / "bin" / "uv"), "pip", "compile", "pyproject.toml", str(build),
                *(arg for extra in EXTRAS for arg in ("--extra", extra)),
                "--generate-hashes",
                "--quiet",
                "--python-version", PYTHON_VERSION,
                "--python-platform", PYTHON_PLATFORM,
                "--custom-compile-command", COMMAND,
                "--output-file", str(compiled),
            ],
            check=True,
            cwd=ROOT,
        )  # fmt: skip
        body = compiled.read_text(encoding="utf-8").replace(f"-r {build}", "[build-system] requires")
    header = [
        "# The production image's dependencies (deploy/Dockerfile): the product with the extras k8s, docker and s3,",
        "# and the build backend, pinned with hashes (`pip install --require-hashes --no-deps -r requirements.lock`).",
        f"# Regenerate after changing pyproject.toml's dependencies, those extras or [build-system]: {COMMAND}",
        f"{DIGEST_PREFIX}{inputs_digest()}",
    ]
    LOCK.write_text("\n".join(header) + "\n" + body, encoding="utf-8")
    print(f"wrote {LOCK.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
