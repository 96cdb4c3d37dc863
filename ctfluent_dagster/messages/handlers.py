"""The message handlers every entity gets: ``<typeId>.upsert`` (re-read these records and push them) and
``<typeId>.delete`` (these records are deleted in commercetools). Both plan a run of the entity's own sync job for
the day's partition, scoped to the ids (a :class:`~ctfluent_dagster.records.RunScope`: the sensor turns it into the
run's config); the sensors factory builds one of each per entity.

Override one by registering a handler of the same name with a higher priority (see
``examples/message_handlers.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ctfluent_dagster.commercetools.models import Message
from ctfluent_dagster.messages.routing import Route, RunPlan, run_key
from ctfluent_dagster.records import RunScope


def trigger_of(route: Route, messages: Sequence[Message]) -> str:
    return f"{route.name}: {len(messages)} message(s)"


@dataclass(frozen=True)
class SyncHandler:
    """A delta run of an entity's sync job for the day's partition: re-read these records, push them (records found
    gone are deactivated)."""

    name: str
    job_name: str
    priority: int = 0

    def plan(self, route: Route, day: str, resource_ids: Sequence[str], messages: Sequence[Message]) -> list[RunPlan]:
        return [self._run(route, day, messages, RunScope(ids=tuple(resource_ids), trigger=trigger_of(route, messages)))]

    def _run(self, route: Route, day: str, messages: Sequence[Message], scope: RunScope) -> RunPlan:
        return RunPlan(
            job_name=self.job_name,
            run_key=run_key(route, day, messages),
            scope=scope,
            partition_key=day,
            tags={"ctfluent/route": route.name},
        )


@dataclass(frozen=True)
class DeleteHandler(SyncHandler):
    """These records are deleted in commercetools: deactivate their Fluent records (no re-read)."""

    def plan(self, route: Route, day: str, resource_ids: Sequence[str], messages: Sequence[Message]) -> list[RunPlan]:
        scope = RunScope(deleted_ids=tuple(resource_ids), trigger=trigger_of(route, messages))
        return [self._run(route, day, messages, scope)]
