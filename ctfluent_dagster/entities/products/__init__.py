"""Products: published commercetools product projections -> Fluent standard and variant products.

What other entities use of products: the ledger's entity types of standard and variant products (orders reference
variant products by SKU).
"""

STANDARD_PRODUCT = "standard_product"
VARIANT_PRODUCT = "variant_product"
