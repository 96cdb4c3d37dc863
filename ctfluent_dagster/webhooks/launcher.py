"""Nudging Dagster when an event arrives: launch a job through the webserver's GraphQL API at once, instead of
waiting for the sensor's next tick (Dagster evaluates sensors at most every few seconds, and a run then needs its
process started). Optional: the sensor handles whatever was recorded either way, so a lost nudge delays, never loses.

Launches are coalesced: one request in flight at a time; events that arrive meanwhile are taken by the next launch
(the job handles every recorded event that is pending when it runs).
"""

from __future__ import annotations

import logging
import threading

import requests

log = logging.getLogger(__name__)

_LAUNCH_RUN = """
mutation LaunchRun($params: ExecutionParams!) {
  launchRun(executionParams: $params) { __typename ... on LaunchRunSuccess { run { runId } } ... on Error { message } }
}"""


class JobLauncher:
    def __init__(
        self, graphql_url: str, job: str, location: str, repository: str, timeout_seconds: float = 10.0
    ) -> None:
        self.graphql_url = graphql_url
        self.selector = {"repositoryLocationName": location, "repositoryName": repository, "jobName": job}
        self.timeout_seconds = timeout_seconds
        self.launched = 0
        self.failed = 0
        self._wanted = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dagster-job-launcher", daemon=True)
        self._thread.start()

    def nudge(self) -> None:
        """Launch the job soon (now, or right after the launch in flight)."""
        self._wanted.set()

    def stop(self) -> None:
        self._stopped.set()
        self._wanted.set()
        self._thread.join(timeout=self.timeout_seconds)

    def _run(self) -> None:
        session = requests.Session()
        while True:
            self._wanted.wait()
            if self._stopped.is_set():
                return
            self._wanted.clear()
            try:
                answer = session.post(
                    self.graphql_url,
                    json={"query": _LAUNCH_RUN, "variables": {"params": {"selector": self.selector}}},
                    timeout=self.timeout_seconds,
                )
                answer.raise_for_status()
                result = answer.json()["data"]["launchRun"]
                if result["__typename"] != "LaunchRunSuccess":
                    raise RuntimeError(f"{result['__typename']}: {result.get('message', '')}")
                self.launched += 1
            except Exception as exc:  # the sensor picks the events up at its next tick
                self.failed += 1
                log.warning("could not launch %s (%s): the sensor will handle the events", self.selector["jobName"],
                            type(exc).__name__)  # fmt: skip
