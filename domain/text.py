"""Checks shared by every command that takes free text or identifiers from a person."""

from __future__ import annotations

import re

from domain.errors import InvalidInput

_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
_ATTRIBUTE_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_ATTRIBUTES = 20
MAX_ATTRIBUTE_VALUE = 100


def required_text(value: str, *, field: str, max_length: int = 200) -> str:
    cleaned = value.strip()
    if not cleaned:
        raise InvalidInput(f"{field} must not be blank", field=field)
    if len(cleaned) > max_length:
        raise InvalidInput(f"{field} is longer than {max_length} characters", field=field)
    return cleaned


def code(value: str, *, field: str = "code") -> str:
    cleaned = value.strip()
    if not _CODE.match(cleaned):
        raise InvalidInput(
            f"{field} {value!r} must be 1-40 letters, digits, '_', '.' or '-'", field=field
        )
    return cleaned


def attributes(values: dict[str, str], *, field: str = "attributes") -> dict[str, str]:
    """Group attributes (gender, location, ...) used by fairness audits: small and well-formed."""
    if len(values) > MAX_ATTRIBUTES:
        raise InvalidInput(f"at most {MAX_ATTRIBUTES} attributes are allowed", field=field)
    cleaned: dict[str, str] = {}
    for key, value in values.items():
        if not _ATTRIBUTE_KEY.match(key):
            raise InvalidInput(
                f"attribute name {key!r} must be lower-case letters, digits and '_'", field=field
            )
        cleaned[key] = required_text(value, field=f"{field}.{key}", max_length=MAX_ATTRIBUTE_VALUE)
    return dict(sorted(cleaned.items()))
