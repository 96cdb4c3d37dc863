"""Fluent's webhook signature: ``fluent-signature``, a base64 RSASSA-PKCS1-v1_5 / SHA-512 signature of the raw
request body, made with the private key of the sending Fluent environment.

Fluent hands out the public keys as X.509 SubjectPublicKeyInfo, base64 DER (``MIGfMA0GCSqGSIb3DQEBAQUAA4GNAD...``
for its 1024-bit keys); a PEM block is accepted too. Several keys may be configured at once (a key rotation, or
more than one Fluent environment): a signature by any of them is accepted. The legacy ``flex.signature`` (MD5) is
never looked at.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.hashes import SHA512
from cryptography.hazmat.primitives.serialization import load_der_public_key, load_pem_public_key

SIGNATURE_HEADER = "fluent-signature"
# An RSA signature is as long as the key's modulus: 8192-bit keys give 1024 bytes (~1.4 kB of base64).
_MAX_HEADER_CHARS = 2048


class InvalidPublicKey(ValueError):
    """A configured key that is not an RSA public key in base64 DER (or PEM)."""


def load_public_key(text: str) -> RSAPublicKey:
    """An RSA public key from base64 DER (X.509 SubjectPublicKeyInfo) or a PEM block."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = load_pem_public_key(text.encode("ascii"))
        else:
            key = load_der_public_key(base64.b64decode("".join(text.split()), validate=True))
    except (ValueError, binascii.Error, UnicodeEncodeError, UnsupportedAlgorithm) as exc:
        raise InvalidPublicKey(f"not a base64 DER (X.509 SubjectPublicKeyInfo) public key: {exc}") from None
    if not isinstance(key, RSAPublicKey):
        raise InvalidPublicKey(f"not an RSA public key but {type(key).__name__}")
    return key


def split_keys(value: str) -> list[str]:
    """The keys of a comma-separated list (as in ``FLUENT_WEBHOOK_PUBLIC_KEYS``), blanks dropped."""
    return [part.strip() for part in value.split(",") if part.strip()]


class SignatureVerifier:
    """Verifies ``fluent-signature`` headers against one or more public keys."""

    def __init__(self, keys: Iterable[RSAPublicKey | str]) -> None:
        loaded: list[RSAPublicKey] = []
        for position, key in enumerate(keys, start=1):
            try:
                loaded.append(load_public_key(key) if isinstance(key, str) else key)
            except InvalidPublicKey as exc:
                raise InvalidPublicKey(f"public key #{position}: {exc}") from None
        if not loaded:
            raise InvalidPublicKey("no public key configured")
        self.keys: tuple[RSAPublicKey, ...] = tuple(loaded)

    @classmethod
    def from_config(cls, value: str) -> SignatureVerifier:
        """From a comma-separated list of base64 DER keys."""
        return cls(split_keys(value))

    def verify(self, body: bytes, header: str | None) -> bool:
        """Whether ``header`` is a valid signature of exactly these bytes by one of the keys. A missing, empty or
        garbled header is simply not valid."""
        signature = decode_signature(header)
        if signature is None:
            return False
        for key in self.keys:
            if len(signature) != (key.key_size + 7) // 8:
                continue
            try:
                key.verify(signature, body, PKCS1v15(), SHA512())
            except InvalidSignature:
                continue
            return True
        return False


def decode_signature(header: str | None) -> bytes | None:
    """The signature bytes of a header value, or None when it is missing, empty or not base64."""
    if not header or len(header) > _MAX_HEADER_CHARS:
        return None
    try:
        signature = base64.b64decode("".join(header.split()), validate=True)
    except (binascii.Error, ValueError):
        return None
    return signature or None
