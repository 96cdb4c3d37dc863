"""Masking of personal data (emails, names, phones) for logs, metadata and error texts.

Everything the project writes to a log, to Dagster metadata or to an error it raises passes through here, so
the rule lives in one place: keep enough to recognise a record (first character, domain ending, last digits),
never enough to read it.
"""

from __future__ import annotations

import hashlib
import re

# Plain and URL-encoded (`%40`) addresses; the local part may be quoted ("john.q"@example.com).
_EMAIL = re.compile(r'(?:"[^"@\s]+"|[^\s@"\'<>(),;:%]+)(?:@|%40)[A-Za-z0-9.-]+\.[A-Za-z]{2,}')


def mask_email(email: str | None) -> str:
    if not email:
        return ""
    local, sep, domain = email.strip().rpartition("@")
    if not sep:
        return mask_text_value(email)
    name, dot, tld = domain.rpartition(".")
    masked_domain = f"{name[:1]}***{dot}{tld}" if dot else f"{domain[:1]}***"
    return f"{local.strip(chr(34))[:1]}***@{masked_domain}"


def email_digest(email: str) -> str:
    """What the attempt history keeps to find a record by email: a digest, never the address."""
    return _digest("email", email.strip().lower())


def id_digest(source_id: str) -> str:
    """What the ledger keeps of a forgotten record's commercetools id: a digest (who has the id finds the row)."""
    return _digest("id", source_id.strip())


def _digest(kind: str, value: str) -> str:
    return f"{kind}:" + hashlib.sha256(value.encode()).hexdigest()[:40]


def mask_text_value(value: str | None) -> str:
    """Names and other free text: first character only."""
    if not value:
        return ""
    return f"{value.strip()[:1]}***"


def mask_phone(phone: str | None) -> str:
    digits = re.sub(r"\D", "", phone or "")
    return f"***{digits[-2:]}" if digits else ""


def redact(text: str) -> str:
    """Mask every email address found in free text (server error messages, exception texts)."""
    return _EMAIL.sub(lambda m: mask_email(m.group(0).replace("%40", "@")), text)
