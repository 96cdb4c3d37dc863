"""The project resource (``GET``/``POST /{projectKey}``): settings per the OAS ``Project`` schema, and the one
update action the sync cares about, ``changeMessagesConfiguration`` (``deleteDaysAfterCreation`` 1-90)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ctfluent_sandbox.commercetools.errors import invalid_field, invalid_json
from ctfluent_sandbox.commercetools.messages import Change
from ctfluent_sandbox.commercetools.resources import WriteContext
from ctfluent_sandbox.commercetools.store import Resource

DEFAULT_DELETE_DAYS = 15  # the API's default message retention
MIN_DELETE_DAYS, MAX_DELETE_DAYS = 1, 90
PROJECT_CREATED_AT = "2024-01-15T09:30:00.000Z"  # fixed: the demo project predates any seeded history


def new_project(key: str, messages_enabled: bool) -> Resource:
    return {
        "key": key,
        "name": f"{key} (ctfluent sandbox)",
        "countries": ["US", "GB", "DE", "FR", "JP", "AU"],
        "currencies": ["USD", "GBP", "EUR", "JPY", "AUD"],
        "languages": ["en", "en-US", "en-GB", "en-AU", "de", "de-DE", "fr", "fr-FR", "ja", "ja-JP"],
        "createdAt": PROJECT_CREATED_AT,
        "messages": {"enabled": messages_enabled, "deleteDaysAfterCreation": DEFAULT_DELETE_DAYS},
        "carts": {
            "countryTaxRateFallbackEnabled": False,
            "deleteDaysAfterLastModification": 90,
            "priceRoundingMode": "HalfEven",
            "taxRoundingMode": "HalfEven",
        },
        "shoppingLists": {"deleteDaysAfterLastModification": 360},
        "discounts": {"discountCombinationMode": "Stacking"},
        "inventory": {"releaseExpiredReservations": False},
        "businessUnits": {"myBusinessUnitStatusOnCreation": "Inactive"},
        "version": 1,
    }


def check_delete_days(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_DELETE_DAYS <= value <= MAX_DELETE_DAYS:
        raise invalid_field(
            "deleteDaysAfterCreation",
            value,
            f"deleteDaysAfterCreation must be an integer between {MIN_DELETE_DAYS} and {MAX_DELETE_DAYS}.",
        )
    return value


def _change_messages_configuration(project: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    config = action.get("messagesConfiguration")
    if not isinstance(config, dict) or not isinstance(config.get("enabled"), bool):
        raise invalid_json("messagesConfiguration -> enabled: Missing required value")
    if config.get("deleteDaysAfterCreation") is None:
        raise invalid_json("messagesConfiguration -> deleteDaysAfterCreation: Missing required value")
    project["messages"] = {
        "enabled": config["enabled"],
        "deleteDaysAfterCreation": check_delete_days(config["deleteDaysAfterCreation"]),
    }
    return []


ACTIONS = {"changeMessagesConfiguration": _change_messages_configuration}
