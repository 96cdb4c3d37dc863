"""Extension points: user functions that change what is sent to Fluent, registered by dotted path.

The Python counterpart of the Adobe Commerce connector's three customer events
(``fluent_customer_create_payload_prepare_after``, ``..._prepare_query_fields``, ``..._prepare_query_variables``),
offered for every entity. Configure them in the entity's settings (e.g. ``customers.hooks``);
``examples/customer_hooks.py`` shows each kind.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")


class HookSettings(BaseModel):
    """Extension points, by dotted path (``package.module:function``); applied in the order listed.

    * ``payload(payload: dict, record) -> dict``: change the mapped Fluent input (``record`` is the commercetools
      record as its pydantic model).
    * ``query_fields(fields: list[str], operation: str) -> list[str]``: change the fields a mutation selects.
    * ``query_variables(variables: dict, record) -> dict``: change a mutation's variables.
    """

    model_config = ConfigDict(frozen=True)

    payload: tuple[str, ...] = ()
    query_fields: tuple[str, ...] = ()
    query_variables: tuple[str, ...] = ()


def load_callable(path: str) -> Callable[..., Any]:
    """``package.module:function`` (or ``package.module.function``) -> the function."""
    module_name, sep, attribute = path.partition(":")
    if not sep:
        module_name, _, attribute = path.rpartition(".")
    if not module_name or not attribute:
        raise ValueError(f"hook {path!r} is not a dotted path like 'package.module:function'")
    target = getattr(importlib.import_module(module_name), attribute, None)
    if not callable(target):
        raise ValueError(f"hook {path!r} is not a callable")
    return target


def _chain(functions: Sequence[Callable[..., T]], value: T, *context: Any) -> T:
    for function in functions:
        value = function(value, *context)
    return value


@dataclass(frozen=True)
class LoadedHooks:
    payload: tuple[Callable[..., dict[str, Any]], ...] = ()
    query_fields: tuple[Callable[..., list[str]], ...] = ()
    query_variables: tuple[Callable[..., dict[str, Any]], ...] = ()

    @property
    def any(self) -> bool:
        return bool(self.payload or self.query_fields or self.query_variables)

    @classmethod
    def load(cls, config: HookSettings) -> LoadedHooks:
        return cls(
            payload=tuple(load_callable(p) for p in config.payload),
            query_fields=tuple(load_callable(p) for p in config.query_fields),
            query_variables=tuple(load_callable(p) for p in config.query_variables),
        )

    def apply_payload(self, payload: dict[str, Any], record: Any) -> dict[str, Any]:
        return _chain(self.payload, payload, record)

    def apply_query_fields(self, fields: list[str], operation_name: str) -> list[str]:
        return _chain(self.query_fields, fields, operation_name)

    def apply_query_variables(self, variables: dict[str, Any], record: Any) -> dict[str, Any]:
        return _chain(self.query_variables, variables, record)
