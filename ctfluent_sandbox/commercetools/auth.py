"""OAuth for the emulator: API clients, the client-credentials token endpoint, introspection and the scope check
each API call makes.

Scopes are ``<name>:<projectKey>`` strings. ``manage_<x>`` implies ``view_<x>``, ``manage_project`` implies every
scope of its project. A token request without ``scope`` gets all scopes of the client; requesting one the client
does not have is ``400 invalid_scope``. An endpoint names one or more scopes, any one of which suffices ("Either the
scope ``view_products`` or ``view_categories`` is required", as the spec words its ``security`` lists).
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ctfluent_sandbox.clock import Clock
from ctfluent_sandbox.commercetools.errors import OAuthError

DEFAULT_CLIENT_ID = "ctfluent-sandbox"
DEFAULT_CLIENT_SECRET = "ctfluent-sandbox-secret"
# The second client of a sandbox: the code location's writes (order states and deliveries, channels, stores,
# inventory entries), with only the scopes they need.
WRITE_CLIENT_ID = "ctfluent-sandbox-write"
WRITE_SCOPES = ("manage_orders", "view_orders", "manage_channels", "manage_stores", "manage_products")
DEFAULT_TOKEN_TTL_SECONDS = 172_800  # 48 h, the API's default access-token lifetime
# Every scope the project uses, now or for the resource types still to come.
PROJECT_SCOPES = (
    "view_customers",
    "manage_customers",
    "view_messages",
    "view_project_settings",
    "manage_project_settings",
    "view_stores",
    "manage_stores",
    "view_orders",
    "manage_orders",
    "view_products",
    "manage_products",
    "view_published_products",
    "view_categories",
    "manage_categories",
    "view_product_types",
    "manage_product_types",
    "view_payments",
    "manage_payments",
    "view_standalone_prices",
    "manage_standalone_prices",
    "view_channels",
    "manage_channels",
    "view_customer_groups",
    "manage_customer_groups",
)


@dataclass(frozen=True)
class ApiClient:
    client_id: str
    client_secret: str
    scopes: frozenset[str]  # qualified: "view_customers:<projectKey>"
    token_ttl_seconds: int | None = None  # None: the emulator's default

    def to_json(self) -> dict[str, Any]:
        return {"client_id": self.client_id, "scopes": sorted(self.scopes), "token_ttl_seconds": self.token_ttl_seconds}


@dataclass(frozen=True)
class Token:
    client_id: str
    scopes: frozenset[str]
    expires_at: datetime


def qualify(scopes: Iterable[str], project_key: str) -> frozenset[str]:
    """``view_customers`` -> ``view_customers:<projectKey>``; already qualified scopes stay as they are."""
    return frozenset(s if ":" in s else f"{s}:{project_key}" for s in scopes)


def implies(granted: str, wanted: str) -> bool:
    """Whether holding scope ``granted`` allows what ``wanted`` allows (both qualified)."""
    if granted == wanted:
        return True
    granted_name, _, granted_project = granted.partition(":")
    wanted_name, _, wanted_project = wanted.partition(":")
    if granted_project != wanted_project:
        return False
    if granted_name == "manage_project":
        return True
    return wanted_name.startswith("view_") and granted_name == "manage_" + wanted_name.removeprefix("view_")


@dataclass
class Authority:
    """The API clients of the emulated project and the tokens issued to them."""

    clock: Clock
    default_ttl_seconds: int = DEFAULT_TOKEN_TTL_SECONDS
    clients: dict[str, ApiClient] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)

    def set_clients(self, clients: Iterable[ApiClient]) -> None:
        """Replace the clients; tokens of clients that no longer exist stop working."""
        self.clients = {c.client_id: c for c in clients}
        self.tokens = {value: t for value, t in self.tokens.items() if t.client_id in self.clients}

    def add_client(self, client: ApiClient) -> None:
        self.clients[client.client_id] = client

    def _client(self, authorization: str | None) -> ApiClient:
        bad = OAuthError(
            401, "invalid_client", "Please provide valid client credentials using HTTP Basic Authentication."
        )
        scheme, _, encoded = (authorization or "").partition(" ")
        if scheme.lower() != "basic":
            raise bad
        try:
            client_id, _, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise bad from None
        client = self.clients.get(client_id)
        if client is None or not secrets.compare_digest(client.client_secret, secret):
            raise bad
        return client

    def issue(self, authorization: str | None, grant_type: str | None, scope: str | None) -> dict[str, Any]:
        """``POST /oauth/token`` with the client credentials grant."""
        client = self._client(authorization)
        if grant_type != "client_credentials":
            raise OAuthError(400, "unsupported_grant_type", f"Grant type '{grant_type}' is not supported.")
        requested = frozenset(scope.split()) if scope else client.scopes
        refused = sorted(s for s in requested if not any(implies(g, s) for g in client.scopes))
        if refused:
            raise OAuthError(400, "invalid_scope", f"Invalid scope: {' '.join(refused)}")
        ttl = client.token_ttl_seconds or self.default_ttl_seconds
        value = secrets.token_urlsafe(24)
        self.tokens[value] = Token(client.client_id, requested, self.clock.now() + timedelta(seconds=ttl))
        return {"access_token": value, "token_type": "Bearer", "expires_in": ttl, "scope": " ".join(sorted(requested))}

    def introspect(self, authorization: str | None, token_value: str | None) -> dict[str, Any]:
        """``POST /oauth/introspect``: ``exp`` in epoch milliseconds, as the API documents it."""
        self._client(authorization)
        token = self._live(token_value)
        if token is None:
            return {"active": False}
        return {
            "active": True,
            "scope": " ".join(sorted(token.scopes)),
            "exp": int(token.expires_at.timestamp() * 1000),
            "client_id": token.client_id,
        }

    def _live(self, token_value: str | None) -> Token | None:
        token = self.tokens.get(token_value or "")
        if token is None:
            return None
        if self.clock.now() >= token.expires_at:
            del self.tokens[token_value or ""]
            return None
        return token

    def authorize(self, authorization: str | None, scopes: Sequence[str], project_key: str) -> Token:
        """The token of an API call, which must grant one of ``scopes`` (unqualified) on ``project_key``."""
        scheme, _, value = (authorization or "").partition(" ")
        token = self._live(value.strip()) if scheme.lower() == "bearer" else None
        if token is None:
            raise OAuthError(401, "invalid_token", "invalid_token")
        require(token.scopes, scopes, project_key)
        return token


def require(granted: Iterable[str], scopes: Sequence[str], project_key: str) -> None:
    """403 ``insufficient_scope`` unless ``granted`` allows one of ``scopes`` (unqualified) on ``project_key``; also
    for what a handler decides itself (``staged=true`` projections need ``view_products``)."""
    wanted = [f"{scope}:{project_key}" for scope in scopes]
    if not any(implies(have, want) for have in granted for want in wanted):
        raise OAuthError(
            403,
            "insufficient_scope",
            f"Insufficient scope. One of the following scopes is missing: {', '.join(scopes)}",
        )
