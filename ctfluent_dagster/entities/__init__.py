"""The registry of synced entities, either direction: one line per entity. Each entity is one folder beside this file.

Order matters only for display; the asset graph orders the syncs by the references each target declares.
"""

from ctfluent_dagster.entities.categories.declaration import ENTITY as CATEGORIES
from ctfluent_dagster.entities.customers.declaration import ENTITY as CUSTOMERS
from ctfluent_dagster.entities.fulfilments.declaration import ENTITY as FULFILMENTS
from ctfluent_dagster.entities.inventory.declaration import ENTITY as INVENTORY
from ctfluent_dagster.entities.locations.declaration import ENTITY as LOCATIONS
from ctfluent_dagster.entities.order_status.declaration import ENTITY as ORDER_STATUS
from ctfluent_dagster.entities.orders.declaration import ENTITY as ORDERS
from ctfluent_dagster.entities.payments.declaration import ENTITY as PAYMENTS
from ctfluent_dagster.entities.products.declaration import ENTITY as PRODUCTS
from ctfluent_dagster.entity import EntityDeclaration

ENTITIES: tuple[EntityDeclaration, ...] = (
    CATEGORIES, PRODUCTS, CUSTOMERS, ORDERS, PAYMENTS, ORDER_STATUS, LOCATIONS, INVENTORY, FULFILMENTS,
)  # fmt: skip
