"""Retailers: seeded by the emulator (and ``POST /_admin/retailers``), read through ``retailerById``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from graphql import GraphQLResolveInfo

from ctfluent_sandbox.fluent.engine import ResolverRegistry, request_context
from ctfluent_sandbox.fluent.store import Record, TableSpec

TABLES = (TableSpec("retailers", "Retailer", unique=(("ref",),)),)
RESOLVERS = ResolverRegistry()


def new_retailer(ref: str, trading_name: str | None, now: datetime) -> dict[str, Any]:
    """A retailer record without id (the store assigns it, or the seed gives one)."""
    return {"ref": ref, "tradingName": trading_name, "status": "ACTIVE", "createdOn": now, "updatedOn": now}


@RESOLVERS.query("retailerById")
def retailer_by_id(_root: None, info: GraphQLResolveInfo, id: str) -> Record | None:
    return request_context(info).store.get("retailers", id)
