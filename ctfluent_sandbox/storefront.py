"""Acting as the storefront: change customers and products through the commercetools (emulator) API, as a shop
would.

    python -m ctfluent_sandbox.storefront --env-file .dagster_home/sandbox.env rename-one
    python -m ctfluent_sandbox.storefront --env-file .dagster_home/sandbox.env create --email new@example.com
    python -m ctfluent_sandbox.storefront --env-file .dagster_home/sandbox.env unpublish --product key=product-000001
    python -m ctfluent_sandbox.storefront --env-file .dagster_home/sandbox.env publish
    python -m ctfluent_sandbox.storefront --env-file .dagster_home/sandbox.env rename-product --name "Summer Tee"

Used by the demo, the end-to-end tests and the delta benchmark; it talks to the real HTTP API (with the API client
from the env file), so every change produces the messages commercetools would. ``--product`` takes an id or
``key=<key>``; without it a product in the right state is picked at random.
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

    def _get(self, path: str, **params: Any) -> Any:
        answer = self.session.get(f"{self.base}/{path}", params=params, timeout=self.timeout)
        answer.raise_for_status()
        return answer.json()

    def _apply(self, resource: str, ident: str, actions: tuple[dict[str, Any], ...]) -> dict[str, Any]:
        """Apply update actions to ``/{resource}/{ident}`` at its current version."""
        version = self._get(f"{resource}/{ident}")["version"]
        answer = self.session.post(
            f"{self.base}/{resource}/{ident}", json={"version": version, "actions": list(actions)}, timeout=self.timeout
        )
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result

    # -- customers ---------------------------------------------------------------------------------------------

    def customers(self, limit: int = 100) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = self._get("customers", limit=limit)["results"]
        return results

    def customer(self, customer_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._get(f"customers/{customer_id}")
        return result

    def update(self, customer_id: str, *actions: dict[str, Any]) -> dict[str, Any]:
        """Apply update actions at the customer's current version."""
        return self._apply("customers", customer_id, actions)

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

    # -- products ----------------------------------------------------------------------------------------------

    def products(self, limit: int = 100, where: str | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit} | ({"where": where} if where else {})
        results: list[dict[str, Any]] = self._get("products", **params)["results"]
        return results

    def product_action(self, product: str, *actions: dict[str, Any]) -> dict[str, Any]:
        """Apply update actions to a product (id or ``key=<key>``) at its current version."""
        return self._apply("products", product, actions)

    def publish(self, product: str) -> dict[str, Any]:
        return self.product_action(product, {"action": "publish"})

    def unpublish(self, product: str) -> dict[str, Any]:
        return self.product_action(product, {"action": "unpublish"})

    def rename_product(self, product: str, name: str, locale: str = "en") -> dict[str, Any]:
        """A new name in one locale, as an editor does it: change the staged name, then publish it."""
        staged = self._get(f"products/{product}")["masterData"]["staged"]["name"]
        return self.product_action(
            product, {"action": "changeName", "name": {**staged, locale: name}}, {"action": "publish"}
        )


_PRODUCT_COMMANDS = {  # command -> which products it may pick when --product is not given
    "publish": "masterData(published = false or hasStagedChanges = true)",
    "unpublish": "masterData(published = true)",
    "rename-product": "masterData(published = true)",
}


def main() -> None:
    parser = argparse.ArgumentParser(description="Change customers and products in the commercetools emulator.")
    parser.add_argument("--env-file", type=Path, required=True, help="written by ctfluent-sandbox --env-file")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("rename-one", help="give a random customer a new first name")
    create = commands.add_parser("create", help="create a customer")
    create.add_argument("--email", required=True)
    for command, help_text in (
        ("publish", "publish a product (its staged data becomes current)"),
        ("unpublish", "unpublish a product"),
        ("rename-product", "change a product's name and publish it"),
    ):
        sub = commands.add_parser(command, help=help_text)
        sub.add_argument("--product", help="id or key=<key> (default: a random product this applies to)")
        if command == "rename-product":
            sub.add_argument("--name", required=True)
            sub.add_argument("--locale", default="en")
    args = parser.parse_args()

    storefront = Storefront(read_env_file(args.env_file))
    if args.command == "rename-one":
        customer = random.choice(storefront.customers())
        updated = storefront.update(customer["id"], {"action": "setFirstName", "firstName": "Renamed"})
        print(f"customer {updated['id']} is now version {updated['version']} (first name 'Renamed')")
    elif args.command == "create":
        created = storefront.create(args.email)
        print(f"created customer {created['id']}")
    else:
        product = args.product or random.choice(storefront.products(where=_PRODUCT_COMMANDS[args.command]))["id"]
        if args.command == "rename-product":
            changed = storefront.rename_product(product, args.name, args.locale)
        else:
            changed = storefront.publish(product) if args.command == "publish" else storefront.unpublish(product)
        state = "published" if changed["masterData"]["published"] else "unpublished"
        print(f"product {changed['id']} is now version {changed['version']} ({state})")


if __name__ == "__main__":
    main()
