"""Orders: commercetools orders -> Fluent orders, each with its customer at order time.

What other entities use of orders: the ledger's entity type of an order (payments reference their order's, the
order status back-sync finds the commercetools order of a Fluent one through it).
"""

ENTITY_TYPE = "order"
