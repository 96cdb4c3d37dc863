"""Fulfilments: Fluent fulfilments and their consignments -> commercetools order deliveries, parcels and shipment
state.

Other entities use nothing of fulfilments.
"""
