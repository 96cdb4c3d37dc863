"""A working example of a message handler that replaces a shipped one. Register it in ctfluent.yaml::

    messages:
      handlers: ["ctfluent_dagster.examples.message_handlers:TaggedCustomerUpsert"]

It keeps the name ``customer.upsert`` with a higher priority, so the shipped route now uses it: the runs it plans
are the shipped ones, tagged for the CRM team (Dagster can filter, alert and limit concurrency by tag). A handler
for a new route works the same way: give it the name the route's ``handler`` refers to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ctfluent_dagster.commercetools.models import Message
from ctfluent_dagster.messages.handlers import CustomerUpsertHandler
from ctfluent_dagster.messages.routing import Route, RunPlan


class TaggedCustomerUpsert(CustomerUpsertHandler):
    name = "customer.upsert"
    priority = 10  # beats the shipped handler (priority 0)

    def plan(self, route: Route, day: str, resource_ids: Sequence[str], messages: Sequence[Message]) -> list[RunPlan]:
        return [
            replace(plan, tags={**plan.tags, "team": "crm"})
            for plan in super().plan(route, day, resource_ids, messages)
        ]
