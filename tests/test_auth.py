"""Bearer tokens: signed, expiring, and never accepted once expired, remembered or not."""

from __future__ import annotations

import time
from uuid import uuid4

import jwt
import pytest

from domain.provenance import Role
from service import auth

SECRET = "s" * 40


def token(**claims: object) -> str:
    now = int(time.time())
    values: dict[str, object] = {
        "iss": auth.ISSUER,
        "sub": str(uuid4()),
        "role": "hr",
        "iat": now,
        "exp": now + 60,
    }
    values.update(claims)
    return jwt.encode(values, SECRET, algorithm="HS256")


def test_a_minted_token_names_the_employee_and_role() -> None:
    employee = uuid4()
    viewer = auth.verify(SECRET, auth.mint(SECRET, employee, Role.MANAGER))
    assert viewer == auth.Viewer(employee, Role.MANAGER)


def test_a_remembered_token_is_refused_once_it_expires() -> None:
    expiring = token(exp=int(time.time()) + 1)
    assert auth.verify(SECRET, expiring).role is Role.HR
    time.sleep(1.2)
    with pytest.raises(auth.AuthenticationFailed, match="expired"):
        auth.verify(SECRET, expiring)


def test_a_token_signed_with_another_secret_is_refused() -> None:
    with pytest.raises(auth.AuthenticationFailed, match="invalid"):
        auth.verify("t" * 40, token())


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"role": "system"}, "cannot sign in"),
        ({"role": "boss"}, "no valid role"),
        ({"sub": "not-an-id"}, "no valid role or employee"),
        ({"iss": "elsewhere"}, "invalid"),
    ],
)
def test_tokens_with_unusable_claims_are_refused(claims: dict[str, object], message: str) -> None:
    with pytest.raises(auth.AuthenticationFailed, match=message):
        auth.verify(SECRET, token(**claims))


def test_the_header_must_be_a_bearer_token() -> None:
    with pytest.raises(auth.AuthenticationFailed, match="authentication required"):
        auth.from_header(SECRET, None)
    with pytest.raises(auth.AuthenticationFailed, match="Bearer"):
        auth.from_header(SECRET, "Basic abc")
