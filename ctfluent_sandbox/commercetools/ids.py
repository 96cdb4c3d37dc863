"""Identifiers from a seedable random source, so that seeded data (ids included) is reproducible."""

from __future__ import annotations

import random
import string
import uuid

_ADDRESS_ID_ALPHABET = string.ascii_letters + string.digits


class IdSource:
    """UUIDs for resources and 8-character address ids (the shape the API gives them), from one ``Random``."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self.rng = rng or random.Random()

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def address_id(self) -> str:
        return "".join(self.rng.choices(_ADDRESS_ID_ALPHABET, k=8))
