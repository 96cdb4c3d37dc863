"""``ctfluent-settings-schema`` prints the JSON Schema of every setting, and ``ctfluent.example.yaml`` passes it:
every key the schema knows is documented there, none is unknown, every value has the schema's type."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from ctfluent_dagster.settings_schema_cli import settings_schema

EXAMPLE = Path(__file__).resolve().parent.parent / "ctfluent.example.yaml"


def example() -> dict[str, Any]:
    loaded = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    return dict(json.loads(json.dumps(loaded, default=str)))  # dates as the strings a settings file holds


def problems(document: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(settings_schema())
    return sorted(
        f"{'.'.join(map(str, error.path)) or '(top)'}: {error.message}" for error in validator.iter_errors(document)
    )


def undocumented(schema: dict[str, Any], node: Any, document: Any, path: str) -> list[str]:
    """The keys of the settings objects (following $ref and nullable alternatives) that the document leaves out."""
    if "$ref" in node:
        node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    if "anyOf" in node:
        objects = [alternative for alternative in node["anyOf"] if alternative.get("type") != "null"]
        return undocumented(schema, objects[0], document, path) if len(objects) == 1 and document is not None else []
    if "properties" not in node or not isinstance(document, dict):
        return []
    missing = [f"{path}{name}" for name in node["properties"] if name not in document]
    for name, child in node["properties"].items():
        if name in document:
            missing += undocumented(schema, child, document[name], f"{path}{name}.")
    return missing


def test_the_cli_prints_the_schema_of_every_section() -> None:
    printed = subprocess.run([sys.executable, "-m", "ctfluent_dagster.settings_schema_cli"], check=True,
                             capture_output=True, text=True, timeout=120).stdout  # fmt: skip
    schema = json.loads(printed)
    assert schema == json.loads(json.dumps(settings_schema()))
    assert {"messages", "customers", "orders", "order_status", "start_date"} <= set(schema["properties"])
    jsonschema.Draft202012Validator.check_schema(schema)


def test_the_example_passes_the_schema_and_documents_every_key() -> None:
    document = example()
    assert problems(document) == []
    schema = settings_schema()
    assert undocumented(schema, schema, document, "") == []


def test_the_schema_flags_an_unknown_key_a_wrong_type_and_a_missing_key() -> None:
    document = example()
    document["order_status"]["sensor_runing"] = True  # a typo: the settings would ignore it
    document["messages"]["poll_interval_seconds"] = "often"
    assert [p.split(":")[0] for p in problems(document)] == ["messages.poll_interval_seconds", "order_status"]
    del document["customers"]["store_retailers"]
    schema = settings_schema()
    assert undocumented(schema, schema, document, "") == ["customers.store_retailers"]
