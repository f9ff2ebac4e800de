"""Bearer tokens: HS256 JWTs carrying the caller's employee id and role, or a customer's one-time
review invitation (``rvw.<appraisal hex>.<secret>``), which is not a JWT and signs nobody in."""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from uuid import UUID

import jwt

from domain.provenance import Role

ISSUER = "perfledger"
TOKEN_ROLES = frozenset({Role.EMPLOYEE, Role.MANAGER, Role.HR, Role.AUDITOR, Role.ADMIN})
ALGORITHM = "HS256"


class AuthenticationFailed(Exception):
    """The request carries no usable token; the message says why, without echoing it."""


@dataclass(frozen=True)
class Viewer:
    employee_id: UUID
    role: Role

    @property
    def sees_everyone(self) -> bool:
        return self.role in {Role.HR, Role.AUDITOR, Role.ADMIN}


@dataclass(frozen=True)
class ExternalRater:
    """A customer holding a review invitation: no account, no role; the API lets them read that
    one review's form and submit it, nothing else. The application decides whether the token
    still works (unknown, replaced, used, expired)."""

    token: str

    def __repr__(self) -> str:
        return "ExternalRater(token=<hidden>)"  # never log the token

    @property
    def viewer(self) -> Viewer:
        """Who resolvers see: nobody's employee id, so no visibility check ever matches."""
        return Viewer(NOBODY, Role.EXTERNAL)


NOBODY = UUID(int=0)


EXTERNAL_TOKEN = re.compile(r"^rvw\.[0-9a-f]{32}\.[A-Za-z0-9_-]{16,128}$")


def mint(secret: str, employee_id: UUID, role: Role, *, ttl_hours: int = 12) -> str:
    if role not in TOKEN_ROLES:
        raise ValueError(f"role must be one of {sorted(r.value for r in TOKEN_ROLES)}")
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": str(employee_id),
        "role": role.value,
        "iat": now,
        "exp": now + ttl_hours * 3600,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


_VERIFIED_MAX = 4096
_verified: dict[tuple[str, str], tuple[Viewer, int]] = {}


def verify(secret: str, token: str) -> Viewer:
    """The token's viewer, if the signature, issuer and expiry hold.

    A verified token is remembered (with its expiry, checked on every use): dashboards send the
    same token with every request, and checking its signature each time costs more than
    answering a small query.
    """
    known = _verified.get((secret, token))
    if known is not None:
        viewer, expires = known
        if time.time() < expires:
            return viewer
        del _verified[(secret, token)]
    viewer, expires = _verify(secret, token)
    if len(_verified) >= _VERIFIED_MAX:
        _verified.clear()
    _verified[(secret, token)] = (viewer, expires)
    return viewer


def _verify(secret: str, token: str) -> tuple[Viewer, int]:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "iss"]},
        )
    except jwt.ExpiredSignatureError:
        raise AuthenticationFailed("the bearer token has expired") from None
    except jwt.InvalidTokenError as error:
        raise AuthenticationFailed(f"the bearer token is invalid: {error}") from None
    try:
        role = Role(claims.get("role"))
        employee_id = UUID(str(claims["sub"]))
    except ValueError:
        raise AuthenticationFailed("the bearer token names no valid role or employee") from None
    if role not in TOKEN_ROLES:
        raise AuthenticationFailed(f"role {role.value!r} cannot sign in")
    return Viewer(employee_id, role), int(claims["exp"])


def expires_at(secret: str, authorization: str) -> int | None:
    """When a bearer token ``from_header`` accepted stops being valid (unix seconds); None for
    a review invitation, which has its own expiry and single use."""
    token = authorization.partition(" ")[2].strip()
    if token.startswith("rvw."):
        return None
    known = _verified.get((secret, token))
    return known[1] if known is not None else _verify(secret, token)[1]


def from_header(secret: str, authorization: str | None) -> Viewer | ExternalRater:
    if not authorization:
        raise AuthenticationFailed(
            "authentication required: send 'Authorization: Bearer <token>' "
            "(make one with `perfledger token --role hr --employee <id>`)"
        )
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed("the Authorization header must be 'Bearer <token>'")
    token = token.strip()
    if token.startswith("rvw."):
        if not EXTERNAL_TOKEN.match(token):
            raise AuthenticationFailed("the bearer token is not a valid review invitation")
        return ExternalRater(token)
    return verify(secret, token)
