"""The emulator's responses validate against the official commercetools OpenAPI spec (``../shared``): customers,
stores, the project, the catalogue (categories, product types, products, projections), orders, payments, shipping
methods, messages and errors.

Every message is validated against its own ``components/schemas/<type>Message`` schema: the base ``Message``
schema does not check type-specific fields. Two artefacts of generating the spec from RAML are repaired before
validating: "pattern properties" appear as required properties named like ``/^[a-z]{2}$/`` (``LocalizedString``,
``FieldContainer``, ``ErrorObject``...), which no document can satisfy, so those entries are dropped; and the
values of those pattern properties are typed ``string`` where the RAML source says any JSON value (custom field
values in ``FieldContainer``, extra error fields such as ``currentVersion`` in ``ErrorObject``), so that
constraint is lifted for those two.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from tests.sandbox.catalogue_fixtures import (
    SHIRT_TYPE,
    create,
    create_category,
    create_product,
    delete,
    image,
    names,
    price,
    update,
    updated,
)
from tests.sandbox.ct_fixtures import PROJECT, CtSandbox, running
from tests.sandbox.order_fixtures import checked_out, checkout, create_payment, import_draft, money, seeded_skus

SPEC_URI = "urn:commercetools:openapi"
PREFERENCES = {"typeId": "type", "key": "customer-preferences"}
# RAML: FieldContainer `/^[a-zA-Z0-9_-]{2,36}$/: CustomFieldValue`, ErrorObject `//: any`
_ANY_VALUED_PATTERN_PROPERTIES = ("FieldContainer", "ErrorObject")


def _drop_pattern_required(node: Any) -> None:
    if isinstance(node, dict):
        required = node.get("required")
        if isinstance(required, list):
            node["required"] = [r for r in required if not (r.startswith("/") and r.endswith("/"))]
        for value in node.values():
            _drop_pattern_required(value)
    elif isinstance(node, list):
        for value in node:
            _drop_pattern_required(value)


class Spec:
    def __init__(self, path: Path) -> None:
        with path.open(encoding="utf-8") as handle:
            self.document: dict[str, Any] = yaml.load(handle, Loader=yaml.CSafeLoader)
        _drop_pattern_required(self.document)
        for name in _ANY_VALUED_PATTERN_PROPERTIES:
            self.document["components"]["schemas"][name]["additionalProperties"] = {}
        resource = Resource.from_contents(self.document, default_specification=DRAFT4)
        self.registry: Registry[Any] = Registry().with_resource(SPEC_URI, resource)

    def has(self, schema: str) -> bool:
        return schema in self.document["components"]["schemas"]

    def errors(self, instance: Any, schema: str) -> list[str]:
        assert self.has(schema), f"no schema {schema} in the spec"
        validator = OAS30Validator({"$ref": f"{SPEC_URI}#/components/schemas/{schema}"}, registry=self.registry)
        return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(instance)]

    def check(self, instance: Any, schema: str) -> None:
        problems = self.errors(instance, schema)
        assert not problems, f"{schema}: {problems[:5]}"


@pytest.fixture(scope="module")
def spec(shared_dir: Path) -> Spec:
    return Spec(shared_dir / "commercetools-api" / "openapi.yaml")


@pytest.fixture(scope="module")
def ct() -> Iterator[CtSandbox]:
    with running(messages_enabled=True) as sandbox:
        sandbox.emulator.seed(customers=300, days=30, seed=4)
        yield sandbox


def test_validation_really_checks(spec: Spec, ct: CtSandbox) -> None:
    customer = ct.ok("/customers", limit="1")["results"][0]
    spec.check(customer, "Customer")
    assert spec.errors({k: v for k, v in customer.items() if k != "email"}, "Customer")
    assert spec.errors({**customer, "version": "1"}, "Customer")
    assert spec.errors({**customer, "addresses": [{"id": "x"}]}, "Customer")  # an address needs a country
    assert spec.errors({**customer, "authenticationMode": "Magic"}, "Customer")
    message = {"id": "m", "version": 1, "createdAt": "x", "lastModifiedAt": "x", "sequenceNumber": 1}
    message |= {"resource": {"typeId": "customer", "id": "c"}, "resourceVersion": 1, "type": "CustomerEmailChanged"}
    assert spec.errors(message, "CustomerEmailChangedMessage")  # no email / oldEmail
    spec.check({**message, "email": "a", "oldEmail": "b"}, "CustomerEmailChangedMessage")


def test_customer_pages_and_single_customers(spec: Spec, ct: CtSandbox) -> None:
    for offset in ("0", "100", "200"):
        page = ct.ok("/customers", limit="100", offset=offset)
        spec.check(page, "CustomerPagedQueryResponse")
    spec.check(ct.ok("/customers", withTotal="false", limit="3"), "CustomerPagedQueryResponse")
    some = ct.ok("/customers", where="custom is defined and addresses(mobile is defined)", limit="1")["results"][0]
    spec.check(ct.ok(f"/customers/{some['id']}"), "Customer")


def test_created_customer_is_a_sign_in_result(spec: Spec, ct: CtSandbox) -> None:
    response = ct.post(
        "/customers",
        {
            "email": "oas@example.com",
            "password": "p",
            "firstName": "O",
            "addresses": [{"country": "DE", "custom": {"type": PREFERENCES, "fields": {"note": "x"}}}],
            "defaultBillingAddress": 0,
            "stores": [{"typeId": "store", "key": "eu-store"}],
            "custom": {"type": PREFERENCES, "fields": {"newsletter": True}},
            "dateOfBirth": "1999-09-09",
            "locale": "de-DE",
        },
    )
    spec.check(response.json(), "CustomerSignInResult")


def test_project_and_stores(spec: Spec, ct: CtSandbox) -> None:
    spec.check(ct.ok(""), "Project")
    page = ct.ok("/stores")
    spec.check(page, "StorePagedQueryResponse")
    spec.check(ct.ok("/stores/key=eu-store"), "Store")
    created = ct.post("/stores", {"key": "oas-store", "name": {"en": "OAS"}, "countries": [{"code": "NZ"}]})
    spec.check(created.json(), "Store")


def test_error_responses(spec: Spec, ct: CtSandbox) -> None:
    customer = ct.create_customer(email="errors@example.com", key="errors")
    cases = [
        (ct.get("/customers", where="nope = 1"), "InvalidInput"),
        (ct.get("/customers", limit="501"), "InvalidInput"),
        (ct.get("/customers/nope"), "ResourceNotFound"),
        (ct.update({**customer, "version": 5}, {"action": "setFirstName"}), "ConcurrentModification"),
        (ct.update(customer, {"action": "explode"}), "InvalidJsonInput"),
        (ct.post("/customers", {"email": "Errors@example.com", "password": "p"}), "DuplicateField"),
        (ct.post("/customers", {"email": "r@example.com", "password": "p", "key": "!"}), "InvalidField"),
        (ct.post("/stores", {}), "RequiredField"),
        (ct.post("/stores", {"key": "x-store", "supplyChannels": [{"key": "c"}]}), "ReferencedResourceNotFound"),
        (ct.update(customer, {"action": "setCustomField", "name": "n"}), "InvalidOperation"),
    ]
    for response, code in cases:
        body = response.json()
        spec.check(body, "ErrorResponse")
        assert body["errors"][0]["code"] == code
        spec.check(body["errors"][0], f"{code}Error")
    conflict = ct.update({**customer, "version": 5}, {"action": "setFirstName"}).json()
    assert conflict["errors"][0]["currentVersion"] == 1


def test_auth_error_responses(spec: Spec, ct: CtSandbox) -> None:
    unauthorised = ct.session.get(f"{ct.url}/{PROJECT}/customers", headers={"Authorization": "Bearer x"}, timeout=5)
    spec.check(unauthorised.json(), "AuthErrorResponse")
    spec.check(unauthorised.json()["errors"][0], "InvalidTokenError")
    token = ct.token(scope=f"view_stores:{PROJECT}").json()["access_token"]
    forbidden = ct.session.get(f"{ct.url}/{PROJECT}/customers", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    spec.check(forbidden.json(), "AuthErrorResponse")
    spec.check(forbidden.json()["errors"][0], "InsufficientScopeError")
    spec.check(ct.token(secret="bad").json(), "AuthErrorResponse")


# every customer message type the emulator produces, and an update that produces it
_PRODUCERS: list[dict[str, Any]] = [
    {"action": "setFirstName", "firstName": "F"},
    {"action": "setLastName", "lastName": "L"},
    {"action": "setTitle", "title": "T"},
    {"action": "setCompanyName", "companyName": "C"},
    {"action": "setDateOfBirth", "dateOfBirth": "1990-01-01"},
    {"action": "setExternalId", "externalId": "E"},
    {"action": "changeEmail", "email": "changed-oas@example.com"},
    {"action": "addAddress", "address": {"country": "FR", "key": "second"}},
    {"action": "changeAddress", "addressKey": "second", "address": {"country": "FR", "city": "Nice", "key": "second"}},
    {"action": "addShippingAddressId", "addressKey": "second"},
    {"action": "setDefaultShippingAddress", "addressKey": "second"},
    {"action": "addBillingAddressId", "addressKey": "second"},
    {"action": "setDefaultBillingAddress", "addressKey": "second"},
    {"action": "removeShippingAddressId", "addressKey": "second"},
    {"action": "removeBillingAddressId", "addressKey": "second"},
    {"action": "setDefaultShippingAddress"},
    {"action": "removeAddress", "addressKey": "second"},
    {"action": "setCustomType", "type": PREFERENCES, "fields": {"newsletter": False}},
    {"action": "setCustomField", "name": "newsletter", "value": True},
    {"action": "setCustomField", "name": "tier", "value": "gold"},
    {"action": "setCustomField", "name": "tier", "value": None},
    {"action": "setCustomType"},
    {"action": "setStores", "stores": [{"typeId": "store", "key": "us-store"}]},
]


def test_every_message_validates_against_its_own_schema(spec: Spec, ct: CtSandbox) -> None:
    customer = ct.create_customer(email="messages-oas@example.com", key="m-oas", addresses=[{"country": "DE"}])
    for action in _PRODUCERS:
        customer = ct.updated(customer, action)
    assert ct.request("DELETE", f"/customers/{customer['id']}", {"version": str(customer["version"])}).ok
    ct.post("/stores", {"key": "msg-store", "name": {"en": "M"}})
    page = ct.ok("/messages", sort=["createdAt asc", "id asc"], limit="500", expand="resource")
    spec.check(page, "MessagePagedQueryResponse")
    types = set()
    for message in page["results"]:
        spec.check(message, f"{message['type']}Message")
        types.add(message["type"])
    expected = {
        "CustomerCreated",
        "CustomerFirstNameSet",
        "CustomerLastNameSet",
        "CustomerTitleSet",
        "CustomerCompanyNameSet",
        "CustomerDateOfBirthSet",
        "CustomerExternalIdSet",
        "CustomerEmailChanged",
        "CustomerAddressAdded",
        "CustomerAddressChanged",
        "CustomerAddressRemoved",
        "CustomerShippingAddressAdded",
        "CustomerShippingAddressRemoved",
        "CustomerBillingAddressAdded",
        "CustomerBillingAddressRemoved",
        "CustomerDefaultShippingAddressSet",
        "CustomerDefaultBillingAddressSet",
        "CustomerCustomTypeSet",
        "CustomerCustomTypeRemoved",
        "CustomerCustomFieldAdded",
        "CustomerCustomFieldChanged",
        "CustomerCustomFieldRemoved",
        "CustomerStoresSet",
        "CustomerDeleted",
        "StoreCreated",
    }
    assert types == expected
    single = ct.ok(f"/messages/{page['results'][0]['id']}")
    spec.check(single, "Message")


def test_actions_without_a_message_type_have_none_in_the_spec(spec: Spec) -> None:
    """The emulator's silent actions are exactly those the spec has no message type for."""
    for name in ("MiddleNameSet", "SalutationSet", "LocaleSet", "KeySet", "CustomerNumberSet", "VatIdSet"):
        assert not spec.has(f"Customer{name}Message")
    assert not spec.has("CustomerStoreAddedMessage") and not spec.has("CustomerStoreRemovedMessage")
    assert spec.has("CustomerStoresSetMessage")


# -- the catalogue: categories, product types, products, projections -------------------------------------------


@pytest.fixture(scope="module")
def catalogue() -> Iterator[CtSandbox]:
    """A seeded catalogue on an emulator of its own (the customer tests above count their messages)."""
    with running(messages_enabled=True) as sandbox:
        sandbox.emulator.seed(customers=0, days=30, seed=4, products=60)
        create(sandbox, "/product-types", SHIRT_TYPE)
        yield sandbox


def test_catalogue_resources_and_pages(spec: Spec, catalogue: CtSandbox) -> None:
    ct = catalogue
    for path, schema in (
        ("/categories", "Category"),
        ("/product-types", "ProductType"),
        ("/products", "Product"),
        ("/product-projections", "ProductProjection"),
    ):
        page = ct.ok(path, limit="500")
        spec.check(page, f"{schema}PagedQueryResponse")
        spec.check(ct.ok(f"{path}/{page['results'][0]['id']}"), schema)
    staged = ct.ok("/product-projections", staged="true", limit="500", withTotal="false")
    spec.check(staged, "ProductProjectionPagedQueryResponse")
    assert any(not p["published"] for p in staged["results"]) and any(p["hasStagedChanges"] for p in staged["results"])
    product = ct.ok("/products", limit="1", where="masterData(hasStagedChanges = true)")["results"][0]
    assert product["masterData"]["current"] != product["masterData"]["staged"]
    spec.check(product, "Product")
    assert spec.errors({**product, "masterData": {**product["masterData"], "published": "yes"}}, "Product")


# every catalogue message type the emulator produces, and the writes that produce it
_CATALOGUE_PRODUCERS: list[dict[str, Any]] = [
    {"action": "changeSlug", "slug": names("oas-tee-2")},
    {"action": "addVariant", "sku": "oas-2", "images": [image("https://img.example/oas/2.jpg")], "staged": False},
    {"action": "addPrice", "variantId": 2, "price": price("JPY", 3300, country="JP")},
    {"action": "setPrices", "variantId": 2, "prices": [price("KWD", 1250)], "staged": False},
    {"action": "addExternalImage", "variantId": 1, "image": {**image("https://img.example/oas/x.jpg"), "label": "x"}},
    {"action": "addToCategory", "category": {"typeId": "category", "key": "oas-shirts"}, "orderHint": "0.1"},
    {"action": "publish"},
    {"action": "removeFromCategory", "category": {"typeId": "category", "key": "oas-shirts"}, "staged": False},
    {"action": "removeVariant", "id": 2},
    {"action": "revertStagedChanges"},
    {"action": "setPriceMode", "priceMode": "Standalone"},
    {"action": "unpublish"},
]


def test_every_catalogue_message_validates_against_its_own_schema(spec: Spec, catalogue: CtSandbox) -> None:
    ct = catalogue
    category = create_category(ct, "oas-shirts", key="oas-shirts", externalId="E-9")
    updated(ct, "/categories", category, {"action": "changeSlug", "slug": names("oas-shirts-2", de="oas-hemden")})
    product = create_product(ct, "oas-tee", key="oas-tee", publish=True)
    for action in _CATALOGUE_PRODUCERS:
        product = updated(ct, "/products", product, action)
    price_id = product["masterData"]["staged"]["masterVariant"]["prices"][0]["id"]
    product = updated(
        ct, "/products", product, {"action": "changePrice", "priceId": price_id, "price": price("EUR", 5)}
    )
    product = updated(
        ct,
        "/products",
        product,
        {"action": "changePrice", "priceId": price_id, "price": price("EUR", 6), "staged": False},
        {"action": "removePrice", "priceId": price_id},
    )
    assert delete(ct, "/products", product).status_code == 200
    page = ct.ok("/messages", sort=["createdAt asc", "id asc"], limit="500", expand="resource")
    spec.check(page, "MessagePagedQueryResponse")
    types = set()
    for message in page["results"]:
        spec.check(message, f"{message['type']}Message")
        types.add(message["type"])
    assert types == {
        "CategoryCreated",
        "CategorySlugChanged",
        "ProductCreated",
        "ProductSlugChanged",
        "ProductVariantAdded",
        "ProductPriceAdded",
        "ProductPricesSet",
        "ProductImageAdded",
        "ProductAddedToCategory",
        "ProductPublished",
        "ProductRemovedFromCategory",
        "ProductVariantDeleted",
        "ProductRevertedStagedChanges",
        "ProductUnpublished",
        "ProductPriceChanged",
        "ProductPriceRemoved",
        "ProductPriceModeSet",
        "ProductDeleted",
    }


def test_catalogue_error_responses(spec: Spec, catalogue: CtSandbox) -> None:
    ct = catalogue
    product = create_product(ct, "oas-errors", key="oas-errors")
    create_product(ct, "oas-taken")
    shirt = ct.ok("/product-types/key=shirt")
    duplicated = {**SHIRT_TYPE, "key": "twice", "attributes": [SHIRT_TYPE["attributes"][0]] * 2}
    two_euro_prices = {"sku": "e-2", "prices": [price("EUR", 1), price("EUR", 2)]}

    def set_attribute(name: str, value: Any) -> requests.Response:
        return update(
            ct, "/products", product, {"action": "setAttribute", "variantId": 1, "name": name, "value": value}
        )

    draft = {"productType": {"key": "shirt"}, "name": names("N"), "slug": names("n-n")}
    cases = [
        (set_attribute("x", 1), "AttributeNameDoesNotExist"),
        (set_attribute("color", "pink"), "InvalidField"),
        (update(ct, "/products", product, {"action": "addVariant", **two_euro_prices}), "DuplicatePriceScope"),
        (update(ct, "/products", product, {"action": "changeSlug", "slug": names("oas-taken")}), "DuplicateField"),
        (delete(ct, "/product-types", shirt), "ReferenceExists"),
        (ct.post("/product-types", duplicated), "AttributeDefinitionAlreadyExists"),
        (ct.post("/products", {**draft, "productType": {"key": "nope"}}), "ReferencedResourceNotFound"),
        (ct.post("/products", {**draft, "variants": [{}]}), "RequiredField"),
        (update(ct, "/products", {**product, "version": 9}, {"action": "publish"}), "ConcurrentModification"),
    ]
    for response, code in cases:
        body = response.json()
        spec.check(body, "ErrorResponse")
        assert body["errors"][0]["code"] == code, body
        spec.check(body["errors"][0], f"{code}Error")


def test_silent_catalogue_actions_have_no_message_type_in_the_spec(spec: Spec) -> None:
    """The catalogue writes that produce no message are exactly those the spec has no message type for."""
    for name in ("NameChanged", "NameSet", "DescriptionSet", "KeySet", "SkuSet", "AttributeSet"):
        assert not spec.has(f"Product{name}Message")
    for name in ("NameChanged", "ParentChanged", "KeySet", "DescriptionSet", "OrderHintChanged", "Deleted"):
        assert not spec.has(f"Category{name}Message")
    assert not any(
        schema.startswith("ProductType") and schema.endswith("Message")
        for schema in spec.document["components"]["schemas"]
    )


# -- Standalone Prices, channels, customer groups --------------------------------------------------------------


def test_standalone_prices_channels_and_customer_groups_and_their_messages(spec: Spec, catalogue: CtSandbox) -> None:
    ct = catalogue
    channel = create(ct, "/channels", {"key": "oas-web", "name": names("Web"), "roles": ["ProductDistribution"]})
    group = create(ct, "/customer-groups", {"key": "oas-gold", "groupName": "Gold"})
    for path, schema, made in (("/channels", "Channel", channel), ("/customer-groups", "CustomerGroup", group)):
        spec.check(ct.ok(path), f"{schema}PagedQueryResponse")
        spec.check(ct.ok(f"{path}/key={made['key']}"), schema)
    scoped = {"country": "DE", "channel": {"typeId": "channel", "id": channel["id"]},
              "customerGroup": {"typeId": "customer-group", "id": group["id"]}}  # fmt: skip
    standalone = create(ct, "/standalone-prices", {"sku": "oas-sp", "key": "oas-sp", **price("EUR", 1000), **scoped})
    create(ct, "/standalone-prices", {"sku": "oas-sp", **price("JPY", 1600), "active": False})
    for action in (
        {"action": "changeValue", "value": {"currencyCode": "EUR", "centAmount": 900}},
        {"action": "changeValue", "value": {"currencyCode": "EUR", "centAmount": 800}, "staged": True},
        {"action": "applyStagedChanges"},
        {"action": "changeActive", "active": False},
        {"action": "setValidFrom", "validFrom": "2026-01-01T00:00:00.000Z"},
        {"action": "setValidUntil", "validUntil": "2027-01-01T00:00:00.000Z"},
        {"action": "setValidFromAndUntil"},
        {"action": "setKey", "key": "oas-sp-2"},
    ):
        standalone = updated(ct, "/standalone-prices", standalone, action)
        spec.check(standalone, "StandalonePrice")
    staged = updated(
        ct,
        "/standalone-prices",
        standalone,
        {"action": "changeValue", "value": {"currencyCode": "EUR", "centAmount": 700}, "staged": True},
    )
    spec.check(staged, "StandalonePrice")
    spec.check(
        ct.ok("/standalone-prices", where="sku = :sku", **{"var.sku": "oas-sp"}), "StandalonePricePagedQueryResponse"
    )
    conflict = ct.post("/standalone-prices", {"sku": "oas-sp", **price("JPY", 1700)}).json()
    spec.check(conflict, "ErrorResponse")
    spec.check(conflict["errors"][0], "DuplicateStandalonePriceScopeError")
    create(ct, "/standalone-prices", {"sku": "oas-sale", **price("EUR", 1), "validFrom": "2026-01-01T00:00:00.000Z"})
    overlap = ct.post(
        "/standalone-prices", {"sku": "oas-sale", **price("EUR", 2), "validUntil": "2026-02-01T00:00:00.000Z"}
    )
    spec.check(overlap.json()["errors"][0], "OverlappingStandalonePriceValidityError")
    assert delete(ct, "/standalone-prices", staged).status_code == 200
    page = ct.ok("/messages", where='resource(typeId = "standalone-price")', limit="500", expand="resource")
    types = set()
    for message in page["results"]:
        spec.check(message, f"{message['type']}Message")
        types.add(message["type"])
    assert types == {
        "StandalonePriceCreated",
        "StandalonePriceValueChanged",
        "StandalonePriceStagedChangesApplied",
        "StandalonePriceActiveChanged",
        "StandalonePriceValidFromSet",
        "StandalonePriceValidUntilSet",
        "StandalonePriceValidFromAndUntilSet",
        "StandalonePriceKeySet",
        "StandalonePriceDeleted",
    }


# -- orders, payments, shipping methods ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sales() -> Iterator[CtSandbox]:
    """Seeded orders and payments on an emulator of their own, messages on."""
    with running(messages_enabled=True) as sandbox:
        sandbox.emulator.seed(customers=60, days=30, seed=4, products=40, orders=150)
        yield sandbox


def test_order_payment_and_shipping_method_resources_and_pages(spec: Spec, sales: CtSandbox) -> None:
    ct = sales
    for path, schema in (("/orders", "Order"), ("/payments", "Payment"), ("/shipping-methods", "ShippingMethod")):
        page = ct.ok(path, limit="500")
        spec.check(page, f"{schema}PagedQueryResponse")
        for resource in page["results"]:
            spec.check(resource, schema)
    spec.check(ct.ok("/orders", withTotal="false", limit="5"), "OrderPagedQueryResponse")
    order = ct.ok("/orders", limit="1", where="customLineItems is not empty and orderNumber is defined")["results"][0]
    spec.check(ct.ok(f"/orders/order-number={order['orderNumber']}"), "Order")
    assert spec.errors({**order, "orderState": "Canceled"}, "Order")
    assert spec.errors({**order, "shipmentState": "Cancelled"}, "Order")
    payment = ct.ok("/payments", limit="1")["results"][0]
    assert spec.errors({**payment, "transactions": [{"id": "t", "type": "Charge", "state": "Succeeded"}]}, "Payment")
    imported = ct.post("/orders/import", import_draft(seeded_skus(ct, 2), orderNumber="OAS-IMPORT")).json()
    spec.check(imported, "Order")


# every order and payment message type the emulator produces, and the writes that produce it
_ORDER_PRODUCERS: list[dict[str, Any]] = [
    {"action": "changeOrderState", "orderState": "Confirmed"},
    {"action": "changeShipmentState", "shipmentState": "Shipped"},
    {"action": "changePaymentState", "paymentState": "Paid"},
    {"action": "setOrderNumber", "orderNumber": "OAS-2"},
]


def test_every_order_and_payment_message_validates_against_its_own_schema(spec: Spec, sales: CtSandbox) -> None:
    ct = sales
    sku = seeded_skus(ct, 1)[0]
    payment = create_payment(ct, key="oas-payment", transactions=[{"type": "Charge", "amount": money("EUR", 1999)}])
    payment = updated(
        ct,
        "/payments",
        payment,
        {"action": "addTransaction", "transaction": {"type": "Refund", "amount": money("EUR", 5), "state": "Pending"}},
        {"action": "changeTransactionState", "transactionId": payment["transactions"][0]["id"], "state": "Success"},
        {
            "action": "changeTransactionInteractionId",
            "transactionId": payment["transactions"][0]["id"],
            "interactionId": "i",
        },
    )
    order = checked_out(ct, lineItems=[{"sku": sku, "discount": "summer-sale"}])
    order = updated(
        ct, "/orders", order, {"action": "addPayment", "payment": {"key": "oas-payment"}}, *_ORDER_PRODUCERS
    )
    assert delete(ct, "/orders", order).status_code == 200
    ct.post("/orders/import", import_draft([sku], orderNumber="OAS-3"))
    page = ct.ok("/messages", sort=["createdAt asc", "id asc"], limit="500", expand="resource")
    spec.check(page, "MessagePagedQueryResponse")
    types = set()
    for message in page["results"]:
        spec.check(message, f"{message['type']}Message")
        types.add(message["type"])
    assert types == {
        "PaymentCreated",
        "PaymentTransactionAdded",
        "PaymentTransactionStateChanged",
        "OrderCreated",
        "OrderPaymentAdded",
        "OrderStateChanged",
        "OrderShipmentStateChanged",
        "OrderPaymentStateChanged",
        "OrderDeleted",
        "OrderImported",
    }


def test_order_error_responses(spec: Spec, sales: CtSandbox) -> None:
    ct = sales
    sku = seeded_skus(ct, 1)[0]
    order = checked_out(ct, lineItems=[{"sku": sku}])
    cases = [
        (checkout(ct, lineItems=[{"sku": sku}], currency="GBP"), "MatchingPriceNotFound"),
        (checkout(ct, lineItems=[{"sku": sku}], shippingAddress={"country": "US"}), "CountryNotConfiguredInStore"),
        (
            checkout(ct, lineItems=[{"sku": sku}], store=None, shippingAddress={"country": "CH"}),
            "MissingTaxRateForCountry",
        ),
        (
            checkout(
                ct,
                lineItems=[{"sku": sku}],
                store=None,
                shippingAddress={"country": "AU"},
                shippingMethod={"key": "click-collect"},
            ),
            "ShippingMethodDoesNotMatchCart",
        ),
        (ct.post("/orders", {"cart": {"id": "c"}, "version": 1}), "ReferencedResourceNotFound"),
        (
            update(ct, "/orders", {**order, "version": 7}, {"action": "changeOrderState", "orderState": "Complete"}),
            "ConcurrentModification",
        ),
        (update(ct, "/orders", order, {"action": "changeOrderState", "orderState": "Canceled"}), "InvalidJsonInput"),
        (ct.post("/orders/import", import_draft(["no-such-sku"])), "InvalidOperation"),
        (ct.post("/payments", {"amountPlanned": {"currencyCode": "EURO", "centAmount": 1}}), "InvalidField"),
    ]
    for response, code in cases:
        body = response.json()
        spec.check(body, "ErrorResponse")
        assert body["errors"][0]["code"] == code, body
        spec.check(body["errors"][0], f"{code}Error")


def test_silent_order_and_payment_actions_have_no_message_type_in_the_spec(spec: Spec) -> None:
    """The order and payment writes that produce no message are exactly those the spec has no message type for."""
    assert not spec.has("OrderOrderNumberSetMessage") and not spec.has("OrderNumberSetMessage")
    assert not spec.has("PaymentTransactionInteractionIdChangedMessage") and not spec.has("PaymentDeletedMessage")
    assert not any(
        schema.startswith("ShippingMethod") and schema.endswith("Message")
        for schema in spec.document["components"]["schemas"]
    )
