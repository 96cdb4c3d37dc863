"""Acting as the storefront: change customers through the commercetools (emulator) API, as a shop would.

    python -m ctfluent_sandbox.storefront --env-file .dagster_home/sandbox.env rename-one
    python -m ctfluent_sandbox.storefront --env-file .dagster_home/sandbox.env create --email new@example.com

Used by the demo, the end-to-end tests and the delta benchmark; it talks to the real HTTP API (with the API client
from the env file), so every change produces the messages commercetools would.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path
from typing import Any

import requests

from ctfluent_sandbox.cli import read_env_file


class Storefront:
    def __init__(self, env: dict[str, str], timeout: float = 10.0) -> None:
        self.base = f"{env['CTP_API_URL']}/{env['CTP_PROJECT_KEY']}"
        self.timeout = timeout
        self.session = requests.Session()
        answer = self.session.post(
            f"{env['CTP_AUTH_URL']}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(env["CTP_CLIENT_ID"], env["CTP_CLIENT_SECRET"]),
            timeout=timeout,
        )
        answer.raise_for_status()
        self.session.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"

    def customers(self, limit: int = 100) -> list[dict[str, Any]]:
        answer = self.session.get(f"{self.base}/customers", params={"limit": limit}, timeout=self.timeout)
        answer.raise_for_status()
        results: list[dict[str, Any]] = answer.json()["results"]
        return results

    def customer(self, customer_id: str) -> dict[str, Any]:
        answer = self.session.get(f"{self.base}/customers/{customer_id}", timeout=self.timeout)
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result

    def update(self, customer_id: str, *actions: dict[str, Any]) -> dict[str, Any]:
        """Apply update actions at the customer's current version."""
        version = self.customer(customer_id)["version"]
        answer = self.session.post(
            f"{self.base}/customers/{customer_id}",
            json={"version": version, "actions": list(actions)},
            timeout=self.timeout,
        )
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result

    def create(self, email: str, first_name: str = "Fresh", last_name: str = "Customer") -> dict[str, Any]:
        draft = {"email": email, "password": "unused-by-the-sync", "firstName": first_name, "lastName": last_name}
        answer = self.session.post(f"{self.base}/customers", json=draft, timeout=self.timeout)
        answer.raise_for_status()
        created: dict[str, Any] = answer.json()["customer"]
        return created

    def delete(self, customer_id: str) -> None:
        version = self.customer(customer_id)["version"]
        answer = self.session.delete(
            f"{self.base}/customers/{customer_id}", params={"version": version}, timeout=self.timeout
        )
        answer.raise_for_status()


def main() -> None:
    parser = argparse.ArgumentParser(description="Change customers in the commercetools emulator.")
    parser.add_argument("--env-file", type=Path, required=True, help="written by ctfluent-sandbox --env-file")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("rename-one", help="give a random customer a new first name")
    create = commands.add_parser("create", help="create a customer")
    create.add_argument("--email", required=True)
    args = parser.parse_args()

    storefront = Storefront(read_env_file(args.env_file))
    if args.command == "rename-one":
        customer = random.choice(storefront.customers())
        updated = storefront.update(customer["id"], {"action": "setFirstName", "firstName": "Renamed"})
        print(f"customer {updated['id']} is now version {updated['version']} (first name 'Renamed')")
    else:
        created = storefront.create(args.email)
        print(f"created customer {created['id']}")


if __name__ == "__main__":
    main()
