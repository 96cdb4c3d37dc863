"""Routes and handlers: which messages lead to which runs.

A route (each entity ships its own ``routes.yaml``, after the Fluent Connect SDK's ``application-connector.yml``)
selects messages by resource type and message type and names a handler; handlers
are looked up by name in a registry where, for the same name, the highest priority wins, so a user can add a
handler or replace a shipped one by configuration (a dotted path), without forking the project.

Routed messages are grouped by (route, UTC day of ``createdAt``); each group becomes the runs its handler plans,
at most ``max_ids_per_run`` resource ids each. A route whose messages concern a resource that does not name the
entity's records (a Standalone Price names its variant's SKU, not the product) names a resolver instead, which reads
commercetools with the sensor's client. Within a run resources are re-read by id, so the order of the
messages does not matter. Run keys hash the message ids: evaluating the same messages again requests the same
runs, which Dagster then does not launch twice.
"""

from __future__ import annotations

import hashlib
import inspect
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

import yaml
from pydantic import BaseModel, ConfigDict, field_validator

from ctfluent_dagster.commercetools.client import CommercetoolsClient
from ctfluent_dagster.commercetools.models import Message
from ctfluent_dagster.hooks import load_callable
from ctfluent_dagster.records import RunScope

# Token messages carry a password-reset or email-verification token: never routed, never logged.
NEVER_ROUTED = frozenset({"CustomerPasswordTokenCreated", "CustomerEmailTokenCreated"})
# A route's resolver: the entity's record ids each message concerns, by message id, read with the given client.
Resolver = Callable[[CommercetoolsClient, Sequence[Message]], Mapping[str, Sequence[str]]]


class Route(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    type_id: str
    handler: str
    inclusion_filter: tuple[str, ...]
    # The id the handler gets: the message's resource, or the reference at this payload path when the message is
    # about another resource (``paymentRef.id``: ``OrderPaymentAdded`` makes work for the payment).
    resource_id_path: str | None = None
    # Or a dotted path to a ``Resolver``, for messages whose payload names no record of the entity.
    resolve_ids: str | None = None

    @field_validator("inclusion_filter")
    @classmethod
    def _no_token_messages(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        forbidden = sorted(NEVER_ROUTED & set(value))
        if forbidden:
            raise ValueError(f"{', '.join(forbidden)} carry secrets and are never routed")
        return value

    def takes(self, message: Message) -> bool:
        return message.resource.type_id == self.type_id and message.type in self.inclusion_filter

    def resolver(self) -> Resolver | None:
        return None if self.resolve_ids is None else cast(Resolver, load_callable(self.resolve_ids))

    def ids_by_message(self, messages: Sequence[Message], reader: CommercetoolsClient | None) -> dict[str, set[str]]:
        """The record ids of the route's entity each message concerns."""
        resolver = self.resolver()
        if resolver is None:
            return {m.id: {resource} for m in messages if (resource := self.resource_id(m)) is not None}
        if reader is None:
            raise ValueError(f"route {self.name} resolves its ids with commercetools: a client is needed")
        return {message_id: set(ids) for message_id, ids in resolver(reader, messages).items()}

    def resource_id(self, message: Message) -> str | None:
        if self.resource_id_path is None:
            return message.resource.id
        value: Any = message.model_extra or {}
        for name in self.resource_id_path.split("."):
            value = value.get(name) if isinstance(value, dict) else None
        return value if isinstance(value, str) and value else None


def load_routes(paths: str | Path | Sequence[str | Path]) -> list[Route]:
    """The routes of one YAML file, or of several (each entity ships its own), in order."""
    routes: list[Route] = []
    for path in [paths] if isinstance(paths, str | Path) else paths:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        routes += [Route.model_validate(route) for route in document.get("routes") or []]
    names = [route.name for route in routes]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"route names must be unique: {', '.join(duplicates)}")
    return routes


@dataclass(frozen=True)
class RunPlan:
    """A run the sensor should request: a job, optionally a partition, the records it covers and tags."""

    job_name: str
    run_key: str
    scope: RunScope
    partition_key: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


class MessageHandler(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def priority(self) -> int: ...

    def plan(self, route: Route, day: str, resource_ids: Sequence[str], messages: Sequence[Message]) -> list[RunPlan]:
        """The runs that process these resources (changed on ``day``, per ``messages``)."""
        ...


class HandlerRegistry:
    def __init__(self, handlers: Iterable[MessageHandler]) -> None:
        self._handlers: dict[str, MessageHandler] = {}
        for handler in handlers:
            current = self._handlers.get(handler.name)
            if current is None or handler.priority > current.priority:
                self._handlers[handler.name] = handler

    @classmethod
    def with_configured(cls, shipped: Iterable[MessageHandler], dotted_paths: Iterable[str]) -> HandlerRegistry:
        """Shipped handlers plus configured ones: a dotted path to a handler object or a class to instantiate. A
        class whose constructor takes one argument gets the handler it replaces (same name), to build on it."""
        registry = cls(shipped)
        configured: list[MessageHandler] = []
        for path in dotted_paths:
            target = load_callable(path)
            if isinstance(target, type):
                takes_replaced = len(inspect.signature(target).parameters) == 1
                name = str(getattr(target, "name", ""))
                target = target(registry.get(name)) if takes_replaced else target()
            configured.append(cast(MessageHandler, target))
        return cls([*registry._handlers.values(), *configured])

    def get(self, name: str) -> MessageHandler:
        try:
            return self._handlers[name]
        except KeyError:
            raise KeyError(f"no message handler named {name!r}; known: {', '.join(sorted(self._handlers))}") from None


@dataclass
class RoutingResult:
    plans: list[RunPlan] = field(default_factory=list)
    routed: Counter[str] = field(default_factory=Counter)  # messages per route
    unrouted: Counter[str] = field(default_factory=Counter)  # messages per type that no route takes


def route_messages(
    messages: Sequence[Message],
    routes: Sequence[Route],
    registry: HandlerRegistry,
    max_ids_per_run: int,
    reader: CommercetoolsClient | None = None,
) -> RoutingResult:
    """``reader``: the client routes with a resolver read commercetools with."""
    result = RoutingResult()
    groups: dict[tuple[str, str], list[Message]] = defaultdict(list)
    by_name = {route.name: route for route in routes}
    for message in messages:
        route = None if message.type in NEVER_ROUTED else next((r for r in routes if r.takes(message)), None)
        if route is None or (route.resolve_ids is None and route.resource_id(message) is None):
            result.unrouted[message.type] += 1
            continue
        result.routed[route.name] += 1
        groups[(route.name, message.created_at.strftime("%Y-%m-%d"))].append(message)
    for (route_name, day), group in sorted(groups.items()):
        route = by_name[route_name]
        handler = registry.get(route.handler)
        ids_of = route.ids_by_message(group, reader)
        ids = sorted(set().union(*ids_of.values()))
        for start in range(0, len(ids), max_ids_per_run):
            chunk = set(ids[start : start + max_ids_per_run])
            chunk_messages = [message for message in group if ids_of.get(message.id, set()) & chunk]
            result.plans += handler.plan(route, day, sorted(chunk), chunk_messages)
    return result


def run_key(route: Route, day: str, messages: Sequence[Message]) -> str:
    """Stable for the same messages, new for any new message."""
    digest = hashlib.sha256("\n".join(sorted(m.id for m in messages)).encode()).hexdigest()[:20]
    return f"{route.name}:{day}:{digest}"
