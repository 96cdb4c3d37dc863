"""Identifiers from a seedable random source, so that seeded data (ids included) is reproducible."""

from __future__ import annotations

import random
import string

_ADDRESS_ID_ALPHABET = string.ascii_letters + string.digits


class IdSource:
    """UUIDs for resources and 8-character address ids (the shape the API gives them), from one ``Random``."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self.rng = rng or random.Random()

    def uuid(self) -> str:
        """``str(uuid.UUID(int=<128 random bits>, version=4))``, formatted directly: seeding makes many."""
        bits = self.rng.getrandbits(128) & ~(0xC000 << 48) | (0x8000 << 48)  # variant RFC 4122
        digits = "%032x" % (bits & ~(0xF000 << 64) | (4 << 76))  # version 4
        return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"

    def address_id(self) -> str:
        return "".join(self.rng.choices(_ADDRESS_ID_ALPHABET, k=8))
