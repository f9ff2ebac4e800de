"""docker-compose.yml and the image it builds, checked without Docker: the file must satisfy the
Compose specification, and the wiring the schema cannot see (health, start order, where the
database is) must hold."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

# jsonschema ships no type information and types-jsonschema is not a test dependency.
from jsonschema import Draft7Validator  # type: ignore[import-untyped, unused-ignore]

REPO_ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
# CI always has ../shared beside the checkout; elsewhere the schema check may skip.
COMPOSE_SCHEMA = REPO_ROOT.parent / "shared" / "schemas" / "compose-spec.json"

APP_SERVICES = ("perfledger", "projector")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(loaded, dict), "docker-compose.yml must be a mapping"
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    found = compose.get("services")
    assert isinstance(found, dict), "docker-compose.yml has no services"
    return found


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment, whichever of the two Compose forms (mapping or KEY=VALUE list)."""
    raw = service.get("environment", {})
    if isinstance(raw, list):
        return dict(item.split("=", 1) for item in raw)
    return {key: str(value) for key, value in raw.items()}


def test_compose_file_satisfies_the_compose_specification(compose: dict[str, Any]) -> None:
    if not COMPOSE_SCHEMA.exists():
        pytest.skip(f"Compose specification schema not found at {COMPOSE_SCHEMA}")
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    # The schema declares draft-07 by a URI jsonschema does not recognise; name the draft.
    Draft7Validator.check_schema(schema)
    errors = Draft7Validator(schema).iter_errors(compose)
    messages = sorted(f"{'/'.join(map(str, e.path)) or '<root>'}: {e.message}" for e in errors)
    assert not messages, "docker-compose.yml violates the Compose specification:\n" + "\n".join(
        messages
    )


def test_database_and_service_both_report_their_health(services: dict[str, Any]) -> None:
    for name in ("db", "perfledger"):
        healthcheck = services[name].get("healthcheck")
        assert healthcheck, f"service {name!r} has no healthcheck"
        assert not healthcheck.get("disable", False), f"service {name!r} disables its healthcheck"
        assert healthcheck.get("test"), f"service {name!r} healthcheck has no test"


def test_service_probes_health_on_the_port_it_listens_on(services: dict[str, Any]) -> None:
    service = services["perfledger"]
    port = environment(service)["PERFLEDGER_PORT"]
    test = service["healthcheck"]["test"]
    probe = " ".join(test) if isinstance(test, list) else test
    assert f"http://127.0.0.1:{port}/healthz" in probe
    assert environment(service)["PERFLEDGER_HOST"] == "0.0.0.0"  # noqa: S104 - inside a container
    assert f"{port}:{port}" in [str(mapping) for mapping in service.get("ports", [])]


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_waits_for_a_healthy_database(services: dict[str, Any], name: str) -> None:
    depends_on = services[name].get("depends_on")
    assert isinstance(depends_on, dict), f"{name} must depend on db with a condition"
    assert depends_on.get("db", {}).get("condition") == "service_healthy"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_connects_to_the_compose_database(services: dict[str, Any], name: str) -> None:
    url = urlsplit(environment(services[name])["DATABASE_URL"])
    db = environment(services["db"])
    assert url.scheme in {"postgresql", "postgres"}
    assert url.hostname == "db"
    assert url.port in {None, 5432}
    assert url.path.lstrip("/") == db["POSTGRES_DB"]
    assert url.username == db["POSTGRES_USER"]
    assert url.password == db["POSTGRES_PASSWORD"]


@pytest.mark.parametrize("name", APP_SERVICES)
def test_token_secret_comes_from_the_environment_not_the_file(
    services: dict[str, Any], name: str
) -> None:
    secret = environment(services[name])["PERFLEDGER_JWT_SECRET"]
    assert re.fullmatch(r"\$\{PERFLEDGER_JWT_SECRET(:?[?-].*)?\}", secret), secret


@pytest.mark.parametrize("name", APP_SERVICES)
def test_cipher_key_is_required_from_the_environment(services: dict[str, Any], name: str) -> None:
    # Both processes read the event store: both need the key, and compose must refuse to start
    # without one (`:?`) rather than start either with an empty key.
    key = environment(services[name])["PERFLEDGER_CIPHER_KEY"]
    assert re.fullmatch(r"\$\{PERFLEDGER_CIPHER_KEY:\?.+\}", key), key


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_image_is_built_from_a_dockerfile_that_exists(
    services: dict[str, Any], name: str
) -> None:
    build = services[name].get("build")
    assert build is not None, f"{name} has no build section"
    if isinstance(build, str):
        build = {"context": build}
    context = (COMPOSE_FILE.parent / build.get("context", ".")).resolve()
    dockerfile = context / build.get("dockerfile", "Dockerfile")
    assert context.is_dir(), f"build context {context} does not exist"
    assert dockerfile.is_file(), f"Dockerfile {dockerfile} does not exist"
