"""Deterministic orders and payments for the commercetools emulator: for the seeded customers and products, over the
same days.

Every order is made by the emulator's own builders at its own point in time, like the catalogue: a checkout
(:func:`~ctfluent_sandbox.commercetools.orders.checkout`) or, for orders taken over from elsewhere, an import
(:func:`~ctfluent_sandbox.commercetools.orders.import_order`); its later history (``addPayment``, state changes) comes
from the update actions, a version each. Payments are created as the checkout creates them, before the order
(:func:`~ctfluent_sandbox.commercetools.payments.create`; their amount and first transactions are filled in once the
order has its total), and their transactions move on with ``addTransaction`` and ``changeTransactionState``. One
``random.Random`` (from ``seed``) drives every choice and id: the same seed and ``now`` give the same data, and the
customers and catalogue are unaffected. Seeding records no messages.

What the orders exercise:

* registered customers (three in four) and guests: no ``customerId``, an email and addresses of their own, mostly
  an ``anonymousId``; some guests are registered customers who did not log in (the same email and address), a few
  typing their email in other letter case;
* the store of the shipping country (``eu-store``, ``us-store``, ``au-store``; Japan has none, and a customer tied to
  other stores orders without one), EUR, USD in the US and JPY in Japan (no minor unit);
* standard, express and click & collect delivery: a click & collect order ships to the pickup shop (its address,
  with the shopper's name) and names the shop in the custom field ``pickupLocation`` of the type
  ``order-fulfilment``; some orders carry a ``giftMessage`` there instead;
* 1-4 line items (or ``items`` each) of 1-3 units, a cart discount on some lines (``discountedPricePerQuantity``), a
  gift-wrapping custom line item on some orders; an order number on most, a locale on most;
* orders taken over from the previous shop system (imported, mostly complete, the payment given with the import) and
  from a marketplace in Kuwait, in KWD (three fraction digits, 0 % VAT);
* states: most orders ``Open`` or ``Confirmed`` (the order management system owns fulfilment), some ``Complete``, some
  ``Cancelled`` (shipment state ``Canceled``); shipment and payment states on many;
* one payment per order, created during checkout and attached with ``addPayment`` at once, hours later, or (some) on
  the cart already, so that the order starts with it; Authorization, Charge and Refund transactions in every state
  (Initial, Pending, Success, Failure), CancelAuthorization on cancelled orders; and payments of abandoned checkouts
  that no order references, none of them successful (about one per hundred orders).

Each of these cases is at a fixed position among the first :data:`HARD_CASES` orders (so any seed of that many has
them all) and at random further on.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ctfluent_sandbox import seed as customer_seed
from ctfluent_sandbox.clock import parse_iso
from ctfluent_sandbox.commercetools import orders, payments, shipping_methods, taxes
from ctfluent_sandbox.commercetools.auth import DEFAULT_CLIENT_ID
from ctfluent_sandbox.commercetools.ids import IdSource
from ctfluent_sandbox.commercetools.money import money
from ctfluent_sandbox.commercetools.projections import variants
from ctfluent_sandbox.commercetools.resources import (
    ActionHandler,
    CustomTypes,
    WriteContext,
    apply_actions,
    mark_modified,
)
from ctfluent_sandbox.commercetools.store import Collection, Resource

FULFILMENT_TYPE_KEY = "order-fulfilment"
MAX_SEED_ITEMS = 10  # line items per order the ``items`` option may ask for
_CURRENCIES = {"US": "USD", "JP": "JPY"}  # else EUR
# country -> pickup shops: location ref, name, street, number, postal code, city, region field and value
_PICKUP = {
    "DE": (
        ("STORE-BERLIN", "ctfluent Store Berlin", "Rosenthaler Straße", "40", "10178", "Berlin", None),
        ("STORE-MUNICH", "ctfluent Store München", "Sendlinger Straße", "12", "80331", "München", None),
    ),
    "FR": (("STORE-PARIS", "ctfluent Store Paris", "Rue de Rivoli", "99", "75001", "Paris", None),),
    "GB": (("STORE-LONDON", "ctfluent Store London", "Carnaby Street", "21", "W1F 7DB", "London", None),),
    "US": (("STORE-NYC", "ctfluent Store New York", "Broadway", "575", "10012", "New York", ("state", "NY")),),
    "JP": (("STORE-TOKYO", "ctfluent Store 渋谷", "神南1丁目", "20-17", "150-0041", "渋谷区", ("region", "東京都")),),
}
_GIFT_WRAP = {"en": "Gift wrapping", "de": "Geschenkverpackung", "ja": "ギフト包装"}
_GIFT_WRAP_PRICE = {"EUR": 350, "USD": 399, "JPY": 500}
_GIFT_MESSAGES = ("Happy birthday!", "Alles Gute!", "Merry Christmas", "おめでとう", "For you, with love")
_MARKETPLACE_BUYERS = (("Fatima", "Al-Sabah"), ("Ahmad", "Al-Mutairi"), ("Noura", "Al-Ajmi"), ("Yousef", "Al-Enezi"))
_KWD_PER_EURO_CENT = 3.3  # fils per euro cent: 19.99 EUR -> 6.597 KWD
# payment method -> paymentInterface, method, name
_METHODS = {
    "card": ("adyen", "creditCard", {"en": "Credit card", "de": "Kreditkarte", "ja": "クレジットカード"}),
    "paypal": ("paypal", "paypal", {"en": "PayPal"}),
    "klarna": ("klarna", "invoice", {"en": "Klarna Pay Later", "de": "Klarna Rechnung"}),
    "prepayment": ("bank-transfer", "prepayment", {"en": "Bank transfer", "de": "Vorkasse", "ja": "銀行振込"}),
    "marketplace": ("marketplace", "marketplace", {"en": "Paid on the marketplace"}),
}
# A payment's history: the transactions it is created with, then one version per later step. An operation adds a
# transaction (type, state) or changes the state of one (its position; -1: the last).
Operation = tuple[str, str] | tuple[int, str]
Story = tuple[str, tuple[tuple[Operation, ...], ...]]
_STORIES: dict[str, Story] = {
    "card authorized": ("card", ((("Authorization", "Pending"),), ((0, "Success"),))),
    "card captured": (
        "card",
        ((("Authorization", "Pending"),), ((0, "Success"),), (("Charge", "Pending"),), ((-1, "Success"),)),
    ),
    "card capture pending": ("card", ((("Authorization", "Success"),), (("Charge", "Pending"),))),
    "card capture initial": ("card", ((("Authorization", "Success"),), (("Charge", "Initial"),))),
    "card charge failed": ("card", ((("Authorization", "Success"),), (("Charge", "Pending"),), ((-1, "Failure"),))),
    "card declined then paid": (
        "card",
        ((("Authorization", "Pending"),), ((0, "Failure"),), (("Authorization", "Success"),), (("Charge", "Success"),)),
    ),
    "card awaiting 3-D Secure": ("card", ((("Authorization", "Pending"),),)),
    "card created": ("card", ((("Authorization", "Initial"),),)),
    "card declined": ("card", ((("Authorization", "Pending"),), ((0, "Failure"),))),
    "paypal": ("paypal", ((("Charge", "Success"),),)),
    "klarna": ("klarna", ((("Authorization", "Success"),), (("Charge", "Pending"),))),
    "klarna paid": ("klarna", ((("Authorization", "Success"),), (("Charge", "Pending"),), ((-1, "Success"),))),
    "prepayment open": ("prepayment", ((("Charge", "Initial"),),)),
    "prepayment paid": ("prepayment", ((("Charge", "Initial"),), ((0, "Pending"),), ((0, "Success"),))),
    "prepayment expired": ("prepayment", ((("Charge", "Initial"),), ((0, "Failure"),))),
    "marketplace": ("marketplace", ((("Charge", "Success"),),)),
}
_REFUNDS: dict[str, tuple[tuple[Operation, ...], ...]] = {
    "Initial": ((("Refund", "Initial"),),),
    "Pending": ((("Refund", "Pending"),),),
    "Success": ((("Refund", "Pending"),), ((-1, "Success"),)),
    "Failure": ((("Refund", "Pending"),), ((-1, "Failure"),)),
}


class _Weighted:
    """A weighted choice, its cumulative weights computed once (seeding makes several per order)."""

    def __init__(self, *options: tuple[Any, float]) -> None:
        self.values = [value for value, _ in options]
        self.cumulative = list(itertools.accumulate(weight for _, weight in options))

    def pick(self, rng: random.Random) -> Any:
        return self.values[bisect.bisect_right(self.cumulative, rng.random() * self.cumulative[-1])]


# the payment stories an order in each final state may have, with weights
_STORIES_BY_STATE = {
    "Open": (
        ("card authorized", 30),
        ("paypal", 20),
        ("klarna", 10),
        ("prepayment open", 8),
        ("card awaiting 3-D Secure", 4),
        ("card created", 2),
        ("card capture initial", 4),
        ("card declined then paid", 4),
    ),
    "Confirmed": (
        ("card captured", 30),
        ("card capture pending", 10),
        ("paypal", 20),
        ("klarna", 10),
        ("prepayment paid", 10),
        ("card declined then paid", 5),
        ("card charge failed", 3),
        ("prepayment expired", 2),
    ),
    "Complete": (("card captured", 40), ("paypal", 30), ("prepayment paid", 15), ("klarna paid", 10)),
    "Cancelled": (("card authorized", 40), ("paypal", 30), ("prepayment expired", 20), ("card declined", 10)),
}
_ABANDONED = ("card created", "card awaiting 3-D Secure", "card declined", "prepayment expired")
_STORY_CHOICE = {state: _Weighted(*stories) for state, stories in _STORIES_BY_STATE.items()}
_FINAL_STATE = _Weighted(("Open", 55), ("Confirmed", 25), ("Complete", 13), ("Cancelled", 7))
_LINES = _Weighted((1, 40), (2, 30), (3, 20), (4, 10))
_ORIGIN = _Weighted(("checkout", 96), ("import", 3), ("marketplace", 1))
_BUYER = _Weighted(
    ("registered", 75), ("guest", 21), ("registered as guest", 3), ("registered as guest, other case", 1)
)
_DELIVERY = _Weighted(("standard", 70), ("express", 15), (shipping_methods.CLICK_AND_COLLECT, 15))

# The hard cases, at these positions among the first orders (position 0 is an ordinary order).
_FORCED: dict[int, dict[str, Any]] = {
    1: {"buyer": "guest"},
    2: {"buyer": "registered as guest"},
    3: {"buyer": "registered as guest, other case"},
    4: {"number": False},
    5: {"delivery": shipping_methods.CLICK_AND_COLLECT, "country": "DE"},
    6: {"delivery": "express"},
    7: {"gift wrap": True},
    8: {"discount": True},
    9: {"country": "JP"},
    10: {"country": "US", "delivery": shipping_methods.CLICK_AND_COLLECT},
    11: {"state": "Complete", "story": "card captured", "refund": "Success"},
    12: {"state": "Cancelled", "story": "card authorized", "cancellation": "Success"},
    13: {"state": "Cancelled", "story": "paypal"},
    14: {"origin": "import"},
    15: {"origin": "marketplace"},
    16: {"attach": "later"},
    17: {"attach": "on the cart"},
    18: {"state": "Complete", "story": "prepayment paid", "refund": "Initial"},
    19: {"state": "Complete", "story": "klarna paid", "refund": "Pending"},
    20: {"state": "Complete", "story": "card captured", "refund": "Failure"},
    21: {"country": "AU"},
    **{
        22 + i: {"state": state, "story": story}
        for i, (state, story) in enumerate(
            (
                ("Open", "card created"),
                ("Open", "card awaiting 3-D Secure"),
                ("Open", "prepayment open"),
                ("Confirmed", "card capture pending"),
                ("Confirmed", "card charge failed"),
                ("Confirmed", "card declined then paid"),
                ("Confirmed", "prepayment expired"),
                ("Open", "card capture initial"),
            )
        )
    },
}
HARD_CASES = max(_FORCED) + 1


@dataclass(frozen=True)
class OrderData:
    orders: list[Resource]
    payments: list[Resource]


def generate_orders(
    count: int,
    days: int,
    seed: int,
    now: datetime,
    *,
    collections: Mapping[str, Collection],
    types: CustomTypes,
    items: int | None = None,
) -> OrderData:
    """``count`` orders (each with one payment, and ``items`` line items if given) created over the ``days`` days
    before ``now``, for the customers, products, stores and shipping methods in ``collections``; and about one
    abandoned checkout's payment per hundred orders. See :func:`check` for what they need."""
    if count == 0:
        return OrderData([], [])
    maker = _OrderMaker(random.Random(f"orders/{seed}"), seed, now, days, collections, types)
    for n in range(count):
        maker.order(n, items)
    for _ in range(max(1, count // 100)):
        maker.abandoned_payment()
    return OrderData(orders=maker.orders, payments=list(maker.payment_collection))


def check(count: int, items: int | None, products: Iterable[Resource]) -> None:
    """Refuse (``ValueError``) options :func:`generate_orders` cannot fulfil, before anything is made: orders need
    published variants with SKUs, at least as many as ``items`` asks per order."""
    if items is not None and not 1 <= items <= MAX_SEED_ITEMS:
        raise ValueError(f"items must be between 1 and {MAX_SEED_ITEMS}")
    if count and len(_orderable(products)) < (items or 1):
        raise ValueError("orders need published products with SKUs (at least as many variants as items per order)")


def _orderable(products: Iterable[Resource]) -> list[tuple[str, str]]:
    """``(product createdAt, SKU)`` of every published variant a checkout can order, oldest product first."""
    return sorted(
        (product["createdAt"], variant["sku"])
        for product in products
        if product["masterData"]["published"]
        for variant in variants(product["masterData"]["current"])
        if "sku" in variant
    )


class _OrderMaker:
    """Makes the orders and payments in order; every choice comes from the one seeded ``Random``."""

    def __init__(
        self,
        rng: random.Random,
        seed: int,
        now: datetime,
        days: int,
        collections: Mapping[str, Collection],
        types: CustomTypes,
    ) -> None:
        self.rng = rng
        self.seed = seed
        self.ids = IdSource(rng)
        self.now = now
        self.span_seconds = days * 86_400
        self.types = types
        # for addPayment to find the payments made so far (only by id: no other index to keep)
        self.payment_collection = Collection(payments.PAYMENT_SCHEMA)
        self.collections = {**collections, "payment": self.payment_collection}
        self.orders: list[Resource] = []
        customers = sorted(collections["customer"], key=lambda c: (c["createdAt"], c["id"]))
        self.customers, self.customer_stamps = customers, [c["createdAt"] for c in customers]
        orderable = _orderable(collections["product"])
        self.sku_stamps, self.skus = [stamp for stamp, _ in orderable], [sku for _, sku in orderable]
        self.store_of = {c["code"]: s["key"] for s in collections["store"] for c in s["countries"]}

    def _context(self, moment: datetime) -> WriteContext:
        return WriteContext(moment, DEFAULT_CLIENT_ID, self.ids, self.collections, self.types)

    def _between(self, start: datetime, end: datetime) -> datetime:
        return start + (end - start) * self.rng.random()

    # -- orders --------------------------------------------------------------------------------------------------

    def order(self, n: int, items: int | None) -> None:
        rng, chance = self.rng, self.rng.random
        forced = _FORCED.get(n, {})
        lines = items or min(_LINES.pick(rng), len(self.skus))
        moment = self.now - timedelta(seconds=chance() * self.span_seconds)
        context = self._context(moment)
        if bisect.bisect_right(self.sku_stamps, context.now) < lines:  # too early for enough products
            context = self._context(min(self.now, parse_iso(self.sku_stamps[lines - 1]) + timedelta(seconds=1)))
        origin = forced.get("origin") or ("checkout" if forced else _ORIGIN.pick(rng))
        state = forced.get("state") or _FINAL_STATE.pick(rng)
        if origin == "import" and "state" not in forced and chance() < 0.7:
            state = "Complete"  # history taken over from the previous system
        story = forced.get("story") or ("marketplace" if origin == "marketplace" else _STORY_CHOICE[state].pick(rng))
        payment = self._payment(story, context.moment - timedelta(seconds=10 + chance() * 600))
        if origin == "marketplace":
            order = self._marketplace_order(n, context, lines, payment)
        else:
            order = self._shop_order(n, context, lines, forced, origin, payment)
        self._settle(payment, order, story, state, forced, context.moment)
        self._history(order, state, forced, payment, context.moment)
        self.orders.append(order)

    def _buyer(self, n: int, now: str, forced: Mapping[str, Any]) -> dict[str, Any]:
        """Who orders at ``now``, as checkout draft fields (customer, email, addresses, locale), and their stores."""
        rng, chance = self.rng, self.rng.random
        known = bisect.bisect_right(self.customer_stamps, now)
        kind = forced.get("buyer") or _BUYER.pick(rng)
        if not self.customers or (kind == "registered" and not known):
            kind = "guest"
        if kind == "guest":
            guest = customer_seed.guest(rng, self.seed, n)
            buyer: dict[str, Any] = {"customerEmail": guest.email, "shippingAddress": guest.address}
            if chance() < 0.8:
                buyer["anonymousId"] = self.ids.uuid()
            if chance() < 0.8:
                buyer["locale"] = guest.locale
            return buyer
        customer = self.customers[rng.randrange(known)] if kind == "registered" else rng.choice(self.customers)
        by_id = {a["id"]: a for a in customer["addresses"]}
        shipping = by_id.get(customer.get("defaultShippingAddressId", ""), customer["addresses"][0])
        buyer = {"shippingAddress": shipping}
        billing = by_id.get(customer.get("defaultBillingAddressId", ""))
        if billing is not None and billing is not shipping:
            buyer["billingAddress"] = billing
        if "locale" in customer:
            buyer["locale"] = customer["locale"]
        email = customer["email"]
        if kind == "registered":
            buyer["customerId"] = customer["id"]
        elif kind.endswith("other case"):
            email = email.upper() if email != email.upper() else email.lower()
        buyer["customerEmail"] = email
        buyer["stores"] = [s["key"] for s in customer["stores"]] if kind == "registered" else []
        return buyer

    def _shop_order(
        self, n: int, context: WriteContext, lines: int, forced: Mapping[str, Any], origin: str, payment: Resource
    ) -> Resource:
        rng, chance = self.rng, self.rng.random
        now = context.now
        buyer = self._buyer_in(n, now, forced["country"]) if "country" in forced else self._buyer(n, now, forced)
        country = buyer["shippingAddress"]["country"]
        currency = _CURRENCIES.get(country, "EUR")
        home = self.store_of.get(country)
        stores = buyer.pop("stores", [])
        draft: dict[str, Any] = {**buyer, "currency": currency}
        if home is not None and (not stores or home in stores):
            draft["store"] = {"typeId": "store", "key": home}
        if forced.get("number", chance() < 0.95):
            draft["orderNumber"] = f"{'LEGACY' if origin == 'import' else 'ORD'}-{100_000 + n}"
        delivery = forced.get("delivery") or _DELIVERY.pick(rng)
        if delivery == shipping_methods.CLICK_AND_COLLECT and country not in _PICKUP:
            delivery = "standard"
        draft["shippingMethod"] = {"typeId": "shipping-method", "key": delivery}
        if delivery == shipping_methods.CLICK_AND_COLLECT:
            self._pickup(draft, country)
        elif chance() < 0.05:
            draft["custom"] = self._fulfilment(giftMessage=rng.choice(_GIFT_MESSAGES))
        skus = self._skus(now, lines)
        discount = forced.get("discount")
        draft["lineItems"] = [
            {"sku": sku, "quantity": rng.choice((1, 1, 1, 2, 3))}
            | ({"discount": rng.choice(list(orders.CART_DISCOUNTS))} if discount or chance() < 0.12 else {})
            for sku in skus
        ]
        if forced.get("gift wrap") or (origin == "checkout" and chance() < 0.05):
            gift_wrap = {"currencyCode": currency, "centAmount": _GIFT_WRAP_PRICE[currency]}
            draft["customLineItems"] = [
                {"name": _GIFT_WRAP, "slug": "gift-wrapping", "quantity": 1, "money": gift_wrap}
            ]
        if origin == "import":
            order, _ = orders.import_order(self._import_draft(draft, country, context, payment), context)
            return order
        if forced.get("attach") == "on the cart" or ("attach" not in forced and chance() < 0.05):
            draft["payments"] = [{"typeId": "payment", "id": payment["id"]}]
        order, _ = orders.checkout(draft, context)
        return order

    def _buyer_in(self, n: int, now: str, country: str) -> dict[str, Any]:
        """A buyer shipping to ``country``: the first registered customer there, else a guest's address moved there."""
        known = bisect.bisect_right(self.customer_stamps, now)
        for customer in self.customers[:known]:
            address = customer["addresses"][0]
            if address["country"] == country:
                return {"customerId": customer["id"], "customerEmail": customer["email"], "shippingAddress": address}
        guest = customer_seed.guest(self.rng, self.seed, n)
        return {"customerEmail": guest.email, "shippingAddress": {**guest.address, "country": country}}

    def _skus(self, now: str, lines: int) -> list[str]:
        """``lines`` different SKUs of products that exist at ``now``."""
        available = max(lines, bisect.bisect_right(self.sku_stamps, now))
        return [self.skus[i] for i in self.rng.sample(range(available), lines)]

    def _fulfilment(self, **fields: str) -> dict[str, Any]:
        return {"type": {"typeId": "type", "key": FULFILMENT_TYPE_KEY}, "fields": fields}

    def _pickup(self, draft: dict[str, Any], country: str) -> None:
        """Click & collect: the order ships to a pickup shop, named in the order's custom fields."""
        ref, shop, street, number, postal_code, city, region = self.rng.choice(_PICKUP[country])
        shopper = draft["shippingAddress"]
        address = {field: shopper[field] for field in ("firstName", "lastName") if field in shopper}
        address |= {"company": shop, "streetName": street, "streetNumber": number, "postalCode": postal_code}
        address |= {"city": city, "country": country, **({} if region is None else {region[0]: region[1]})}
        draft.setdefault("billingAddress", shopper)
        draft["shippingAddress"] = address
        draft["custom"] = self._fulfilment(pickupLocation=ref)

    def _import_draft(
        self, checkout: Mapping[str, Any], country: str, context: WriteContext, payment: Resource
    ) -> dict[str, Any]:
        """What the previous shop system exports for a checkout-like order: priced there, totals included."""
        currency, rate = checkout["currency"], taxes.rate_for(country)
        draft: dict[str, Any] = {
            name: checkout[name]
            for name in ("orderNumber", "customerId", "customerEmail", "store", "shippingAddress", "billingAddress")
            if name in checkout
        }
        products_by_sku = self.collections["product"]
        lines, taxed = [], []
        for line in checkout["lineItems"]:
            product = products_by_sku.find("sku", line["sku"])
            assert product is not None
            data = product["masterData"]["current"]
            variant = next(v for v in variants(data) if v.get("sku") == line["sku"])
            price = orders.select_price(product, variant, currency, country, context.now)
            total = money(currency, price["value"]["centAmount"] * line["quantity"])
            taxed.append(taxes.taxed(total, rate))
            lines.append(
                {
                    "name": data["name"],
                    "variant": {"sku": line["sku"]},
                    "quantity": line["quantity"],
                    "price": {"value": {"currencyCode": currency, "centAmount": price["value"]["centAmount"]}},
                    "taxRate": rate,
                }
            )
        method = self.collections["shipping-method"].find("key", "standard")
        assert method is not None
        shipping_rate = shipping_methods.shipping_rate(method, country, currency)
        assert shipping_rate is not None
        subtotal = sum(line["price"]["value"]["centAmount"] * line["quantity"] for line in lines)
        free_above = shipping_rate.get("freeAbove", {}).get("centAmount")
        free = free_above is not None and subtotal >= free_above
        shipping = money(currency, 0 if free else shipping_rate["price"]["centAmount"])
        taxed.append(taxes.taxed(shipping, rate))
        draft["lineItems"] = lines
        draft["totalPrice"] = money(currency, subtotal + shipping["centAmount"])
        draft["taxedPrice"] = taxes.summed(taxed, currency)
        draft["shippingInfo"] = {
            "shippingMethodName": method["name"],
            "price": shipping,
            "shippingRate": {"price": shipping_rate["price"]},
            "taxRate": rate,
            "shippingMethod": {"typeId": "shipping-method", "key": "standard"},
        }
        draft["country"] = country
        draft["paymentInfo"] = {"payments": [{"typeId": "payment", "id": payment["id"]}]}
        return draft

    def _marketplace_order(self, n: int, context: WriteContext, lines: int, payment: Resource) -> Resource:
        """An order sold on a marketplace in Kuwait and imported: KWD (three fraction digits), 0 % VAT."""
        rng = self.rng
        first, last = rng.choice(_MARKETPLACE_BUYERS)
        address = {"firstName": first, "lastName": last, "streetName": "Gulf Road", "streetNumber": str(1 + n % 200)}
        address |= {"postalCode": "13001", "city": "Kuwait City", "country": "KW"}
        rate, products_by_sku = taxes.rate_for("KW"), self.collections["product"]
        items, taxed = [], []
        for sku in self._skus(context.now, lines):
            product = products_by_sku.find("sku", sku)
            assert product is not None
            variant = next(v for v in variants(product["masterData"]["current"]) if v.get("sku") == sku)
            euro = next(p for p in variant["prices"] if p["value"]["currencyCode"] == "EUR" and "country" not in p)
            fils = round(euro["value"]["centAmount"] * _KWD_PER_EURO_CENT)
            price = {"value": {"currencyCode": "KWD", "centAmount": fils}}
            items.append({"name": product["masterData"]["current"]["name"], "variant": {"sku": sku}, "quantity": 1})
            items[-1] |= {"price": price, "taxRate": rate}
            taxed.append(taxes.taxed(money("KWD", fils), rate))
        shipping = money("KWD", 2500)
        taxed.append(taxes.taxed(shipping, rate))
        draft = {
            "orderNumber": f"MKT-{100_000 + n}",
            "customerEmail": f"buyer{n}@marketplace.example",
            "store": {"typeId": "store", "key": "eu-store"},
            "lineItems": items,
            "totalPrice": money("KWD", sum(t["totalGross"]["centAmount"] for t in taxed)),
            "taxedPrice": taxes.summed(taxed, "KWD"),
            "shippingAddress": address,
            "billingAddress": address,
            "shippingInfo": {
                "shippingMethodName": "Marketplace delivery",
                "price": shipping,
                "shippingRate": {"price": shipping},
                "taxRate": rate,
            },
            "country": "KW",
            "origin": "Merchant",
            "paymentInfo": {"payments": [{"typeId": "payment", "id": payment["id"]}]},
        }
        order, _ = orders.import_order(draft, context)
        return order

    def _history(
        self, order: Resource, state: str, forced: Mapping[str, Any], payment: Resource, moment: datetime
    ) -> None:
        """Attach the payment (unless the order came with it), then move the order to its final state."""
        rng, chance = self.rng, self.rng.random
        at = moment
        if "paymentInfo" not in order:
            later = forced.get("attach") == "later" or ("attach" not in forced and chance() < 0.05)
            at = min(self.now, moment + timedelta(hours=1 + 47 * chance()) if later else moment + timedelta(seconds=2))
            attach = {"action": "addPayment", "payment": {"id": payment["id"]}}
            self._change(order, orders.ACTIONS, self._context(at), attach)
        click_and_collect = "pickupLocation" in order.get("custom", {}).get("fields", {})
        steps: list[list[dict[str, Any]]] = []
        paid = _payment_state(payment["transactions"])
        payment_state = [] if paid is None or chance() < 0.3 else [_set("changePaymentState", "paymentState", paid)]
        if state == "Open":
            steps = [payment_state] if payment_state else []
        elif state == "Cancelled":
            steps = [
                [
                    _set("changeOrderState", "orderState", "Cancelled"),
                    _set("changeShipmentState", "shipmentState", "Canceled"),
                    *payment_state,
                ]
            ]
        else:
            steps = [[_set("changeOrderState", "orderState", "Confirmed"), *payment_state]]
            shipped = "Ready" if click_and_collect else "Shipped"
            if state == "Complete":
                delivered = [
                    _set("changeOrderState", "orderState", "Complete"),
                    _set("changeShipmentState", "shipmentState", "Delivered"),
                ]
                steps += [[_set("changeShipmentState", "shipmentState", shipped)], delivered]
            elif chance() < 0.6:
                progress = rng.choice((shipped, shipped, "Pending", "Backorder", "Delayed", "Partial"))
                steps.append([_set("changeShipmentState", "shipmentState", progress)])
        for step in steps:
            at = self._between(at, self.now)
            self._change(order, orders.ACTIONS, self._context(at), *step)

    @staticmethod
    def _change(
        resource: Resource, actions: Mapping[str, ActionHandler], context: WriteContext, *requested: Any
    ) -> None:
        """One later update of a resource not stored yet: a new version, made by the write of ``context``."""
        apply_actions(resource, list(requested), actions, context)
        mark_modified(resource, context)

    # -- payments ------------------------------------------------------------------------------------------------

    def _payment(self, story: str, created: datetime) -> Resource:
        """A payment as the checkout creates it, before the order: its amount and transactions follow from the order,
        so :meth:`_settle` fills them in once the order is made."""
        method = _STORIES[story][0]
        interface, name, label = _METHODS[method]
        draft: dict[str, Any] = {
            "amountPlanned": {"currencyCode": "EUR", "centAmount": 0},
            "paymentMethodInfo": {"paymentInterface": interface, "method": name, "name": label},
        }
        if method in ("card", "paypal", "klarna"):
            draft["interfaceId"] = f"psp_{self.rng.getrandbits(64):016x}"
        if self.rng.random() < 0.5:
            draft["key"] = f"payment-{len(self.payment_collection) + 1:07d}"
        payment, _ = payments.create(draft, self._context(created))
        self.payment_collection.put(payment)
        return payment

    def _settle(
        self, payment: Resource, order: Resource, story: str, state: str, forced: Mapping[str, Any], moment: datetime
    ) -> None:
        """Give the payment the order's amount and customer and play its story; a cancelled order's money goes back
        (refunded, or the authorisation cancelled), and some complete orders have a refund (a return)."""
        total = order.get("taxedPrice", {}).get("totalGross") or order["totalPrice"]
        payment["amountPlanned"] = total
        if "customerId" in order:
            payment["customer"] = {"typeId": "customer", "id": order["customerId"]}
        at = self._play(payment, _STORIES[story][1], total, after=moment)
        states = {(t["type"], t["state"]) for t in payment["transactions"]}
        more: tuple[tuple[Operation, ...], ...] = ()
        if state == "Cancelled" and ("Charge", "Success") in states:
            more = _REFUNDS["Success"]
        elif state == "Cancelled" and ("Authorization", "Success") in states:
            cancellation = forced.get("cancellation") or self.rng.choice(("Success", "Success", "Pending"))
            more = ((("CancelAuthorization", cancellation),),)
        elif state == "Complete" and ("refund" in forced or self.rng.random() < 0.25):
            more = _REFUNDS[forced.get("refund") or self.rng.choice(list(_REFUNDS))]
        self._play(payment, more, total, after=at, created=False)

    def _play(
        self,
        payment: Resource,
        steps: Sequence[tuple[Operation, ...]],
        amount: Mapping[str, Any],
        *,
        after: datetime,
        created: bool = True,
    ) -> datetime:
        """Play a payment's ``steps``; with ``created``, the first one holds the transactions the payment was created
        with. Every other step is one update, at a time between the previous one (or ``after``) and now. Returns the
        time of the last."""
        at = parse_iso(payment["lastModifiedAt"])
        for number, step in enumerate(steps):
            if created and number == 0:
                context = self._context(at)
                for action in self._operations(payment, step, amount, context.now):
                    payments.ACTIONS[action["action"]](payment, action, context)
            else:
                at = self._between(max(at, after), self.now)
                context = self._context(at)
                self._change(payment, payments.ACTIONS, context, *self._operations(payment, step, amount, context.now))
        return at

    def _operations(
        self, payment: Resource, step: tuple[Operation, ...], amount: Mapping[str, Any], now: str
    ) -> list[dict[str, Any]]:
        actions: list[dict[str, Any]] = []
        for target, state in step:
            if isinstance(target, int):
                transaction_id = payment["transactions"][target]["id"]
                actions.append({"action": "changeTransactionState", "transactionId": transaction_id, "state": state})
                continue
            draft = {"type": target, "amount": amount, "state": state, "timestamp": now}
            if state != "Initial" and payment["paymentMethodInfo"]["paymentInterface"] != "bank-transfer":
                draft["interactionId"] = f"{self.rng.getrandbits(64):016X}"
            actions.append({"action": "addTransaction", "transaction": draft})
        return actions

    def abandoned_payment(self) -> None:
        """The payment of a checkout given up: no order references it, and none of its transactions succeeded."""
        created = self.now - timedelta(seconds=self.rng.random() * self.span_seconds)
        story = self.rng.choice(_ABANDONED)
        payment = self._payment(story, created)
        payment["amountPlanned"] = money("EUR", self.rng.choice((1999, 4999, 8999, 12999)))
        self._play(payment, _STORIES[story][1], payment["amountPlanned"], after=created)


def _set(action: str, name: str, value: str) -> dict[str, str]:
    return {"action": action, name: value}


def _payment_state(transactions: Sequence[Mapping[str, Any]]) -> str | None:
    """The order's payment state its payment's transactions suggest."""
    states = {(t["type"], t["state"]) for t in transactions}
    if ("Refund", "Initial") in states or ("Refund", "Pending") in states:
        return "CreditOwed"
    if ("Charge", "Success") in states:
        return "Paid"
    if ("Authorization", "Success") in states or ("Authorization", "Pending") in states:
        return "Pending"
    if ("Charge", "Initial") in states or ("Charge", "Pending") in states:
        return "BalanceDue"
    return "Failed" if any(state == "Failure" for _, state in states) else None
