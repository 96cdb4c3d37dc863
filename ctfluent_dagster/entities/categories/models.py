"""A commercetools category as read, and a Fluent category as the sync sends it."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from ctfluent_dagster.commercetools.models import CtModel, LocalizedString, Reference
from ctfluent_dagster.fluent.models import DEFAULT_STRING_LIMIT

# "Max character limit: N" from CreateCategoryInput's descriptions; the rest default to 255.
CATEGORY_FIELD_LIMITS = {"ref": 100, "type": 50, "name": DEFAULT_STRING_LIMIT, "summary": DEFAULT_STRING_LIMIT}


class Category(CtModel):
    id: str
    version: int
    last_modified_at: datetime
    key: str | None = None
    name: LocalizedString
    slug: LocalizedString = Field(default_factory=dict)
    description: LocalizedString | None = None
    parent: Reference | None = None
    external_id: str | None = None
