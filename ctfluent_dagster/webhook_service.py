"""``ctfluent-webhooks``: serve the Fluent webhook receiver (``webhooks/app.py``) with uvicorn.

The composition of the service: what it takes (the account, the entity types the project acts on and the retailers
it serves) comes from the settings and the entities' declarations; the receiver itself (``webhooks/``) knows no
entity. It runs no DDL: ``ctfluent-migrate`` brings the ledger database up to date, and the service refuses to start
on a database that is not. When a Dagster webserver is configured, each new event launches its type's webhook job
there through ``dagster_graphql``'s client (loaded only then: the receiver's process needs no Dagster otherwise).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import urlsplit

import uvicorn
from pydantic import ValidationError
from starlette.applications import Starlette

from ctfluent_dagster.configuration import read_settings
from ctfluent_dagster.entities import ENTITIES
from ctfluent_dagster.entity import FluentSource
from ctfluent_dagster.webhooks.app import ReceiverScope, create_app
from ctfluent_dagster.webhooks.events import FluentEvent, FluentEventStore
from ctfluent_dagster.webhooks.settings import PUBLIC_KEYS_VARIABLE, ConfigurationError, WebhookSettings

log = logging.getLogger(__name__)

DESCRIPTION = """\
Receive Fluent Commerce webhooks (workflow rule SendWebhook): verify each request's fluent-signature
(RSA / SHA-512 over the raw body) against Fluent's public keys, take only your account's events of the entity
types the sync acts on and the retailers it serves, record each once per event id in the ledger database
(duplicates are answered 200 and ignored) and answer at once. A Dagster sensor acts on the recorded events by
reading the entities from Fluent. GET /health reports counters.
"""

EPILOG = f"""\
environment:
  {PUBLIC_KEYS_VARIABLE}   required: Fluent's public key(s), base64 DER, comma-separated
  FLUENT_ACCOUNT_ID            your Fluent account (default: from FLUENT_HOST when it is a Fluent host)
  FLUENT_RETAILER_ID           the default retailer (with the settings' store retailers: the retailers served)
  CTFLUENT_LEDGER_URL          required: the ledger database, migrated by ctfluent-migrate
  CTFLUENT_SETTINGS_FILE       the sync's settings (the retailers it serves)
  CTFLUENT_WEBHOOKS__LOCAL     true in the sandbox: SQLite by default, any account without FLUENT_ACCOUNT_ID
  CTFLUENT_WEBHOOKS__PATH      the POST path (default /fluent/webhooks)
  CTFLUENT_WEBHOOKS__MAX_BODY_BYTES, __BODY_TIMEOUT_SECONDS, __KEEP_ALIVE_SECONDS, __MAX_CONCURRENCY,
  __MAX_JSON_DEPTH, __MAX_NUMBER_DIGITS   limits (65536 bytes, 10 s, 5 s, 100, 32, 40)
  CTFLUENT_WEBHOOKS__DAGSTER_URL, __DAGSTER_HEADERS (JSON), __DAGSTER_LOCATION, __DAGSTER_REPOSITORY
                               launch the type's webhook job in Dagster when a new event arrives (optional)
  CTFLUENT_WEBHOOKS__HOST, CTFLUENT_WEBHOOKS__PORT  defaults for --host and --port

Fluent calls https on port 443 only: put the service behind a TLS-terminating proxy or ingress.
"""


def partitioned_jobs() -> frozenset[str]:
    """The webhook jobs of the staged entities read from Fluent: launched on today's partition (UTC)."""
    return frozenset(entity.webhook_job for entity in ENTITIES if entity.from_fluent and entity.partitioned)


def receiver_scope(settings: WebhookSettings) -> tuple[ReceiverScope, dict[str, str]]:
    """What the receiver takes, from the declarations of the entities read from Fluent: their event types, and the
    retailers they serve (their context values from the environment); with each type's webhook job."""
    sync_settings = read_settings()
    sources = [(entity, entity.source) for entity in ENTITIES if isinstance(entity.source, FluentSource)]
    values = {value.name: os.environ.get(value.variable) or None for entity in ENTITIES for value in entity.context}
    jobs: dict[str, str] = {}
    for entity, source in sources:
        for event_type in source.event_types:
            if jobs.setdefault(event_type, entity.webhook_job) != entity.webhook_job:
                raise ConfigurationError(f"two entities take {event_type} events: {jobs[event_type]} and "
                                         f"{entity.webhook_job}")  # fmt: skip
    served = [source.served_retailers(sync_settings, values) if source.served_retailers else None
              for _, source in sources]  # fmt: skip
    # Any entity that takes every retailer's records: the receiver takes every retailer's events.
    retailers = None if any(s is None for s in served) else frozenset(r for s in served if s for r in s)
    return ReceiverScope(settings.expected_account(), frozenset(jobs), retailers), jobs


class DagsterLauncher:
    """Launches a type's webhook job in Dagster when an event of that type arrives, instead of waiting for the
    sensor's next tick (Dagster evaluates sensors every few seconds, and a run then needs its process started).
    Optional: the sensor takes whatever was recorded either way, so a lost launch delays, never loses.

    Launches are coalesced per job: one launch in flight at a time; events that arrive meanwhile are taken by the
    next run (the job takes every recorded event that is pending when it runs)."""

    def __init__(self, settings: WebhookSettings, jobs: dict[str, str], partitioned: frozenset[str] = frozenset()):
        from dagster_graphql import DagsterGraphQLClient  # only when launching: the receiver needs no Dagster else

        url = urlsplit(settings.dagster_url or "")
        self.client = DagsterGraphQLClient(
            url.hostname or "", port_number=url.port, use_https=url.scheme == "https", path_prefix=url.path.rstrip("/"),
            headers=settings.headers(), timeout=10,
        )  # fmt: skip
        self.settings = settings
        self.jobs = jobs
        self.partitioned = partitioned  # launched on today's partition
        self.launched = 0
        self.failed = 0
        self._wanted = {job: threading.Event() for job in set(jobs.values())}
        self._stopped = threading.Event()
        # One launch at a time: Dagster's GraphQL client (its gql session) is not safe to share between threads.
        self._client_lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(job,), name=f"launch-{job}", daemon=True)
                         for job in self._wanted]  # fmt: skip
        for thread in self._threads:
            thread.start()

    def __call__(self, event: FluentEvent) -> None:
        job = self.jobs.get(event.entity_type)
        if job is not None:
            self._wanted[job].set()

    def counters(self) -> dict[str, int]:
        return {"jobs_launched": self.launched, "job_launches_failed": self.failed}

    def stop(self) -> None:
        self._stopped.set()
        for wanted in self._wanted.values():
            wanted.set()
        for thread in self._threads:
            thread.join(timeout=10)

    def _run(self, job: str) -> None:
        wanted = self._wanted[job]
        while True:
            wanted.wait()
            if self._stopped.is_set():
                return
            wanted.clear()
            tags = {"ctfluent/trigger": "webhook"}
            if job in self.partitioned:
                tags["dagster/partition"] = datetime.now(UTC).strftime("%Y-%m-%d")
            try:
                with self._client_lock:
                    self.client.submit_job_execution(job, repository_location_name=self.settings.dagster_location,
                                                     repository_name=self.settings.dagster_repository,
                                                     tags=tags)  # fmt: skip
                self.launched += 1
            except Exception as exc:  # the sensor picks the events up at its next tick
                self.failed += 1
                log.warning("could not launch %s (%s): the sensor will take the events", job, type(exc).__name__)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="ctfluent-webhooks", description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("--host", help="interface to listen on (default: CTFLUENT_WEBHOOKS__HOST, else 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default: CTFLUENT_WEBHOOKS__PORT, else 8090)")
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"],
                        help="log level (default: %(default)s)")  # fmt: skip
    parser.add_argument("--access-log", action="store_true",
                        help="also log every request line (uvicorn's access log; off by default)")  # fmt: skip
    return parser.parse_args(argv)


def uvicorn_config(
    app: Starlette, settings: WebhookSettings, host: str, port: int, args: argparse.Namespace
) -> uvicorn.Config:
    """uvicorn with bounds on idle and open connections (a slow body gets 408 from the app)."""
    return uvicorn.Config(
        app, host=host, port=port, log_level=args.log_level, access_log=args.access_log, server_header=False,
        timeout_keep_alive=settings.keep_alive_seconds, limit_concurrency=settings.max_concurrency,
        h11_max_incomplete_event_size=16 * 1024,
    )  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = WebhookSettings()
    except ValidationError as exc:
        print(f"ctfluent-webhooks: invalid settings:\n{exc}", file=sys.stderr)
        return 2
    host: str = settings.host if args.host is None else args.host
    port: int = settings.port if args.port is None else args.port
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    try:
        verifier = settings.verifier()
        scope, jobs = receiver_scope(settings)
        store = FluentEventStore(settings.required_ledger_url(), migrate=False)
    except ConfigurationError as exc:
        print(f"ctfluent-webhooks: {exc}", file=sys.stderr)
        return 2
    try:
        problem = store.unmigrated()
        if problem is not None:
            print(f"ctfluent-webhooks: {problem}", file=sys.stderr)
            return 2
        launcher = DagsterLauncher(settings, jobs, partitioned_jobs()) if settings.dagster_url else None
        log.info(
            "receiving Fluent webhooks at %s on %s:%d (%d public key(s)) for account %s, types %s, retailers %s; "
            "events go to %r%s",
            settings.path, host, port, len(verifier.keys), scope.account_id or "ANY (local)",
            ", ".join(sorted(scope.event_types)), ", ".join(sorted(scope.retailer_ids or ())) or "any", store,
            f"; new events launch jobs at {settings.dagster_url}" if launcher else "",
        )  # fmt: skip
        app = create_app(settings, scope, store, verifier, launcher)
        try:
            uvicorn.Server(uvicorn_config(app, settings, host, port, args)).run()
        finally:
            if launcher is not None:
                launcher.stop()
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
