"""Categories: commercetools categories -> Fluent categories in the product catalogue.

What other entities use of categories: the ledger's entity type of a category (products reference theirs).
"""

ENTITY_TYPE = "category"
