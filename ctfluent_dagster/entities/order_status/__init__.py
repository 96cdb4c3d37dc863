"""Order status: Fluent's order statuses -> the commercetools order's states (Fluent -> commercetools).

Other entities use nothing of the order status.
"""
