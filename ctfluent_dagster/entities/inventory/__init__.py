"""Inventory: Fluent's available-to-sell positions (virtual positions of an aggregate virtual catalogue) ->
commercetools inventory entries.

Other entities use nothing of inventory.
"""
