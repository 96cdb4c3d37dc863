"""Reading the commercetools Messages API incrementally and safely: no message lost, none processed twice.

Messages are read by keyset on ``(createdAt, id)`` up to ``now - settle`` (a message may become queryable some
time after its ``createdAt``). Each poll has two parts:

* the *late scan* re-reads ``[now - settle - overlap, cursor]`` and keeps only ids not seen before: messages that
  became visible after the cursor had passed their ``createdAt`` (at most ``max_pages`` pages: should a burst put
  more messages than that into the overlap window, the daily reconciliation covers the rest);
* the *forward scan* reads on from the cursor, at most ``max_pages`` pages; the rest waits for the next poll.

The cursor keeps the keyset position and the ids seen within the overlap window. If the position is older than
the project's message retention (``deleteDaysAfterCreation``), the messages in between are gone: the poll reports
the gap, so that the caller re-syncs those days in full, and continues from the oldest kept message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, Field

from ctfluent_dagster.commercetools.client import MAX_PAGE_SIZE, CommercetoolsClient
from ctfluent_dagster.commercetools.models import Message
from ctfluent_dagster.commercetools.predicates import all_of, quote, timestamp

DEFAULT_RETENTION_DAYS = 15  # commercetools' default deleteDaysAfterCreation
_SEEN_ID_CHARS = 12  # message ids are UUIDs; a prefix keeps the cursor small at no practical collision risk


class MessagesDisabledError(RuntimeError):
    """Querying messages is off on the project."""


class PollCursor(BaseModel):
    """Where the poller stands. Serialised as the sensor's cursor."""

    created_at: datetime | None = None  # keyset position: the last message read by the forward scan
    id: str = ""
    seen: dict[str, int] = Field(default_factory=dict)  # id prefix -> createdAt (epoch ms), overlap window only

    def encode(self) -> str:
        return self.model_dump_json()

    @classmethod
    def decode(cls, raw: str | None) -> PollCursor:
        return cls.model_validate_json(raw) if raw else cls()


@dataclass(frozen=True)
class Gap:
    """Messages between these instants may have been deleted before they were read."""

    since: datetime
    until: datetime


@dataclass
class PollResult:
    messages: list[Message]
    cursor: PollCursor
    pages: int
    more: bool  # the forward scan stopped at its page budget
    gap: Gap | None = None
    retention_days: int = DEFAULT_RETENTION_DAYS
    late: int = 0  # messages found by the late scan
    duplicates: int = 0  # messages read again and dropped


def _after(created_at: datetime, message_id: str) -> str:
    """Keyset: messages after ``(created_at, message_id)``."""
    at = timestamp(created_at)
    return f"createdAt > {at} or (createdAt = {at} and id > {quote(message_id)})"


def _not_after(created_at: datetime, message_id: str) -> str:
    at = timestamp(created_at)
    return f"createdAt < {at} or (createdAt = {at} and id <= {quote(message_id)})"


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class MessagePoller:
    def __init__(
        self,
        client: CommercetoolsClient,
        *,
        settle: timedelta,
        overlap: timedelta,
        max_pages: int,
        page_size: int = MAX_PAGE_SIZE,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.client = client
        self.settle = settle
        self.overlap = overlap
        self.max_pages = max_pages
        self.page_size = page_size
        self.clock = clock

    def poll(self, cursor: PollCursor) -> PollResult:
        project = self.client.project()
        if not project.messages.enabled:
            raise MessagesDisabledError(
                f"querying messages is disabled on project {project.key}: enable it with the project update action "
                '{"action": "changeMessagesConfiguration", "messagesConfiguration": {"enabled": true, '
                '"deleteDaysAfterCreation": 15}} (scope manage_project_settings), then restart the sensor'
            )
        retention = project.messages.delete_days_after_creation or DEFAULT_RETENTION_DAYS
        now = self.clock()
        upper = now - self.settle
        window_start = upper - self.overlap
        position_at = cursor.created_at or window_start  # a new cursor starts at the overlap; history is backfilled
        position_id = cursor.id if cursor.created_at else ""
        gap = None
        oldest_kept = now - timedelta(days=retention)
        if position_at < oldest_kept:
            gap = Gap(since=position_at, until=now)
            position_at, position_id = oldest_kept, ""

        seen = {k: v for k, v in cursor.seen.items() if v >= _ms(window_start)}
        result = PollResult(messages=[], cursor=cursor, pages=0, more=False, gap=gap, retention_days=retention)

        def keep(messages: list[Message], *, late: bool) -> None:
            for message in messages:
                key = message.id[:_SEEN_ID_CHARS]
                if key in seen:
                    result.duplicates += 1
                    continue
                seen[key] = _ms(message.created_at)
                result.messages.append(message)
                result.late += late

        # Late scan: the overlap window up to the cursor (only once the cursor has reached it).
        if position_at > window_start:
            since_window = f"createdAt >= {timestamp(window_start)}"
            for page in self._pages(since_window, _not_after(position_at, position_id), budget=self.max_pages):
                result.pages += 1
                keep(page, late=True)

        # Forward scan: from the cursor up to the settle horizon, within the page budget.
        pages = 0
        until_settled = f"createdAt <= {timestamp(upper)}"
        for page in self._pages(_after(position_at, position_id), until_settled, budget=self.max_pages):
            pages += 1
            keep(page, late=False)
            position_at, position_id = page[-1].created_at, page[-1].id
            result.more = len(page) == self.page_size and pages == self.max_pages
        result.pages += pages
        result.cursor = PollCursor(created_at=position_at, id=position_id, seen=seen)
        return result

    def _pages(self, *conditions: str, budget: int) -> list[list[Message]]:
        """Keyset pages of messages matching all conditions, at most ``budget`` pages."""
        pages: list[list[Message]] = []
        after: tuple[datetime, str] | None = None
        while len(pages) < budget:
            keyset = _after(*after) if after else None
            page = self.client.messages_page(where=all_of(*conditions, keyset), limit=self.page_size)
            if page:
                pages.append(page)
                after = (page[-1].created_at, page[-1].id)
            if len(page) < self.page_size:
                break
        return pages
