"""Fault injection for the emulators: latency, error statuses, Fluent error codes, dropped connections.

A rule matches a request by glob against the request's *targets*: ``"<METHOD> <path>"`` for every request, plus
the GraphQL operation name and root field names on Fluent (``createCustomer``). Rules come from the command line
(``--ct-fault``/``--fluent-fault``, see :func:`parse_fault_spec`) or from ``POST /_admin/faults``.

A rule with a ``share`` (0 < share <= 1) picks *records* instead of requests: it matches only a request that writes
at least one record whose key falls into that share of all keys, by a stable hash (the Fluent emulator's keys: each
mutation input's ``username`` or ``ref``). So the same records fail on every attempt, alone or in a batch, like
records a validation rule rejects, until the rule is removed.

Dropping *after* the handler ran is the important case for clients: the write happened, the answer is lost.
"""

from __future__ import annotations

import asyncio
import fnmatch
import hashlib
import itertools
import math
import threading
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from aiohttp import web

DropMode = Literal["before", "after"]


@dataclass
class FaultRule:
    match: str = "*"
    latency_ms: int = 0
    status: int | None = None
    retry_after: float | None = None
    # An API error code carried in the body: commercetools `errors[].code` with `status`
    # (e.g. OverCapacity), or a Fluent GraphQL code (e.g. C0011E) answered with HTTP 200.
    error_code: str | None = None
    drop: DropMode | None = None
    times: int | None = None  # fire on this many matching requests, then retire; None = forever
    after: int = 0  # let this many matching requests through first
    every: int = 1  # then fire on every n-th matching request
    share: float | None = None  # only requests writing a record whose key hashes into this share (see above)
    id: int = 0
    seen: int = field(default=0, repr=False)
    fired: int = field(default=0, repr=False)

    def __post_init__(self) -> None:
        if self.drop not in (None, "before", "after"):
            raise ValueError(f"drop must be 'before' or 'after', not {self.drop!r}")
        if self.every < 1:
            raise ValueError("every must be >= 1")
        if self.share is not None and not 0 < self.share <= 1:
            raise ValueError("share must be > 0 and <= 1")
        if not (self.latency_ms or self.status or self.error_code or self.drop):
            raise ValueError("a fault needs at least one of latency_ms, status, error_code, drop")

    def matches(self, targets: Iterable[str], keys: Iterable[str] = ()) -> bool:
        if not any(fnmatch.fnmatchcase(target, self.match) for target in targets):
            return False
        return self.share is None or any(key_in_share(key, self.share) for key in keys)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


_SPEC_KEYS = {
    "match": str,
    "latency_ms": int,
    "status": int,
    "retry_after": float,
    "error_code": str,
    "drop": str,
    "times": int,
    "after": int,
    "every": int,
    "share": float,
}


def key_in_share(key: str, share: float) -> bool:
    """Whether ``key`` is among the ``share`` of all keys a rule with that share picks: stable across runs."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") < share * 2**64


def parse_fault_spec(spec: str) -> FaultRule:
    """Parse ``"match=POST /graphql;status=503;times=2"`` (semicolon-separated ``key=value``)."""
    values: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        key, sep, raw = part.partition("=")
        key = key.strip()
        if not sep or key not in _SPEC_KEYS:
            raise ValueError(f"bad fault option {part!r}; known keys: {', '.join(_SPEC_KEYS)}")
        values[key] = _SPEC_KEYS[key](raw.strip())
    return FaultRule(**values)


class FaultInjector:
    """The active rules of one emulator. Safe to change from the admin API while requests run."""

    def __init__(self, rules: Iterable[FaultRule] = ()) -> None:
        self._rules: list[FaultRule] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        for rule in rules:
            self.add(rule)

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            rule.id = next(self._ids)
            self._rules.append(rule)
        return rule

    def remove(self, rule_id: int) -> bool:
        with self._lock:
            before = len(self._rules)
            self._rules = [r for r in self._rules if r.id != rule_id]
            return len(self._rules) != before

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    @property
    def picks_records(self) -> bool:
        """Whether a rule needs the records a request writes (a rule with a ``share``)."""
        with self._lock:
            return any(rule.share is not None for rule in self._rules)

    def take(self, targets: list[str], keys: Iterable[str] = ()) -> list[FaultRule]:
        """The rules that fire for a request with these targets (writing records with these keys); counts the
        request against each rule it matches."""
        fired: list[FaultRule] = []
        keys = list(keys)
        with self._lock:
            for rule in self._rules:
                if not rule.matches(targets, keys):
                    continue
                rule.seen += 1
                eligible = rule.seen > rule.after and (rule.seen - rule.after - 1) % rule.every == 0
                if eligible and (rule.times is None or rule.fired < rule.times):
                    rule.fired += 1
                    fired.append(rule)
            self._rules = [r for r in self._rules if r.times is None or r.fired < r.times]
        return fired


FaultResponder = Callable[[FaultRule], web.Response]
TargetResolver = Callable[[web.Request], Awaitable[list[str]]]


def retry_after_header(rule: FaultRule) -> dict[str, str]:
    """``Retry-After`` as HTTP defines it (whole seconds), when the rule sets one."""
    if rule.retry_after is None:
        return {}
    return {"Retry-After": str(math.ceil(rule.retry_after))}


def drop_connection(request: web.Request) -> web.Response:
    """Close the socket without an answer; the client sees 'connection aborted'."""
    if request.transport is not None:
        request.transport.close()
    # aiohttp writes this to the closed transport, i.e. nowhere.
    return web.Response(status=499)


async def apply_faults(
    request: web.Request,
    rules: list[FaultRule],
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    respond: FaultResponder,
) -> web.StreamResponse:
    latency = sum(rule.latency_ms for rule in rules)
    if latency:
        await asyncio.sleep(latency / 1000)  # asynchronous: other requests keep being served
    if any(rule.drop == "before" for rule in rules):
        return drop_connection(request)
    for rule in rules:
        if rule.status is not None or rule.error_code is not None:
            return respond(rule)
    response = await handler(request)
    if any(rule.drop == "after" for rule in rules):
        return drop_connection(request)
    return response
