"""The Fluent half of an :class:`~ctfluent_dagster.sync.engine.EntitySync`, shared by every entity: create, update,
find and deactivate through the entity's named GraphQL operations, with extension hooks and alias batching.

An entity subclasses :class:`GraphQLEntitySync` and says how a planned push becomes each mutation's input; the
mapping (``plan``) stays the entity's own.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from decimal import Decimal
from functools import cache
from typing import Any, Generic, TypeVar

from ctfluent_dagster.fluent.client import FluentClient, FluentNotFoundError
from ctfluent_dagster.fluent.models import length_violations
from ctfluent_dagster.fluent.operations import Operation
from ctfluent_dagster.hooks import LoadedHooks
from ctfluent_dagster.privacy import mask_text_value, redact
from ctfluent_dagster.records import FluentIdentity, PlannedPush

PushT = TypeVar("PushT")
# The sync needs these back from every mutation, whatever a field hook selects.
_IDENTITY_FIELDS = ("id", "ref")


class GraphQLEntitySync(abc.ABC, Generic[PushT]):
    entity_type: str

    def __init__(
        self,
        fluent: FluentClient,
        *,
        create: Operation,
        update: Operation | None,
        find: Operation,
        hooks: LoadedHooks | None = None,
    ) -> None:
        self.fluent = fluent
        self.hooks = hooks or LoadedHooks()
        self._create = self._hooked(create)
        self._update = None if update is None else self._hooked(update)
        self._find = find
        # Documents or variables changed by hooks are checked against Fluent's schema before they are sent.
        self._check_before_send = bool(self.hooks.query_fields or self.hooks.query_variables)

    def _hooked(self, base: Operation) -> Operation:
        if not self.hooks.query_fields:
            return base
        fields = self.hooks.apply_query_fields(base.root_selection(), base.name)
        fields += [f for f in _IDENTITY_FIELDS if f not in fields]
        return base.with_root_selection(fields)

    # -- what an entity says -----------------------------------------------------------------------

    @abc.abstractmethod
    def create_input(self, push: PlannedPush[PushT]) -> dict[str, Any]:
        """The create mutation's ``input`` (references are resolved in ``push.resolved``)."""

    def update_input(self, push: PlannedPush[PushT], ref: str) -> dict[str, Any]:
        """The update mutation's ``input`` for the Fluent record ``ref`` (entities that update)."""
        raise NotImplementedError(f"{self.entity_type} records are never updated in Fluent")

    @abc.abstractmethod
    def find_variables(self, ref: str) -> dict[str, Any]:
        """The find query's variables for the Fluent record ``ref``."""

    def deactivate_input(self, ref: str) -> dict[str, Any]:
        """The update mutation's ``input`` that marks ``ref`` as gone from commercetools (entities that do)."""
        raise NotImplementedError(f"{self.entity_type} records are never deactivated in Fluent")

    @abc.abstractmethod
    def hook_subject(self, push: PlannedPush[PushT]) -> Any:
        """What hooks receive beside the payload: the commercetools record, as its model."""

    def hooked_payload(self, payload: dict[str, Any], record: Any, limits: Mapping[str, int]) -> dict[str, Any] | str:
        """The mapped payload after the payload hooks, or why it cannot be sent. The mapping checked Fluent's
        lengths; a hook may have changed the values since, so they are checked again when one ran."""
        if not self.hooks.payload:
            return payload
        hooked = self.hooks.apply_payload(payload, record)
        problems = length_violations(hooked, limits)
        return "too long for Fluent after hooks: " + "; ".join(problems) if problems else hooked

    # -- EntitySync --------------------------------------------------------------------------------

    def prepare(self, creates: Sequence[PlannedPush[PushT]], batch_size: int) -> None:
        """Nothing to do before creates, unless an entity says otherwise."""

    def create(self, push: PlannedPush[PushT]) -> FluentIdentity:
        return self._identity(self._send(self._create, self.create_input(push), push), push.ref)

    def update(self, push: PlannedPush[PushT], ref: str) -> FluentIdentity:
        return self._identity(self._send(self._update_operation(), self.update_input(push, ref), push), ref)

    def create_many(self, pushes: Sequence[PlannedPush[PushT]]) -> list[FluentIdentity]:
        answers = self._send_batch(self._create, [(self.create_input(p), p) for p in pushes])
        return [self._identity(answer, p.ref) for answer, p in zip(answers, pushes, strict=True)]

    def update_many(self, pushes: Sequence[tuple[PlannedPush[PushT], str]]) -> list[FluentIdentity]:
        answers = self._send_batch(self._update_operation(), [(self.update_input(p, ref), p) for p, ref in pushes])
        return [self._identity(answer, ref) for answer, (_, ref) in zip(answers, pushes, strict=True)]

    def find(self, push: PlannedPush[PushT]) -> FluentIdentity | None:
        # Whether Fluent answers a missing ref with null or with C0120E is undocumented: both mean "none".
        ref = push.ref
        try:
            found = self.fluent.execute(self._find, self.find_variables(ref))[self._find.root_field]
        except FluentNotFoundError:
            return None
        return FluentIdentity(ref=found["ref"], id=found["id"]) if found else None

    def differences(self, push: PlannedPush[PushT], ref: str) -> list[str]:
        """The update's top-level values against Fluent's record now (read with the find query, selecting them);
        nested inputs (attributes, prices, links) are named, not compared. Values are masked: they may be personal."""
        wanted = self.update_input(push, ref)
        # A null may stand for an object (parentCategory: null), which cannot be selected without its fields.
        scalars = {k: v for k, v in wanted.items() if v is not None and not isinstance(v, dict | list)}
        fields = sorted(set(scalars) | set(_IDENTITY_FIELDS))
        found = self.fluent.execute(self._find.with_root_selection(fields), self.find_variables(ref))
        current = found[self._find.root_field] or {}
        changed = [f"{name}: {_masked(current.get(name))} -> {_masked(value)}"
                   for name, value in sorted(scalars.items())
                   if _comparable(current.get(name)) != _comparable(value)]  # fmt: skip
        nested = sorted(name for name in wanted if name not in scalars)
        return changed + ([f"sent, not compared: {', '.join(nested)}"] if nested else [])

    def deactivate(self, ref: str) -> FluentIdentity:
        update = self._update_operation()
        answer = self.fluent.execute(update, {"input": self.deactivate_input(ref)})[update.root_field]
        return self._identity(answer, ref)

    def _update_operation(self) -> Operation:
        if self._update is None:
            raise NotImplementedError(f"{self.entity_type} records are never updated in Fluent")
        return self._update

    # -- sending -----------------------------------------------------------------------------------

    @staticmethod
    def _identity(answer: dict[str, Any], ref: str) -> FluentIdentity:
        return FluentIdentity(ref=answer.get("ref") or ref, id=answer["id"])

    def _variables(self, input_value: dict[str, Any], push: PlannedPush[PushT]) -> dict[str, Any]:
        return self.hooks.apply_query_variables({"input": input_value}, self.hook_subject(push))

    def _send(self, op: Operation, input_value: dict[str, Any], push: PlannedPush[PushT]) -> dict[str, Any]:
        variables = self._variables(input_value, push)
        if self._check_before_send:
            self.fluent.check(op, variables)
        result: dict[str, Any] = self.fluent.execute(op, variables)[op.root_field]
        return result

    def _send_batch(
        self, op: Operation, items: Sequence[tuple[dict[str, Any], PlannedPush[PushT]]]
    ) -> list[dict[str, Any]]:
        batch = batched_operation(op, len(items))
        variables = {
            f"{name}{index}": value
            for index, (input_value, push) in enumerate(items)
            for name, value in self._variables(input_value, push).items()
        }
        if self._check_before_send:
            self.fluent.check(batch, variables)
        data = self.fluent.execute(batch, variables)
        return [data[f"item{index}"] for index in range(len(items))]


@cache
def batched_operation(op: Operation, count: int) -> Operation:
    return op.batched(count)


def _comparable(value: Any) -> Any:
    return str(value) if isinstance(value, float | int | Decimal) and not isinstance(value, bool) else value


def _masked(value: Any) -> str:
    if isinstance(value, str):
        return redact(value) if "@" in value else mask_text_value(value)
    return repr(value)
