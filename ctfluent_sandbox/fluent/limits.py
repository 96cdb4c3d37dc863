"""Fluent's server-side limits, restated as data: string lengths, page size, complexity and body size.

The real schema states string limits only in descriptions ("Max character limit: N"), which the emulator's SDL
leaves out, so they live here, keyed by ``(input type, field)``. Every other ``String`` input field gets the
documented default of 255. tests/sandbox/test_fluent_schema_subset.py compares this table with the real
descriptions (of the input field, or for one field of the output field it sets, see below).
"""

from __future__ import annotations

DEFAULT_MAX_LENGTH = 255

MAX_LENGTHS: dict[tuple[str, str], int] = {
    ("CreateCustomerInput", "username"): 250,
    ("CreateCustomerInput", "title"): 50,
    ("CreateCustomerInput", "country"): 100,
    ("CreateCustomerInput", "firstName"): 50,
    ("CreateCustomerInput", "lastName"): 50,
    ("CreateCustomerInput", "primaryEmail"): 250,
    ("CreateCustomerInput", "primaryPhone"): 20,
    ("CreateCustomerInput", "timezone"): 32,
    ("UpdateCustomerInput", "username"): 250,
    ("UpdateCustomerInput", "title"): 50,
    ("UpdateCustomerInput", "country"): 100,
    ("UpdateCustomerInput", "firstName"): 50,
    ("UpdateCustomerInput", "lastName"): 50,
    ("UpdateCustomerInput", "primaryEmail"): 250,
    ("UpdateCustomerInput", "primaryPhone"): 20,
    ("UpdateCustomerInput", "timezone"): 32,
    # Catalogue keys. (The descriptions of CreateCategoryInput/UpdateCategoryInput.parentCategory also say 36, but
    # that field is a CategoryKey, whose own ref allows 100: the key's limit is the one applied.)
    ("ProductCatalogueKey", "ref"): 100,
    ("CategoryKey", "ref"): 100,
    ("StandardProductKey", "ref"): 100,
    ("VariantProductKey", "ref"): 100,
    ("ProductKey", "ref"): 100,
    ("CreateCategoryInput", "ref"): 100,
    ("CreateCategoryInput", "type"): 50,
    ("UpdateCategoryInput", "ref"): 100,
    ("UpdateCategoryInput", "type"): 50,
    ("UpdateCategoryInput", "status"): 50,
    ("CreateStandardProductInput", "ref"): 100,
    ("CreateStandardProductInput", "type"): 50,
    ("CreateStandardProductInput", "gtin"): 20,
    ("UpdateStandardProductInput", "ref"): 100,
    ("UpdateStandardProductInput", "type"): 50,
    ("UpdateStandardProductInput", "status"): 50,
    ("UpdateStandardProductInput", "gtin"): 20,
    ("CreateVariantProductInput", "ref"): 100,
    ("CreateVariantProductInput", "type"): 50,
    ("CreateVariantProductInput", "gtin"): 20,
    ("UpdateVariantProductInput", "ref"): 100,
    ("UpdateVariantProductInput", "type"): 50,
    ("UpdateVariantProductInput", "status"): 50,
    ("UpdateVariantProductInput", "gtin"): 20,
    ("TaxTypeInput", "country"): 100,
    ("TaxTypeInput", "group"): 100,
    ("TaxTypeInput", "tariff"): 100,
    # Orders. The real input states no limit for CreateFulfilmentChoiceWithOrderInput.deliveryInstruction; the
    # output field it sets does ("Instruction provided by the customer (250 character limit)"), and that is applied.
    ("CreateFulfilmentChoiceWithOrderInput", "deliveryInstruction"): 250,
    ("CreateCustomerAddressInput", "companyName"): 45,
    ("CreateCustomerAddressInput", "street"): 100,
    ("CreateCustomerAddressInput", "city"): 45,
    ("CreateCustomerAddressInput", "state"): 200,
    ("CreateCustomerAddressInput", "postcode"): 100,
    ("CreateCustomerAddressInput", "region"): 250,
    ("CreateCustomerAddressInput", "country"): 100,
    ("CreateCustomerAddressInput", "timeZone"): 32,
    ("CreateFinancialTransactionInput", "type"): 25,
    ("CreateFinancialTransactionInput", "currency"): 3,
    # Inventory and fulfilment keys in search arguments (a location link's ref really is limited to 8).
    ("VirtualCatalogueKey", "ref"): 100,
    ("LocationLinkInput", "ref"): 8,
}

# List queries without `first`/`last` return at most this many items ("capped at 10").
DEFAULT_PAGE_SIZE = 10

# Query complexity ceiling; see complexity.py for how the emulator counts.
MAX_COMPLEXITY = 11_111

MAX_BODY_BYTES = 2 * 1024 * 1024
