"""Fluent's OAuth token endpoint: password grant, single-use refresh tokens, expiring bearer tokens.

Errors answer in the Spring OAuth shape (``{"error", "error_description"}``); bad client or user credentials
and spent refresh tokens are 401, malformed requests 400.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ctfluent_sandbox.clock import Clock


@dataclass(frozen=True)
class Account:
    """The one API client and the one user the emulator knows."""

    client_id: str
    client_secret: str
    username: str
    password: str
    retailer_id: str
    first_name: str = "Sync"
    last_name: str = "User"
    roles: tuple[str, ...] = ("ADMIN",)


class OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.body = {"error": error, "error_description": description}


class TokenIssuer:
    """Not thread-safe by itself: the emulator serialises access."""

    def __init__(self, clock: Clock, account: Account, ttl_seconds: int) -> None:
        self.clock = clock
        self.account = account
        self.ttl_seconds = ttl_seconds
        self._access: dict[str, datetime] = {}  # token -> expiry
        self._refresh: set[str] = set()  # unspent refresh tokens

    def clear(self) -> None:
        self._access.clear()
        self._refresh.clear()

    def grant(self, params: Mapping[str, str]) -> dict[str, Any]:
        """Answer ``POST /oauth/token``; raises :class:`OAuthError`."""
        if (params.get("client_id"), params.get("client_secret")) != (
            self.account.client_id,
            self.account.client_secret,
        ):
            raise OAuthError(401, "unauthorized", "Bad client credentials")
        grant_type = params.get("grant_type")
        if grant_type == "password":
            if params.get("scope", "api") != "api":
                raise OAuthError(400, "invalid_scope", f"Invalid scope: {params['scope']}")
            if (params.get("username"), params.get("password")) != (self.account.username, self.account.password):
                raise OAuthError(401, "invalid_grant", "Bad credentials")
        elif grant_type == "refresh_token":
            token = params.get("refresh_token")
            if token not in self._refresh:
                raise OAuthError(401, "invalid_grant", "Invalid refresh token")
            self._refresh.discard(token)  # single use
        else:
            raise OAuthError(400, "unsupported_grant_type", f"Unsupported grant type: {grant_type}")
        return self._issue()

    def _issue(self) -> dict[str, Any]:
        access, refresh = str(uuid.uuid4()), str(uuid.uuid4())
        self._access[access] = self.clock.now() + timedelta(seconds=self.ttl_seconds)
        self._refresh.add(refresh)
        return {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": self.ttl_seconds,
            "scope": "api",
            "refresh_token": refresh,
            "Retailer_id": int(self.account.retailer_id),
            "FirstName": self.account.first_name,
            "LastName": self.account.last_name,
            "Roles": list(self.account.roles),
        }

    def authenticate(self, authorization: str | None) -> bool:
        """Whether an ``Authorization`` header carries a live bearer token (scheme case-insensitive)."""
        scheme, _, token = (authorization or "").partition(" ")
        expiry = self._access.get(token.strip())
        if scheme.lower() != "bearer" or expiry is None:
            return False
        if self.clock.now() >= expiry:
            del self._access[token.strip()]
            return False
        return True
