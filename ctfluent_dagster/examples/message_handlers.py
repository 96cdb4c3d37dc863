"""A working example of a message handler that replaces a shipped one. Register it in ctfluent.yaml::

    messages:
      handlers: ["ctfluent_dagster.examples.message_handlers:TaggedCustomerUpsert"]

It keeps the name ``customer.upsert`` with a higher priority, so the shipped route now uses it. Its constructor
takes the handler it replaces, so the runs it plans are the shipped ones, tagged for the CRM team (Dagster can
filter, alert and limit concurrency by tag). A handler for a new route works the same way: give it the name the
route's ``handler`` refers to (and a constructor without arguments).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ctfluent_dagster.commercetools.models import Message
from ctfluent_dagster.messages.routing import MessageHandler, Route, RunPlan


class TaggedCustomerUpsert:
    name = "customer.upsert"
    priority = 10  # beats the shipped handler (priority 0)

    def __init__(self, replaces: MessageHandler) -> None:
        self.replaces = replaces

    def plan(self, route: Route, day: str, resource_ids: Sequence[str], messages: Sequence[Message]) -> list[RunPlan]:
        return [
            replace(plan, tags={**plan.tags, "team": "crm"})
            for plan in self.replaces.plan(route, day, resource_ids, messages)
        ]
