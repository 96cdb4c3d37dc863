"""Driving a running Dagster webserver through its GraphQL API: what the demo and the end-to-end tests do.

``python -m ctfluent_sandbox.dagster_webserver kickoff --url http://127.0.0.1:3000 --days 30`` waits for the
webserver, launches a backfill of every synced asset over the last ``days`` days and turns on the given sensors.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import requests

LOCATION = "ctfluent_dagster"
REPOSITORY = "__repository__"


def synced_asset_paths() -> list[list[str]]:
    """Every partitioned asset of the code location (each entity's commercetools and Fluent assets; not the order
    status back-sync, which writes what its sensor finds): a backfill of all of them loads each day's categories,
    products, customers, orders and payments in dependency order."""
    from ctfluent_dagster.assets import ENTITY_DEFINITIONS

    return [list(key.path) for entity in ENTITY_DEFINITIONS.values() for a in entity.assets for key in a.keys
            if a.partitions_def is not None]  # fmt: skip


_LAUNCH_BACKFILL = """
mutation LaunchBackfill($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
    ... on UnauthorizedError { message }
  }
}"""
_BACKFILL = """
query Backfill($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill { status numPartitions runs(limit: 1000) { runId status } }
    ... on PythonError { message }
  }
}"""
_LAUNCH_RUN = """
mutation LaunchRun($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidSubsetError { message }
  }
}"""
_RUN = """
query Run($id: ID!) { runOrError(runId: $id) { __typename ... on Run { runId status tags { key value } } } }"""
_START_SENSOR = """
mutation StartSensor($selector: SensorSelector!) {
  startSensor(sensorSelector: $selector) {
    __typename
    ... on Sensor { name sensorState { status } }
    ... on PythonError { message }
    ... on SensorNotFoundError { message }
  }
}"""


_STOP_SENSOR = """
mutation StopSensor($id: String!) {
  stopSensor(id: $id) { __typename ... on StopSensorMutationResult { instigationState { status } } }
}"""
_SENSOR_STATE = """
query SensorState($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) { __typename ... on Sensor { sensorState { id status } } }
}"""


RUN_ENDED = ("SUCCESS", "FAILURE", "CANCELED")
BACKFILL_ENDED = ("COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED")


class WebserverError(RuntimeError):
    pass


class DagsterWebserver:
    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    def query(self, document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        answer = self.session.post(
            f"{self.url}/graphql", json={"query": document, "variables": variables or {}}, timeout=self.timeout
        )
        answer.raise_for_status()
        body = answer.json()
        if body.get("errors"):
            raise WebserverError(str(body["errors"]))
        data: dict[str, Any] = body["data"]
        return data

    def wait_until_ready(self, seconds: float = 180.0) -> None:
        """Until the webserver answers and the code location has loaded."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                status = self.query("{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }")
                entries = status["workspaceOrError"].get("locationEntries") or []
                if any(e["name"] == LOCATION and e["loadStatus"] == "LOADED" for e in entries):
                    return
            except (requests.RequestException, WebserverError):
                pass
            time.sleep(1)
        raise WebserverError(f"{self.url} did not load the {LOCATION} code location within {seconds:.0f} s")

    def launch_backfill(self, partitions: Sequence[str], title: str) -> str:
        params = {
            "assetSelection": [{"path": path} for path in synced_asset_paths()],
            "partitionNames": list(partitions),
            "title": title,
        }
        result = self.query(_LAUNCH_BACKFILL, {"params": params})["launchPartitionBackfill"]
        if result["__typename"] != "LaunchBackfillSuccess":
            raise WebserverError(f"backfill not launched: {result}")
        return str(result["backfillId"])

    def backfill(self, backfill_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.query(_BACKFILL, {"id": backfill_id})["partitionBackfillOrError"]
        return result

    def finished_backfill(self, backfill_id: str, seconds: float = 300.0) -> dict[str, Any]:
        """Wait for a backfill to end, however it ended; the backfill with its runs."""
        return self._wait(
            lambda: self.backfill(backfill_id), BACKFILL_ENDED, f"backfill {backfill_id}", seconds, every=2.0
        )

    def launch_run(
        self,
        job_name: str,
        partition: str | None,
        run_config: dict[str, Any] | None = None,
        assets: Sequence[Sequence[str]] | None = None,
    ) -> str:
        """Launch a job's run, for one partition when it is partitioned (as the Launchpad does), of some of its
        ``assets`` (paths) when given (as Materialize does with a selection: job ``__ASSET_JOB``); its run id."""
        tags = [{"key": "dagster/partition", "value": partition}] if partition else []
        selector: dict[str, Any] = {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY,
                                    "jobName": job_name}  # fmt: skip
        if assets is not None:
            selector["assetSelection"] = [{"path": list(path)} for path in assets]
        params = {
            "selector": selector,
            "runConfigData": run_config or {},
            "executionMetadata": {"tags": tags},
        }
        result = self.query(_LAUNCH_RUN, {"params": params})["launchRun"]
        if result["__typename"] != "LaunchRunSuccess":
            raise WebserverError(f"run of {job_name} not launched: {result}")
        return str(result["run"]["runId"])

    def run(self, run_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.query(_RUN, {"id": run_id})["runOrError"]
        return result

    def finished_run(self, run_id: str, seconds: float = 120.0) -> dict[str, Any]:
        """Wait for a run to end, however it ended; the run."""
        return self._wait(lambda: self.run(run_id), RUN_ENDED, f"run {run_id}", seconds, every=1.0)

    def _wait(
        self, read: Callable[[], dict[str, Any]], ended: tuple[str, ...], what: str, seconds: float, every: float
    ) -> dict[str, Any]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            found = read()
            if found.get("status") in ended:
                return found
            time.sleep(every)
        raise WebserverError(f"{what} did not end within {seconds:.0f} s")

    def stop_sensor(self, name: str) -> str:
        state = self.query(_SENSOR_STATE, {"selector": _sensor_selector(name)})["sensorOrError"]["sensorState"]
        result = self.query(_STOP_SENSOR, {"id": state["id"]})["stopSensor"]
        return str(result["instigationState"]["status"])

    def start_sensor(self, name: str) -> str:
        selector = _sensor_selector(name)
        result = self.query(_START_SENSOR, {"selector": selector})["startSensor"]
        if result["__typename"] != "Sensor":
            raise WebserverError(f"sensor {name} not started: {result}")
        return str(result["sensorState"]["status"])


def _sensor_selector(name: str) -> dict[str, str]:
    return {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "sensorName": name}


def recent_days(days: int, today: datetime | None = None) -> list[str]:
    """The daily partitions from ``days`` days ago up to today (UTC), oldest first."""
    end = (today or datetime.now(UTC)).date()
    return days_since(end - timedelta(days=days), today)


def days_since(first: date, today: datetime | None = None) -> list[str]:
    """The daily partitions from ``first`` up to today (UTC) included, oldest first."""
    end = (today or datetime.now(UTC)).date()
    return [(first + timedelta(days=offset)).isoformat() for offset in range((end - first).days + 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description="Kick off the demo sync on a running Dagster webserver.")
    parser.add_argument("command", choices=["kickoff"])
    parser.add_argument("--url", default="http://127.0.0.1:3000")
    parser.add_argument("--days", type=int, default=30, help="backfill this many past days plus today")
    parser.add_argument("--sensor", action="append", default=[], help="sensor to turn on (repeatable)")
    args = parser.parse_args()

    webserver = DagsterWebserver(args.url)
    webserver.wait_until_ready()
    partitions = recent_days(args.days)
    backfill_id = webserver.launch_backfill(partitions, title="demo: initial load")
    print(f"launched backfill {backfill_id} of {len(partitions)} daily partitions: {args.url}/overview/backfills")
    for sensor in args.sensor:
        print(f"sensor {sensor}: {webserver.start_sensor(sensor)}")


if __name__ == "__main__":
    main()
