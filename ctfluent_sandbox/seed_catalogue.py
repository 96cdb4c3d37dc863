"""Deterministic demo catalogue for the commercetools emulator: a category tree, three product types and products.

Every resource is made by the emulator's own draft builders and update actions (``categories.create``,
``product_types.create``, ``products.create``, ``products.ACTIONS``) at its own point in time, so seeded resources
have exactly the shape API writes give them; only ``version``/``lastModifiedAt`` are then spread over the ``days``
window, as for customers. One ``random.Random`` (seeded from ``seed``) drives every choice and every id: the same
seed and ``now`` give identical data, and the customers of :mod:`ctfluent_sandbox.seed` are unaffected. Seeding
records no messages.

* **Categories**: a tree three levels deep (departments, their sections, product groups) with en/de/ja names and
  slugs, order hints, most with a key (every seventh without), some with an ``externalId`` and a description.
* **Product types** ``apparel``, ``footwear``, ``accessories``: a ``gtin`` text attribute (EAN-13), ``color``
  (lenum), ``size`` (enum; footwear: ``shoe-size``, a number), ``material`` (ltext), a boolean, and for accessories
  ``care`` (a set of enums).
* **Products**: 1-6 variants (or ``variants`` each), prices in EUR (also a DE price and now and then a time-limited
  sale price), USD and JPY (JPY has no minor unit), names and descriptions in en/de/ja (some locales missing),
  images, one or two section or group categories.

Hard cases, each at a fixed position among the first :data:`HARD_CASES` products (so any seed of that many has
them all) and at random further on: a product without key, a product whose key is one of its SKUs, a product never
published, one unpublished after publishing, a published product with staged-only changes (``hasStagedChanges``),
a variant without ``gtin``, a variant without SKU.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ctfluent_sandbox.clock import iso_ms
from ctfluent_sandbox.commercetools import categories as categories_module
from ctfluent_sandbox.commercetools import product_types, products
from ctfluent_sandbox.commercetools.auth import DEFAULT_CLIENT_ID
from ctfluent_sandbox.commercetools.ids import IdSource
from ctfluent_sandbox.commercetools.resources import CustomTypes, WriteContext, mark_modified, run_actions
from ctfluent_sandbox.commercetools.store import Collection, Resource

MAX_SEED_VARIANTS = 20  # variants per product the ``variants`` option may ask for (distinct attribute combinations)
# Positions of the hard cases among the first products (position 0 is an ordinary product).
_FORCED = {
    1: "no key",
    2: "key is a SKU",
    3: "never published",
    4: "staged changes",
    5: "variant without gtin",
    6: "variant without SKU",
    7: "unpublished again",
}
HARD_CASES = max(_FORCED) + 1

Names = dict[str, str]  # a LocalizedString


def _names(en: str, de: str, ja: str) -> Names:
    return {"en": en, "de": de, "ja": ja}


_DEPARTMENTS = (
    ("women", _names("Women", "Damen", "レディース")),
    ("men", _names("Men", "Herren", "メンズ")),
    ("kids", _names("Kids", "Kinder", "キッズ")),
    ("unisex", _names("Unisex", "Unisex", "ユニセックス")),
    ("sports", _names("Sports", "Sport", "スポーツ")),
    ("sale", _names("Sale", "Sale", "セール")),
)
_GROUPS = {
    "t-shirts": _names("T-Shirts", "T-Shirts", "Tシャツ"),
    "shirts": _names("Shirts", "Hemden", "シャツ"),
    "jeans": _names("Jeans", "Jeans", "ジーンズ"),
    "jackets": _names("Jackets", "Jacken", "ジャケット"),
    "dresses": _names("Dresses", "Kleider", "ワンピース"),
    "knitwear": _names("Knitwear", "Strick", "ニット"),
    "sneakers": _names("Sneakers", "Sneaker", "スニーカー"),
    "boots": _names("Boots", "Stiefel", "ブーツ"),
    "sandals": _names("Sandals", "Sandalen", "サンダル"),
    "belts": _names("Belts", "Gürtel", "ベルト"),
    "scarves": _names("Scarves", "Schals", "スカーフ"),
    "hats": _names("Hats & Caps", "Mützen & Hüte", "帽子"),
    "backpacks": _names("Backpacks", "Rucksäcke", "リュック"),
    "wallets": _names("Wallets", "Geldbörsen", "財布"),
    "totes": _names("Totes", "Shopper", "トートバッグ"),
}
# section token -> its names and the groups below it
_SECTIONS = {
    "clothing": (
        _names("Clothing", "Bekleidung", "ウェア"),
        ("t-shirts", "shirts", "jeans", "jackets", "dresses", "knitwear"),
    ),
    "shoes": (_names("Shoes", "Schuhe", "シューズ"), ("sneakers", "boots", "sandals")),
    "accessories": (_names("Accessories", "Accessoires", "アクセサリー"), ("belts", "scarves", "hats", "wallets")),
    "bags": (_names("Bags", "Taschen", "バッグ"), ("backpacks", "totes", "wallets")),
    "outdoor": (_names("Outdoor", "Outdoor", "アウトドア"), ("jackets", "boots", "backpacks")),
}
_COLORS = (
    ("black", _names("Black", "Schwarz", "ブラック")),
    ("white", _names("White", "Weiß", "ホワイト")),
    ("navy", _names("Navy", "Marineblau", "ネイビー")),
    ("red", _names("Red", "Rot", "レッド")),
    ("olive", _names("Olive", "Oliv", "オリーブ")),
    ("beige", _names("Beige", "Beige", "ベージュ")),
    ("grey", _names("Grey", "Grau", "グレー")),
)
_MATERIALS = (
    _names("Cotton", "Baumwolle", "綿"),
    _names("Organic cotton", "Bio-Baumwolle", "オーガニックコットン"),
    _names("Wool", "Wolle", "ウール"),
    _names("Linen", "Leinen", "リネン"),
    _names("Leather", "Leder", "レザー"),
    _names("Recycled polyester", "Recyceltes Polyester", "再生ポリエステル"),
    _names("Canvas", "Canvas", "キャンバス"),
)
_LINES = (
    ("Aurora", "オーロラ"),
    ("Fjord", "フィヨルド"),
    ("Sierra", "シエラ"),
    ("Nova", "ノヴァ"),
    ("Atlas", "アトラス"),
    ("Kyoto", "キョウト"),
    ("Lumen", "ルーメン"),
    ("Terra", "テラ"),
    ("Brisa", "ブリーザ"),
    ("Polar", "ポーラー"),
)
_ADJECTIVES = ("Classic", "Organic", "Slim", "Vintage", "Lightweight", "Essential", "Urban", "Premium")
_EUR_PRICES = (1499, 1999, 2499, 2999, 3999, 4999, 5999, 7999, 8999, 9999, 12999, 14999, 19999)
_IMAGE_HOST = "https://images.ctfluent.example/products"


@dataclass(frozen=True)
class _TypeSpec:
    key: str
    name: str
    sku_prefix: str
    size_attribute: str  # the attribute that varies with color between variants
    flag_attribute: str  # the boolean attribute
    flag_label: Names
    nouns: tuple[Names, ...]


_TYPE_SPECS = (
    _TypeSpec(
        "apparel",
        "Apparel",
        "AP",
        "size",
        "organic",
        _names("Organic", "Bio", "オーガニック"),
        (
            _names("T-Shirt", "T-Shirt", "Tシャツ"),
            _names("Hoodie", "Kapuzenpullover", "パーカー"),
            _names("Jeans", "Jeans", "ジーンズ"),
            _names("Jacket", "Jacke", "ジャケット"),
            _names("Dress", "Kleid", "ワンピース"),
            _names("Shirt", "Hemd", "シャツ"),
            _names("Sweater", "Pullover", "セーター"),
        ),
    ),
    _TypeSpec(
        "footwear",
        "Footwear",
        "FW",
        "shoe-size",
        "waterproof",
        _names("Waterproof", "Wasserdicht", "防水"),
        (
            _names("Sneaker", "Sneaker", "スニーカー"),
            _names("Boot", "Stiefel", "ブーツ"),
            _names("Sandal", "Sandale", "サンダル"),
            _names("Loafer", "Loafer", "ローファー"),
            _names("Running Shoe", "Laufschuh", "ランニングシューズ"),
        ),
    ),
    _TypeSpec(
        "accessories",
        "Accessories",
        "AC",
        "size",
        "gift-wrap",
        _names("Gift wrap available", "Geschenkverpackung möglich", "ギフト包装可"),
        (
            _names("Backpack", "Rucksack", "リュック"),
            _names("Belt", "Gürtel", "ベルト"),
            _names("Scarf", "Schal", "スカーフ"),
            _names("Cap", "Cap", "キャップ"),
            _names("Tote Bag", "Shopper", "トートバッグ"),
            _names("Wallet", "Geldbörse", "財布"),
        ),
    ),
)
_TYPE_WEIGHTS = (50, 25, 25)
_SIZE_VALUES = {
    "apparel": [(size, size) for size in ("XS", "S", "M", "L", "XL", "XXL")],
    "accessories": [("one-size", "One size"), ("s-m", "S/M"), ("m-l", "M/L")],
}
_SHOE_SIZES = tuple(range(36, 47))


@dataclass(frozen=True)
class CatalogueData:
    categories: list[Resource]
    product_types: list[Resource]
    products: list[Resource]


def default_categories(products_count: int) -> int:
    """The tree size a seed gets without ``categories``: none without products, else about one per 25 products
    (at least 12, at most 200)."""
    return 0 if products_count == 0 else min(200, max(12, products_count // 25))


def generate_catalogue(
    products_count: int,
    days: int,
    seed: int,
    now: datetime,
    *,
    categories: int | None = None,
    variants: int | None = None,
    types: CustomTypes,
) -> CatalogueData:
    """``products_count`` products (and, with any, the product types and by default a category tree) created over
    the ``days`` days before ``now``."""
    if variants is not None and not 1 <= variants <= MAX_SEED_VARIANTS:
        raise ValueError(f"variants must be between 1 and {MAX_SEED_VARIANTS}")
    maker = _CatalogueMaker(random.Random(f"catalogue/{seed}"), now, days, types)
    tree = maker.category_tree(default_categories(products_count) if categories is None else categories)
    kinds = maker.product_types() if products_count else []
    made = [maker.product(n, variants) for n in range(products_count)]
    return CatalogueData(categories=tree, product_types=kinds, products=made)


def _ascii_slug(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.replace("ß", "ss")).encode("ascii", "ignore").decode().lower()
    return "-".join("".join(c if c.isalnum() else " " for c in folded).split())


def _ean13(rng: random.Random) -> str:
    """A German (prefix 40) EAN-13 with its check digit: the 12 digits weighted 1, 3, 1, 3, ..."""
    body = f"40{rng.randrange(10**10):010d}"
    total = sum(map(int, body[0::2])) + 3 * sum(map(int, body[1::2]))
    return f"{body}{-total % 10}"


class _CatalogueMaker:
    """Makes the resources in order; every choice comes from the one seeded ``Random``."""

    def __init__(self, rng: random.Random, now: datetime, days: int, types: CustomTypes) -> None:
        self.rng = rng
        self.ids = IdSource(rng)
        self.now = now
        self.days = days
        self.span_seconds = days * 86_400
        self.types = types
        self.categories = categories_module.new_collection()
        self.product_types_made = product_types.new_collection()
        self.placeable: list[str] = []  # ids of the categories products go into (sections and groups)
        self.token_of: dict[str, str] = {}  # category id -> its vocabulary token (which groups a section gets)

    def _context(self, moment: datetime) -> WriteContext:
        collections: Mapping[str, Collection] = {
            "category": self.categories,
            "product-type": self.product_types_made,
        }
        return WriteContext(moment, DEFAULT_CLIENT_ID, self.ids, collections, self.types)

    # -- categories ----------------------------------------------------------------------------------------------

    def category_tree(self, count: int) -> list[Resource]:
        """``count`` categories: about a tenth departments, a third of the rest sections (clothing, shoes, ...) spread
        over the departments, the others product groups spread over the sections, each group fitting its section
        (beyond the vocabulary, names repeat with a number)."""
        roots = min(count, max(1, count // 10), len(_DEPARTMENTS))
        sections = min(count - roots, max(roots, (count - roots) // 3), roots * len(_SECTIONS))
        section_choices = tuple((token, names) for token, (names, _) in _SECTIONS.items())
        departments = self._level([None], roots, lambda _: _DEPARTMENTS)
        middle = self._level(departments, sections, lambda _: section_choices)
        groups = self._level(middle, count - roots - sections, self._groups_below)
        self.placeable = [c["id"] for c in (middle + groups or departments)]
        return departments + middle + groups

    def _groups_below(self, section: Resource | None) -> tuple[tuple[str, Names], ...]:
        assert section is not None
        return tuple((token, _GROUPS[token]) for token in _SECTIONS[self.token_of[section["id"]]][1])

    def _level(
        self,
        parents: Sequence[Resource | None],
        size: int,
        vocabulary_below: Callable[[Resource | None], tuple[tuple[str, Names], ...]],
    ) -> list[Resource]:
        """``size`` categories spread round-robin over ``parents``, named from each parent's vocabulary in turn."""
        made: list[Resource] = []
        for i in range(size):
            parent, sibling = parents[i % len(parents)], i // len(parents)
            vocabulary = vocabulary_below(parent)
            token, names = vocabulary[sibling % len(vocabulary)]
            draft = self._category_draft(token, names, sibling, len(vocabulary), parent)
            # At the start of the seeded history (so a backfill of it loads them), one minute apart, parents first.
            moment = self.now - timedelta(days=self.days) + timedelta(minutes=len(self.categories))
            category, _ = categories_module.create(draft, self._context(moment))
            self.categories.put(category)
            self.token_of[category["id"]] = token
            made.append(category)
        return made

    def _category_draft(
        self, token: str, names: Names, sibling: int, choices: int, parent: Resource | None
    ) -> dict[str, Any]:
        n = len(self.categories)
        repeat = sibling // choices  # more children than the vocabulary has: names repeat, numbered
        if repeat:
            token, names = f"{token}-{repeat + 1}", {loc: f"{text} {repeat + 1}" for loc, text in names.items()}
        # slugs are paths, so unique per locale: siblings never share a (vocabulary entry, repeat)
        en, de = token, _ascii_slug(names["de"])
        if parent is not None:
            en, de = f"{parent['slug']['en']}-{en}", f"{parent['slug']['de']}-{de}"
        draft: dict[str, Any] = {
            "name": names,
            "slug": {"en": en, "de": de, "ja": en},
            "orderHint": f"0.{sibling + 1:02d}",
        }
        if n % 7 != 3:
            draft["key"] = f"cat-{en}"
        if parent is not None:
            draft["parent"] = {"typeId": "category", "id": parent["id"]}
        if n % 5 == 0:
            draft["externalId"] = f"ERP-CAT-{1000 + n}"
        if self.rng.random() < 0.3:
            draft["description"] = {"en": f"Everything in {names['en']}.", "de": f"Alles aus {names['de']}."}
        return draft

    # -- product types -------------------------------------------------------------------------------------------

    def product_types(self) -> list[Resource]:
        moment = self.now - timedelta(days=self.days + 45)
        made = []
        for spec in _TYPE_SPECS:
            product_type, _ = product_types.create(self._type_draft(spec), self._context(moment))
            self.product_types_made.put(product_type)
            made.append(product_type)
        return made

    @staticmethod
    def _type_draft(spec: _TypeSpec) -> dict[str, Any]:
        def definition(name: str, label: Names, attribute_type: dict[str, Any]) -> dict[str, Any]:
            return {"name": name, "label": label, "type": attribute_type, "isRequired": False}

        colors = {"name": "lenum", "values": [{"key": key, "label": label} for key, label in _COLORS]}
        if spec.size_attribute == "shoe-size":
            label = _names("Shoe size (EU)", "Schuhgröße (EU)", "サイズ(EU)")
            size = definition("shoe-size", label, {"name": "number"})
        else:
            values = [{"key": key, "label": label} for key, label in _SIZE_VALUES[spec.key]]
            size = definition("size", _names("Size", "Größe", "サイズ"), {"name": "enum", "values": values})
        attributes = [
            definition("gtin", _names("GTIN (EAN)", "GTIN (EAN)", "JANコード"), {"name": "text"}),
            definition("color", _names("Color", "Farbe", "カラー"), colors),
            size,
            definition("material", _names("Material", "Material", "素材"), {"name": "ltext"}),
            definition(spec.flag_attribute, spec.flag_label, {"name": "boolean"}),
        ]
        if spec.key == "accessories":
            care = [
                {"key": "hand-wash", "label": "Hand wash"},
                {"key": "machine-wash", "label": "Machine wash 30°C"},
                {"key": "dry-clean", "label": "Dry clean only"},
                {"key": "no-tumble-dry", "label": "Do not tumble dry"},
            ]
            attributes.append(
                definition(
                    "care",
                    _names("Care", "Pflege", "お手入れ"),
                    {"name": "set", "elementType": {"name": "enum", "values": care}},
                )
            )
        return {"key": spec.key, "name": spec.name, "description": f"{spec.name} products", "attributes": attributes}

    # -- products ------------------------------------------------------------------------------------------------

    def product(self, n: int, variants: int | None) -> Resource:
        rng, chance = self.rng, self.rng.random
        case = _FORCED.get(n) or self._random_case()
        spec = rng.choices(_TYPE_SPECS, _TYPE_WEIGHTS)[0]
        count = variants or rng.choices(range(1, 7), (15, 20, 20, 20, 15, 10))[0]
        if case in ("variant without gtin", "variant without SKU"):
            count = max(count, 2)
        line, line_ja = rng.choice(_LINES)
        adjective, noun = rng.choice(_ADJECTIVES), rng.choice(spec.nouns)
        slug = f"{_ascii_slug(line)}-{_ascii_slug(adjective)}-{_ascii_slug(noun['en'])}-{n}"
        name = {"en": f"{line} {adjective} {noun['en']}", "de": f"{noun['de']} {line}", "ja": f"{line_ja} {noun['ja']}"}
        if chance() < 0.05:
            del name["ja"]  # not every product is translated
        material = rng.choice(_MATERIALS)
        variant_drafts = self._variants(n, spec, count, case, slug, material)
        in_categories = rng.sample(self.placeable, min(len(self.placeable), rng.randint(1, 2)))
        draft: dict[str, Any] = {
            "productType": {"typeId": "product-type", "key": spec.key},
            "name": name,
            "slug": {"en": slug, "de": f"{_ascii_slug(noun['de'])}-{_ascii_slug(line)}-{n}", "ja": slug},
            "categories": [{"typeId": "category", "id": category_id} for category_id in in_categories],
            "masterVariant": variant_drafts[0],
            "variants": variant_drafts[1:],
            "publish": case != "never published",
        }
        if case == "key is a SKU":
            draft["key"] = variant_drafts[0]["sku"]  # the master variant always has a SKU
        elif case != "no key":
            draft["key"] = f"product-{n:06d}"
        if chance() < 0.85:
            draft["description"] = self._description(line, line_ja, adjective, noun, material)
        if draft["categories"] and chance() < 0.2:
            draft["categoryOrderHints"] = {draft["categories"][0]["id"]: f"0.{rng.randint(1, 99):02d}"}
        return self._timed(draft, case)

    def _random_case(self) -> str:
        roll = self.rng.random()
        for case, share in (
            ("no key", 0.08),
            ("key is a SKU", 0.01),
            ("never published", 0.06),
            ("unpublished again", 0.02),
            ("staged changes", 0.08),
        ):
            if roll < share:
                return case
            roll -= share
        return "ordinary"

    def _variants(
        self, n: int, spec: _TypeSpec, count: int, case: str, slug: str, material: Names
    ) -> list[dict[str, Any]]:
        rng, chance = self.rng, self.rng.random
        sizes: list[Any] = (
            list(_SHOE_SIZES) if spec.size_attribute == "shoe-size" else [k for k, _ in _SIZE_VALUES[spec.key]]
        )
        colors = [key for key, _ in _COLORS]
        start = rng.randrange(len(colors))
        combinations = [(colors[(start + i) % len(colors)], size) for i in range(len(colors)) for size in sizes]
        flag = chance() < 0.4
        care = rng.sample(["hand-wash", "machine-wash", "dry-clean", "no-tumble-dry"], rng.randint(1, 2))
        base, german = rng.choice(_EUR_PRICES), chance() < 0.3
        drafts = []
        for v, (color, size) in enumerate(combinations[:count], start=1):
            attributes: list[dict[str, Any]] = []
            without_gtin = (case == "variant without gtin" and v == 2) or chance() < 0.04
            if not without_gtin:
                attributes.append({"name": "gtin", "value": _ean13(rng)})
            attributes += [
                {"name": "color", "value": color},
                {"name": spec.size_attribute, "value": size},
                {"name": "material", "value": material},
                {"name": spec.flag_attribute, "value": flag},
            ]
            if spec.key == "accessories":
                attributes.append({"name": "care", "value": care})
            draft: dict[str, Any] = {
                "attributes": attributes,
                "prices": self._prices(base + (v - 1) // 3 * 500, german),
            }
            without_sku = (case == "variant without SKU" and v == 2) or (v > 1 and chance() < 0.005)
            if not without_sku:
                draft["sku"] = f"{spec.sku_prefix}-{n:06d}-{v}"
            if chance() < 0.3:
                draft["key"] = f"variant-{n:06d}-{v}"
            images = rng.choice((0, 1, 1, 2, 2, 3)) if v > 1 else rng.randint(1, 3)
            draft["images"] = [
                {
                    "url": f"{_IMAGE_HOST}/{slug}/{v}-{i}.jpg",
                    "dimensions": {"w": 1200, "h": 1600},
                    **({"label": ("Front", "Back", "Detail")[i]} if chance() < 0.5 else {}),
                }
                for i in range(images)
            ]
            drafts.append(draft)
        return drafts

    def _prices(self, eur: int, german: bool) -> list[dict[str, Any]]:
        """EUR, USD and JPY; with ``german`` a lower price for DE too, and now and then a fortnight's sale price."""
        prices: list[dict[str, Any]] = [
            {"value": {"currencyCode": "EUR", "centAmount": eur}},
            {"value": {"currencyCode": "USD", "centAmount": int(round(eur * 1.1, -2)) - 1}, "country": "US"},
            # JPY has no minor unit: centAmount counts whole yen (19.99 EUR -> 3300 JPY)
            {"value": {"currencyCode": "JPY", "centAmount": int(round(eur * 1.65, -2))}, "country": "JP"},
        ]
        if german:
            prices.append({"value": {"currencyCode": "EUR", "centAmount": eur - 100}, "country": "DE"})
        if self.rng.random() < 0.1:
            sale_start = self.now - timedelta(days=self.rng.randint(0, 10))
            prices.append(
                {
                    "value": {"currencyCode": "EUR", "centAmount": eur * 8 // 10},
                    "validFrom": iso_ms(sale_start),
                    "validUntil": iso_ms(sale_start + timedelta(days=14)),
                }
            )
        return prices

    @staticmethod
    def _description(line: str, line_ja: str, adjective: str, noun: Names, material: Names) -> Names:
        return {
            "en": f"The {adjective.lower()} {noun['en'].lower()} from our {line} collection, made of "
            f"{material['en'].lower()}.",
            "de": f"{noun['de']} aus unserer Kollektion {line}. Material: {material['de']}.",
            "ja": f"{line_ja}コレクションの{noun['ja']}。{material['ja']}製。",
        }

    def _timed(self, draft: dict[str, Any], case: str) -> Resource:
        """Create the product at a time in the window; some get a later change, as their history."""
        created = self.now - timedelta(seconds=self.rng.random() * self.span_seconds)
        changed = self.rng.random() < 0.6 or case in ("staged changes", "unpublished again")
        modified = created + (self.now - created) * self.rng.random() if changed else created
        product, _ = products.create(draft, self._context(created))
        later = self._context(modified)
        actions: list[dict[str, Any]] = []
        if case == "unpublished again":
            actions = [{"action": "unpublish"}]
        elif case == "staged changes":
            name = {**draft["name"], "en": f"{draft['name']['en']} (new season)"}
            actions = [{"action": "changeName", "name": name}]
            master_prices = draft["masterVariant"]["prices"]
            if self.rng.random() < 0.5:
                raised = [
                    {**price, "value": {**price["value"], "centAmount": price["value"]["centAmount"] + 500}}
                    for price in master_prices
                ]
                actions.append({"action": "setPrices", "variantId": 1, "prices": raised})
        if actions:
            product, _ = run_actions(product, {"version": 1, "actions": actions}, products.ACTIONS, later)
        if modified != created:
            product["version"] = max(product["version"], self.rng.randint(2, 15))
            mark_modified(product, later)
        return product
