"""The tools around the emulators: the storefront command line (changes, ``find``, ``clear-faults``) on both
emulators over HTTP, and the demo's options and partition range."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ctfluent_sandbox.admin_client import AdminClient
from ctfluent_sandbox.cli import SandboxCredentials, read_env_file
from ctfluent_sandbox.dagster_webserver import days_since, recent_days
from ctfluent_sandbox.demo import build_parser as demo_parser
from ctfluent_sandbox.server import BackgroundSandbox
from ctfluent_sandbox.storefront import Storefront, fluent_records, main
from tests.sandbox.fluent_fixtures import FluentClient

PROJECT = "ctfluent-demo"


def attributes(**values: Any) -> list[dict[str, Any]]:
    return [{"name": name, "type": "STRING", "value": value} for name, value in values.items()]


FLUENT_STATE: dict[str, Any] = {
    "config": {"error_code_placement": "both"},
    "retailers": [{"id": "1", "ref": "CTFLUENT_EU"}],
    "customers": [
        # The email changed after creation: the username keeps the first one.
        {"id": "10", "ref": "1_jane@example.com", "username": "1_jane@example.com",
         "primaryEmail": "Jane.New@Example.com", "attributes": attributes(ctCustomerId="c-1", ctKey="customer-1")},
        {"id": "11", "ref": "2_jane@example.com", "username": "2_jane@example.com",
         "primaryEmail": "Jane.New@Example.com", "attributes": attributes(ctCustomerId="c-1")},
        {"id": "12", "ref": "1_max@example.com", "username": "1_max@example.com",
         "primaryEmail": "max@example.com", "attributes": attributes(ctCustomerId="c-2")},
    ],
    "categories": [{"id": "20", "ref": "cat-women", "attributes": attributes(ctCategoryId="k-1", ctKey="cat-women")}],
    "standard_products": [
        {"id": "30", "ref": "tee-product", "attributes": attributes(ctProductId="p-1", ctProductKey="tee")},
    ],
    "variant_products": [
        {"id": "31", "ref": "tee", "attributes": attributes(ctProductId="p-1", ctVariantId=1)},
        {"id": "32", "ref": "tee-2", "attributes": attributes(ctProductId="p-1", ctVariantId=2)},
        {"id": "33", "ref": "cap", "attributes": attributes(ctProductId="p-2", ctVariantId=1)},
    ],
}  # fmt: skip


@pytest.mark.parametrize(
    ("identifier", "ids"),
    [
        ("c-1", ["10", "11"]),  # a commercetools id: every retailer's customer
        ("jane@example.com", ["10", "11"]),  # the email the usernames were made of
        ("JANE.NEW@example.com", ["10", "11"]),  # the current email, in any case
        ("1_jane@example.com", ["10"]),  # a username
        ("customer-1", ["10"]),  # a customer key
        ("k-1", ["20"]),
        ("cat-women", ["20"]),  # a category key (its ref)
        ("p-1", ["30", "31", "32"]),  # a product: its standard product and its variants
        ("tee-product", ["30", "31", "32"]),  # a standard product ref (the key "tee" is a SKU: suffixed)
        ("tee-2", ["32"]),  # a SKU: that variant alone
        ("cap", ["33"]),
        ("nobody", []),
        ("CTFLUENT_EU", []),  # only what the sync writes
    ],
)
def test_find_picks_the_records_of_one_commercetools_record(identifier: str, ids: list[str]) -> None:
    assert [record["id"] for _, record in fluent_records(FLUENT_STATE, identifier)] == ids
    # "tee" is both the product key and its master variant's SKU: the product, as its key matches.
    assert [r["id"] for _, r in fluent_records(FLUENT_STATE, "tee")] == ["30", "31", "32"]


# -- the command line on both emulators --------------------------------------------------------------------------


@pytest.fixture
def env_file(tmp_path: Path) -> Iterator[Path]:
    credentials = SandboxCredentials.fresh()
    commercetools, fluent = credentials.emulators(PROJECT)
    commercetools.seed(customers=5, days=2, seed=1, products=4, variants=2)
    with BackgroundSandbox({"ct": (commercetools, 0), "fluent": (fluent, 0)}) as sandbox:
        env = credentials.connection_env(sandbox.urls["ct"], sandbox.urls["fluent"], PROJECT)
        path = tmp_path / "sandbox.env"
        path.write_text("".join(f"{name}={shlex.quote(value)}\n" for name, value in env.items()))
        yield path


def run(env_file: Path, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    main(["--env-file", str(env_file), *args])
    out: str = capsys.readouterr().out
    return out


def test_each_change_says_how_to_find_it(env_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for args in (
        ["rename-one"],
        ["create", "--email", "new@example.com"],
        ["delete-customer"],
        ["publish"],
        ["unpublish"],
        ["rename-product", "--name", "Renamed"],
        ["delete-product"],
    ):
        out = run(env_file, capsys, *args)
        changed = re.search(r"(?:customer|product) ([0-9a-f-]{36})", out)
        assert changed, out
        assert f"--env-file {env_file} find {changed[1]}" in out, out
        assert "in the UI: Automation > commercetools_messages_sensor" in out


def test_delete_product_deletes_a_published_product(env_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    storefront = Storefront(read_env_file(env_file))
    published = storefront.products(where="masterData(published = true)")
    target = published[0]
    out = run(env_file, capsys, "delete-product", "--product", target["id"])
    assert f"deleted product {target['id']}" in out
    assert target["id"] not in {p["id"] for p in storefront.products()}


def test_find_prints_only_the_record_asked_for(env_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fluent = _logged_in(read_env_file(env_file))
    for email in ("ada@example.com", "bob@example.com"):
        fluent.create_customer(f"1_{email}", primaryEmail=email, attributes=attributes(ctCustomerId=f"id-{email}"))
    out = run(env_file, capsys, "find", "id-ada@example.com")
    assert out.startswith("Fluent customer 1_ada@example.com (id ")
    assert "1_ada@example.com" in out and "bob" not in out
    with pytest.raises(SystemExit) as exit_info:
        run(env_file, capsys, "find", "nobody@example.com")
    assert exit_info.value.code == 1


def test_clear_faults_clears_both_emulators(env_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = read_env_file(env_file)
    fluent, ct = AdminClient(env["FLUENT_HOST"]), AdminClient(env["CTP_API_URL"])
    fluent.add_fault(match="POST /graphql", error_code="C0160E", share=0.05)
    ct.add_fault(match="GET *", status=503, times=1)
    out = run(env_file, capsys, "clear-faults")
    assert "Fluent emulator: cleared fault rules: match=POST /graphql, error_code=C0160E, share=0.05" in out
    assert "redrive_failed_<entity>" in out
    assert fluent.call("GET", "/faults") == [] and ct.call("GET", "/faults") == []


def _logged_in(env: dict[str, str]) -> FluentClient:
    """A Fluent client with the sandbox's (fresh) credentials."""
    client = FluentClient(env["FLUENT_HOST"])
    response = client.session.post(
        f"{env['FLUENT_HOST']}/oauth/token",
        data={"grant_type": "password", "client_id": env["FLUENT_CLIENT_ID"],
              "client_secret": env["FLUENT_CLIENT_SECRET"], "username": env["FLUENT_USERNAME"],
              "password": env["FLUENT_PASSWORD"], "scope": "api"},
        timeout=10,
    )  # fmt: skip
    response.raise_for_status()
    client.token = response.json()["access_token"]
    return client


def test_a_missing_env_file_says_what_to_do(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--env-file", str(tmp_path / "none.env"), "rename-one"])
    assert "start scripts/demo first" in capsys.readouterr().err


# -- the demo ----------------------------------------------------------------------------------------------------


def test_the_demo_help_names_the_script_and_shows_every_default() -> None:
    text = demo_parser().format_help()
    assert text.startswith("usage: scripts/demo ")
    assert "``" not in text  # no reStructuredText
    options = text.split("\noptions:\n")[1].split("\n\n")[0]
    entries = re.split(r"\n(?=  -)", options)
    assert len(entries) == 10  # --help and nine options
    for entry in entries[1:]:
        assert "(default: " in entry, entry


def test_the_partitions_start_on_the_first_seeded_day_and_the_backfill_covers_them_all() -> None:
    today = datetime(2026, 3, 10, 23, 59, tzinfo=UTC)
    assert days_since(date(2026, 3, 7), today) == ["2026-03-07", "2026-03-08", "2026-03-09", "2026-03-10"]
    assert recent_days(3, today) == days_since(date(2026, 3, 7), today)
    # The seeded history (what the partitions are on: lastModifiedAt) begins on the demo's first day, not before.
    days = 3
    first_day = datetime.now(UTC).date() - timedelta(days=days)
    commercetools, _ = SandboxCredentials.fresh().emulators(PROJECT)
    commercetools.seed(customers=300, days=days, seed=1, products=30)
    state = commercetools.state()
    seeded = sorted(r["lastModifiedAt"][:10] for kind in ("customers", "categories", "products") for r in state[kind])
    assert seeded[0] == first_day.isoformat()  # the categories: at the very start of the history
    assert set(seeded) <= set(days_since(first_day))


def test_an_order_can_be_placed_and_completion_needs_an_order_in_fluent(
    env_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = run(env_file, capsys, "place-order", "--email", "guest@example.org")
    placed = re.search(r"placed order ([0-9a-f-]{36})", out)
    assert placed and "in the UI: Automation > commercetools_messages_sensor" in out, out
    order = Storefront(read_env_file(env_file)).order(placed[1])
    assert order["customerEmail"] == "guest@example.org" and len(order["lineItems"]) == 1
    with pytest.raises(SystemExit):  # nothing reached Fluent here: no order to complete
        run(env_file, capsys, "complete-order")


def test_fluent_side_commands_change_stock_fulfil_and_consign_and_say_where_to_look(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    credentials = SandboxCredentials.fresh()
    commercetools, fluent = credentials.emulators(PROJECT)
    commercetools.seed(customers=5, days=2, seed=1, products=4, variants=2, orders=3)
    with BackgroundSandbox({"ct": (commercetools, 0), "fluent": (fluent, 0)}) as sandbox:
        env = credentials.connection_env(sandbox.urls["ct"], sandbox.urls["fluent"], PROJECT)
        env_file = tmp_path / "sandbox.env"
        env_file.write_text("".join(f"{name}={shlex.quote(value)}\n" for name, value in env.items()))
        admin = AdminClient(env["FLUENT_HOST"])
        admin.call("POST", "/locations", {"ref": "LOC_9", "name": "Demo store", "network": "NETWORK:ONLINE"})

        out = run(env_file, capsys, "set-stock", "SKU-DEMO", "12", "--location", "LOC_9")
        assert "fluent_inventory_sensor" in out and f"--env-file {env_file} stock SKU-DEMO" in out
        (position,) = [p for p in admin.state()["virtual_positions"] if p["productRef"] == "SKU-DEMO"]
        assert (position["groupRef"], position["quantity"]) == ("LOC_9", 12)

        # An order in Fluent (as the sync creates it), fulfilled in part, then shipped.
        _order_in_fluent(_logged_in(env), "DEMO-1", ("SKU-A", "SKU-B"))
        out = run(env_file, capsys, "fulfil-order", "--ref", "DEMO-1")
        fulfilment = re.search(r"has fulfilment (\S+) of 1 of its 2 item", out)
        assert fulfilment, out
        out = run(env_file, capsys, "consign", fulfilment[1], "--tracking", "TRACK-1")
        assert "commercetools/deliveries" in out
        (consignment,) = admin.state()["consignments"]
        assert (consignment["consignmentReference"], consignment["status"]) == ("TRACK-1", "IN_TRANSIT")

        storefront = Storefront(env)
        open_order = storefront.orders(where='orderState = "Open"')[0]
        out = run(env_file, capsys, "cancel-in-commercetools", "--order", open_order["id"])
        assert "fluent/order_cancellations" in out
        assert storefront._get(f"orders/{open_order['id']}")["orderState"] == "Cancelled"


def _order_in_fluent(fluent: FluentClient, ref: str, skus: tuple[str, ...]) -> None:
    """An order of one of each SKU, with its products and customer, created in Fluent as the sync would."""
    catalogue = {"ref": "PC:MASTER:1"}
    product = {"catalogue": catalogue, "gtin": "4006381333931", "name": "Demo"}
    mutation = "mutation M($input: {kind}Input!) {{ {field}(input: $input) {{ ref }} }}"
    create_standard = mutation.format(kind="CreateStandardProduct", field="createStandardProduct")
    create_variant = mutation.format(kind="CreateVariantProduct", field="createVariantProduct")
    assert "errors" not in fluent.gql(create_standard, {"input": {**product, "ref": "DEMO", "type": "STANDARD"}})
    for sku in skus:
        variant = {**product, "ref": sku, "type": "VARIANT", "product": {"ref": "DEMO", "catalogue": catalogue}}
        assert "errors" not in fluent.gql(create_variant, {"input": variant})
    order = {
        "ref": ref, "type": "HD", "retailer": {"id": "1"},
        "customer": {"username": "1_demo@example.com", "firstName": "Demo", "primaryEmail": "demo@example.com",
                     "timezone": "Europe/Berlin", "promotionOptIn": False, "retailer": {"id": "1"}},
        "fulfilmentChoice": {"deliveryType": "STANDARD", "fulfilmentType": "HD_PFS",
                             "deliveryAddress": {"ref": "DEMO-ADDRESS", "name": "Demo", "street": "Torstraße 1",
                                                 "city": "Berlin", "postcode": "10119", "country": "DE"}},
        "items": [{"ref": f"LI-{sku}", "productRef": sku, "productCatalogueRef": "PC:MASTER:1", "quantity": 1}
                  for sku in skus],
    }  # fmt: skip
    create_order = mutation.format(kind="CreateOrderAndCustomer", field="createOrderAndCustomer")
    assert "errors" not in fluent.gql(create_order, {"input": order})
