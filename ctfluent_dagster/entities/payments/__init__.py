"""Payments: each successful commercetools payment transaction -> a Fluent financial transaction on its order.

Other entities use nothing of payments.
"""
