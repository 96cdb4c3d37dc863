"""Deterministic demo data for the commercetools emulator: stores and realistic customers.

Faker builds small pools of names, streets, cities, phones and companies per locale once (en_US, en_GB, de_DE,
fr_FR, ja_JP, en_AU); one ``random.Random(seed)`` then combines them, which is what makes 100,000 customers take
seconds rather than minutes. Everything, ids included, derives from ``seed``: the same seed and the same ``now``
give identical data (timestamps are offsets back from ``now``).

The data exercises what a sync must cope with: customers without ``firstName``, mixed-case and unicode names and
emails, emails with a quoted local part (``"john.q"@example.com``), a backslash and an apostrophe, 1-3 addresses with
and without defaults, optional ``key``/``customerNumber``/``externalId``/``title``/``salutation``/``dateOfBirth``/
``companyName``, a ``customer-preferences`` custom type with a boolean ``newsletter`` field, and membership in
zero, one or several of three stores. Seeding records no messages: like enabling messages on a project that
already has data, the history has none.
"""

from __future__ import annotations

import functools
import random
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from faker import Faker

from ctfluent_sandbox.clock import iso_ms
from ctfluent_sandbox.commercetools.auth import DEFAULT_CLIENT_ID
from ctfluent_sandbox.commercetools.customers import masked_password
from ctfluent_sandbox.commercetools.ids import IdSource

PREFERENCES_TYPE_KEY = "customer-preferences"
# Special addresses every seed of at least this many customers contains, for escaping tests.
SPECIAL_EMAILS = (
    '"john.q"@example.com',
    "siobhan.o'connor@example.ie",
    '"back\\\\slash"@example.org',
    "jürgen.müller@example.de",
    "MAX.MUSTERMANN@EXAMPLE.DE",
)
_POOL_SIZE = 200
_STORES = (
    ("eu-store", {"en": "Europe", "de": "Europa", "fr": "Europe"}, ["en-GB", "de-DE", "fr-FR"], ["GB", "DE", "FR"]),
    ("us-store", {"en": "United States"}, ["en-US"], ["US"]),
    ("au-store", {"en": "Australia"}, ["en-AU"], ["AU"]),
)


@dataclass(frozen=True)
class _Profile:
    faker_locale: str
    country: str
    locale: str  # commercetools Locale
    home_store: str | None
    domains: tuple[str, ...]
    salutations: tuple[str, ...]
    titles: tuple[str, ...]
    region_field: str | None  # the Address field the region goes into


_PROFILES = (
    _Profile(
        "en_US", "US", "en-US", "us-store", ("example.com", "mail.example.com"), ("Mr", "Ms", "Mx"), ("Dr.",), "state"
    ),
    _Profile(
        "en_GB", "GB", "en-GB", "eu-store", ("example.co.uk", "example.org"), ("Mr", "Mrs", "Ms"), ("Dr", "Prof"), None
    ),
    _Profile(
        "de_DE",
        "DE",
        "de-DE",
        "eu-store",
        ("example.de", "example.net"),
        ("Herr", "Frau"),
        ("Dr.", "Prof. Dr."),
        "region",
    ),
    _Profile("fr_FR", "FR", "fr-FR", "eu-store", ("example.fr", "example.net"), ("M.", "Mme"), ("Dr",), None),
    _Profile("ja_JP", "JP", "ja-JP", None, ("example.jp", "example.com"), ("様",), (), "region"),
    _Profile("en_AU", "AU", "en-AU", "au-store", ("example.com.au", "example.com"), ("Mr", "Ms"), ("Dr",), "state"),
)
_PROFILE_WEIGHTS = (30, 15, 20, 12, 8, 15)


@dataclass(frozen=True)
class _Pools:
    first_names: list[tuple[str, str]]  # (as written, ASCII for email local parts)
    last_names: list[tuple[str, str]]
    streets: list[tuple[str, str]]  # (streetName, streetNumber)
    postal_codes: list[str]
    cities: list[str]
    regions: list[str]
    phones: list[str]
    companies: list[str]


@dataclass(frozen=True)
class SeedData:
    stores: list[dict[str, Any]]
    customers: list[dict[str, Any]]


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.replace("ß", "ss")).encode("ascii", "ignore").decode()
    return "".join(c for c in folded.lower() if c.isalnum() or c in "-")


@functools.lru_cache(maxsize=8)
def _pools(seed: int) -> tuple[_Pools, ...]:
    return tuple(_locale_pools(profile, seed * 31 + i) for i, profile in enumerate(_PROFILES))


def _locale_pools(profile: _Profile, seed: int) -> _Pools:
    fake = Faker(profile.faker_locale)
    fake.seed_instance(seed)
    many = range(_POOL_SIZE)
    if profile.faker_locale == "ja_JP":  # kanji names with their romanisation for emails; chome/ban addresses
        firsts = [fake.first_name_female_pair() if i % 2 else fake.first_name_male_pair() for i in many]
        first_names = [(kanji, romanized.lower()) for kanji, _, romanized in firsts]
        last_names = [(kanji, romanized.lower()) for kanji, _, romanized in (fake.last_name_pair() for _ in many)]
        streets = [(f"{fake.town()}{fake.chome()}", f"{fake.ban()}{fake.gou()}") for _ in many]
        regions = [fake.prefecture() for _ in many]
    else:
        first_names = [(name, _ascii(name)) for name in (fake.first_name() for _ in many)]
        last_names = [(name, _ascii(name)) for name in (fake.last_name() for _ in many)]
        streets = [(fake.street_name(), fake.building_number()) for _ in many]
        regions = [fake.state() for _ in many] if profile.region_field else []
    return _Pools(
        first_names=first_names,
        last_names=last_names,
        streets=streets,
        postal_codes=[fake.postcode() for _ in many],
        cities=[fake.city() for _ in many],
        regions=regions,
        phones=[fake.phone_number() for _ in many],
        companies=[fake.company() for _ in many],
    )


def generate(customers: int, days: int, seed: int, now: datetime, custom_type_id: str) -> SeedData:
    """Stores and ``customers`` customers created over the ``days`` days before ``now``."""
    rng = random.Random(seed)
    ids = IdSource(rng)
    by = {"clientId": DEFAULT_CLIENT_ID, "isPlatformClient": False}
    store_time = iso_ms(now - timedelta(days=days + 30))
    stores = [
        {
            "id": ids.uuid(),
            "version": 1,
            "createdAt": store_time,
            "lastModifiedAt": store_time,
            "lastModifiedBy": by,
            "createdBy": by,
            "key": key,
            "name": name,
            "languages": languages,
            "countries": [{"code": c} for c in countries],
            "distributionChannels": [],
            "supplyChannels": [],
            "productSelections": [],
        }
        for key, name, languages, countries in _STORES
    ]
    maker = _CustomerMaker(rng, ids, pools=_pools(seed), now=now, days=days, by=by, custom_type_id=custom_type_id)
    generated = [maker.customer(n) for n in range(customers)]
    for position, email in enumerate(SPECIAL_EMAILS[: max(0, customers - 1)], start=1):
        generated[position]["email"] = email
    return SeedData(stores=stores, customers=generated)


def _place(rng: random.Random, profile: _Profile, pools: _Pools) -> dict[str, str]:
    """The postal code, city, region (in the profile's field) and country of an address."""
    place = {"postalCode": rng.choice(pools.postal_codes), "city": rng.choice(pools.cities)}
    if profile.region_field:
        place[profile.region_field] = rng.choice(pools.regions)
    place["country"] = profile.country
    return place


@dataclass(frozen=True)
class Guest:
    """Someone who orders without an account (see :mod:`ctfluent_sandbox.seed_orders`)."""

    email: str
    address: dict[str, Any]  # a BaseAddress draft, with the email
    locale: str


def guest(rng: random.Random, seed: int, n: int) -> Guest:
    """A guest shopper from the customers' pools (those of ``seed``), drawn with ``rng``. The email is new: its
    ``.guest<n>`` local part is none a seeded customer has."""
    which = rng.choices(range(len(_PROFILES)), _PROFILE_WEIGHTS)[0]
    profile, pools = _PROFILES[which], _pools(seed)[which]
    first, first_ascii = rng.choice(pools.first_names)
    last, last_ascii = rng.choice(pools.last_names)
    email = f"{first_ascii or 'guest'}.{last_ascii or 'shopper'}.guest{n}@{rng.choice(profile.domains)}"
    street, number = rng.choice(pools.streets)
    address = {"firstName": first, "lastName": last, "streetName": street, "streetNumber": number}
    address.update(_place(rng, profile, pools))
    if rng.random() < 0.7:
        address["phone"] = rng.choice(pools.phones)
    address["email"] = email
    return Guest(email=email, address=address, locale=profile.locale)


class _CustomerMaker:
    """One customer at a time from the pools; every choice comes from the one seeded ``Random``."""

    def __init__(
        self,
        rng: random.Random,
        ids: IdSource,
        *,
        pools: tuple[_Pools, ...],
        now: datetime,
        days: int,
        by: dict[str, Any],
        custom_type_id: str,
    ) -> None:
        self.rng = rng
        self.ids = ids
        self.pools = pools
        self.now = now
        self.span_seconds = days * 86_400
        self.by = by
        self.custom_type = {"typeId": "type", "id": custom_type_id}
        self.password = masked_password("Sandbox-1234")
        self.store_keys = [key for key, *_ in _STORES]

    def customer(self, n: int) -> dict[str, Any]:
        rng, chance = self.rng, self.rng.random
        which = rng.choices(range(len(_PROFILES)), _PROFILE_WEIGHTS)[0]
        profile, pools = _PROFILES[which], self.pools[which]
        first, first_ascii = rng.choice(pools.first_names)
        last, last_ascii = rng.choice(pools.last_names)
        if chance() < 0.05:  # data as people type it
            first, last = first.lower(), last.upper()
        created = self.now - timedelta(seconds=chance() * self.span_seconds)
        modified = created if chance() < 0.4 else created + (self.now - created) * chance()
        customer: dict[str, Any] = {
            "id": self.ids.uuid(),
            "version": 1 if modified == created else rng.randint(2, 15),
            "createdAt": iso_ms(created),
            "lastModifiedAt": iso_ms(modified),
            "lastModifiedBy": self.by,
            "createdBy": self.by,
            "email": self._email(n, first, first_ascii, last_ascii, profile),
        }
        if chance() < 0.5:
            customer["key"] = f"customer-{n:06d}"
        if chance() < 0.4:
            customer["customerNumber"] = f"CN{100_000 + n}"
        if chance() < 0.3:
            customer["externalId"] = f"ext-{rng.getrandbits(48):012x}"
        if chance() < 0.9:
            customer["firstName"] = first
        customer["lastName"] = last
        if chance() < 0.08:
            customer["middleName"] = rng.choice(pools.first_names)[0]
        if profile.titles and chance() < 0.12:
            customer["title"] = rng.choice(profile.titles)
        if chance() < 0.3:
            customer["salutation"] = rng.choice(profile.salutations)
        if chance() < 0.4:
            customer["dateOfBirth"] = f"{rng.randint(1940, 2006)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        if chance() < 0.15:
            customer["companyName"] = rng.choice(pools.companies)
        if chance() < 0.9:
            customer["password"] = self.password
        self._addresses(customer, profile, pools, first, last)
        customer["isEmailVerified"] = chance() < 0.7
        customer["customerGroupAssignments"] = []
        if chance() < 0.8:
            customer["locale"] = profile.locale
        customer["stores"] = [{"typeId": "store", "key": key} for key in self._stores(profile)]
        if chance() < 0.4:
            fields: dict[str, Any] = {"newsletter": chance() < 0.5}
            if chance() < 0.5:
                fields["preferredChannel"] = rng.choice(("email", "sms", "post"))
            customer["custom"] = {"type": self.custom_type, "fields": fields}
        customer["authenticationMode"] = "Password" if "password" in customer else "ExternalAuth"
        return customer

    def _email(self, n: int, first: str, first_ascii: str, last_ascii: str, profile: _Profile) -> str:
        rng, chance = self.rng, self.rng.random
        domain = rng.choice(profile.domains)
        if chance() < 0.03 and first_ascii != first.lower():
            local = f"{first.lower()}.{last_ascii}{n}"  # an internationalised (unicode) local part
        else:
            local = rng.choice(
                (f"{first_ascii}.{last_ascii}", f"{first_ascii[:1]}{last_ascii}", f"{last_ascii}_{first_ascii}")
            )
            local = f"{local or 'customer'}{n}"
        email = f"{local}@{domain}"
        if chance() < 0.1:  # mixed case as typed at sign-up
            email = f"{local.title()}@{domain}"
        return email

    def _addresses(self, customer: dict[str, Any], profile: _Profile, pools: _Pools, first: str, last: str) -> None:
        rng, chance = self.rng, self.rng.random
        addresses = []
        for i in range(rng.choice((1, 1, 1, 2, 2, 3))):
            street, number = rng.choice(pools.streets)
            address: dict[str, Any] = {"id": self.ids.address_id()}
            if chance() < 0.2:
                address["key"] = f"address-{customer['id'][:8]}-{i}"
            address["firstName"] = first
            address["lastName"] = last
            address["streetName"] = street
            address["streetNumber"] = number
            address.update(_place(rng, profile, pools))
            if chance() < 0.8:
                address["phone"] = rng.choice(pools.phones)
            if chance() < 0.4:
                address["mobile"] = rng.choice(pools.phones)
            if chance() < 0.25:
                address["email"] = customer["email"]
            if "companyName" in customer and chance() < 0.5:
                address["company"] = customer["companyName"]
            addresses.append(address)
        ids = [a["id"] for a in addresses]
        customer["addresses"] = addresses
        customer["shippingAddressIds"] = ids if chance() < 0.85 else ids[:1]
        customer["billingAddressIds"] = ids[-1:]
        if chance() < 0.85:
            customer["defaultShippingAddressId"] = ids[0]
        if chance() < 0.8:
            customer["defaultBillingAddressId"] = ids[-1]

    def _stores(self, profile: _Profile) -> list[str]:
        roll = self.rng.random()
        if roll < 0.2:
            return []
        if roll < 0.85 and profile.home_store is not None:
            return [profile.home_store]
        return self.rng.sample(self.store_keys, self.rng.randint(1, len(self.store_keys)))
