"""The Fluent webhook receiver (``ctfluent-webhooks``): verifies and records Fluent events for a sensor to act on.

Plain core: no Dagster, no entity. ``events`` is what a consumer needs (:class:`FluentEventStore`); the HTTP app
(``app``, Starlette) and its command (``cli``, uvicorn) are imported only by the service itself.
"""

from ctfluent_dagster.webhooks.events import FluentEvent, FluentEventStore, InvalidEvent

__all__ = ["FluentEvent", "FluentEventStore", "InvalidEvent"]
