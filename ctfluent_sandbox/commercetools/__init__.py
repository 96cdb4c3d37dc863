"""Local emulator of the commercetools HTTP API (auth service and project API) for what the project uses:
project settings, stores and channels, customers, the product catalogue (categories, product types, products and
their projections), inventory, orders with their payments, shipping methods and deliveries, and the Messages API,
with the real query language, paging rules, errors and scopes. Start with :class:`CommercetoolsEmulator`;
:mod:`ctfluent_sandbox.seed`, :mod:`ctfluent_sandbox.seed_catalogue` and :mod:`ctfluent_sandbox.seed_orders` make
demo data."""

from ctfluent_sandbox.commercetools.auth import ApiClient
from ctfluent_sandbox.commercetools.emulator import CommercetoolsEmulator, default_api_client

__all__ = ["ApiClient", "CommercetoolsEmulator", "default_api_client"]
