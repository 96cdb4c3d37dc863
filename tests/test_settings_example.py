"""``ctfluent.example.yaml`` shows every settings key, knows no other, and loads.

Its convention: every key of the settings models (the core, ``messages`` and each registered entity's section, down
to the last nested key) is present, uncommented, with the value in force (the default, or what suits the sandbox:
the demo and the e2e tests load this file). A value that is only an example goes in a comment on its key's line,
``# e.g. <value>``; a nested section that is off (``null``) shows all its keys that way, as a YAML flow mapping,
which is checked like the rest and must load. The keys are taken from the models when the test runs, so a new
setting fails it until the example shows it.
"""

from __future__ import annotations

import json
import os
import re
import types
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import pytest
import yaml
from pydantic import BaseModel, ValidationError

from ctfluent_dagster.configuration import read_settings, settings_class

EXAMPLE = Path(__file__).resolve().parent.parent / "ctfluent.example.yaml"
EXAMPLE_VALUE = re.compile(r"#\s*e\.g\.\s*(\{.*\})")
NULL = "tag:yaml.org,2002:null"


def _models(annotation: Any) -> tuple[str, type[BaseModel]] | None:
    """How a field holds settings models: ``one`` (a model, or an optional one), ``values`` (a mapping to models)
    or ``items`` (a sequence of models); None for plain values."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        alternatives = [arg for arg in get_args(annotation) if arg is not type(None)]
        return _models(alternatives[0]) if len(alternatives) == 1 else None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "one", annotation
    models = [arg for arg in get_args(annotation) if isinstance(arg, type) and issubclass(arg, BaseModel)]
    if not models:
        return None
    return ("values" if origin is dict else "items"), models[0]


class ExampleCheck:
    """Walks the example's YAML nodes (which know their lines, hence their comments) beside the models."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.missing: list[str] = []
        self.unknown: list[str] = []

    def section(self, model: type[BaseModel], node: yaml.Node, path: str) -> None:
        if not isinstance(node, yaml.MappingNode):
            self.missing += [f"{path}.{name}" for name in model.model_fields]
            return
        keys = {key.value: (key, value) for key, value in node.value}
        self.unknown += [f"{path}.{name}".lstrip(".") for name in keys if name not in model.model_fields]
        for name, field in model.model_fields.items():
            where = f"{path}.{name}".lstrip(".")
            if name not in keys:
                self.missing.append(where)
                continue
            held = _models(field.annotation)
            if held is not None:
                self.nested(*held, *keys[name], where)

    def nested(self, how: str, model: type[BaseModel], key: yaml.Node, value: yaml.Node, path: str) -> None:
        if how == "one" and isinstance(value, yaml.ScalarNode) and value.tag == NULL:
            value = self.example_value(model, key, path)
        if how == "one":
            self.section(model, value, path)
        elif isinstance(value, yaml.MappingNode):
            for entry, item in value.value:
                self.section(model, item, f"{path}.{entry.value}")
        elif isinstance(value, yaml.SequenceNode):
            for index, item in enumerate(value.value):
                self.section(model, item, f"{path}[{index}]")

    def example_value(self, model: type[BaseModel], key: yaml.Node, path: str) -> yaml.Node:
        """The ``# e.g. {...}`` on a null section's line, as YAML; it must load as that section."""
        match = EXAMPLE_VALUE.search(self.lines[key.start_mark.line])
        if match is None:
            return yaml.compose("{}")  # every key of it is missing
        model.model_validate(yaml.safe_load(match.group(1)))
        return yaml.compose(match.group(1))


def check(text: str, model: type[BaseModel]) -> ExampleCheck:
    result = ExampleCheck(text)
    result.section(model, yaml.compose(text), "")
    return result


def test_the_example_shows_every_settings_key_and_no_other() -> None:
    result = check(EXAMPLE.read_text(encoding="utf-8"), settings_class())
    assert result.missing == [], "keys of the settings that ctfluent.example.yaml does not show"
    assert result.unknown == [], "keys in ctfluent.example.yaml that the settings do not know"


class _Limits(BaseModel):
    low: int = 0
    high: int = 1


class _Section(BaseModel):
    name: str = ""
    limits: _Limits = _Limits()
    off: _Limits | None = None
    by_kind: dict[str, _Limits] = {}
    plain: dict[str, int] = {}


COMPLETE = """\
name: a
limits: {low: 1, high: 2}
off: null             # e.g. {low: 3, high: 4}
by_kind:
  big: {low: 5, high: 6}
plain: {anything: 1}  # free keys: data, not settings
"""


@pytest.mark.parametrize(
    ("change", "missing", "unknown"),
    [
        (("", ""), [], []),
        (("name: a", "nme: a"), ["name"], ["nme"]),
        (("{low: 1, high: 2}", "{low: 1}"), ["limits.high"], []),
        (("{low: 1, high: 2}", "{low: 1, high: 2, wide: 0}"), [], ["limits.wide"]),
        (("e.g. {low: 3, high: 4}", "say {low: 3, high: 4}"), ["off.low", "off.high"], []),
        (("e.g. {low: 3, high: 4}", "e.g. {low: 3}"), ["off.high"], []),
        (("big: {low: 5, high: 6}", "big: {high: 6}"), ["by_kind.big.low"], []),
    ],
    ids=["complete", "typo", "nested key left out", "unknown nested key", "no example", "short example", "in a map"],
)
def test_the_check_finds_keys_left_out_and_keys_unknown(
    change: tuple[str, str], missing: list[str], unknown: list[str]
) -> None:
    result = check(COMPLETE.replace(*change), _Section)
    assert (result.missing, result.unknown) == (missing, unknown)


def test_an_example_value_must_load() -> None:
    with pytest.raises(ValidationError):
        check(COMPLETE.replace("e.g. {low: 3, high: 4}", "e.g. {low: x, high: 4}"), _Section)


def _in_force(document: Any, settings: Any, path: str = "") -> list[str]:
    """The example's values that differ from the settings it loads into (mappings compared key by key)."""
    if isinstance(document, dict) and isinstance(settings, dict):
        return [
            line for key, value in document.items() for line in _in_force(value, settings.get(key), f"{path}.{key}")
        ]
    return [] if document == settings else [f"{path.lstrip('.')}: {document!r} != {settings!r}"]


def test_the_example_loads_through_the_settings_with_its_values_in_force(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in os.environ if name.startswith("CTFLUENT_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CTFLUENT_SETTINGS_FILE", str(EXAMPLE))
    loaded = read_settings().model_dump(mode="json")
    document = json.loads(json.dumps(yaml.safe_load(EXAMPLE.read_text(encoding="utf-8")), default=str))
    assert _in_force(document, loaded) == []
