"""Property-based run of the OpenAPI document against the app with every role's token: no
5xx, no undocumented status code or content type, responses match their schemas, and no
response to an okrug-A token (coordinator, viewer or herder of A) mentions okrug B.

Bounded and reproducible: a fixed number of examples per operation and role, derandomized,
one schema and one seeded app per role set for the whole module (fuzzed writes by okrug-A
tokens cannot reach B's rows, so B's markers stay in place for every later example)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.core.config import ApiConfig
from api.main import create_app
from jaylym.store.sqlite import SqliteStore
from tests.api.conftest import LU, Api, make_api, seed_readings
from tests.security.api.tenants import leaked, mark_tenant_b

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Examples per operation: admins reach every branch; the scoped roles add the 403 and
# hidden-object 404 answers (which must be documented too) and the leak check.
MAX_EXAMPLES = {"admin": 10, "coordinator": 8, "viewer": 5, "herder": 8}
TENANT_A_ROLES = {"coordinator", "viewer", "herder"}


def _document() -> dict[str, Any]:
    """The document of an app that is never served."""
    return create_app(ApiConfig(database_url="sqlite://", livestock_units=LU)).openapi()


DOCUMENT = _document()
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)


def operations() -> list[tuple[str, str]]:
    return [(method.upper(), path) for path, ops in DOCUMENT["paths"].items() for method in ops]


def _seeded(tmp: Path) -> Iterator[Api]:
    store = SqliteStore(tmp / "tsdb.sqlite3")
    seed_readings(store)
    api = make_api(f"sqlite:///{tmp / 'api.db'}", tmp, store=store, auth_fail_limit=10_000)
    mark_tenant_b(api)
    yield api
    api.client.close()
    api.app.state.engine.dispose()
    store.close()


@pytest.fixture(scope="module")
def admin_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """The admin may delete anything: a registry of its own."""
    yield from _seeded(tmp_path_factory.mktemp("fuzz-admin"))


@pytest.fixture(scope="module")
def tenant_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """Shared by the okrug-A roles, whose writes stay inside okrug A."""
    yield from _seeded(tmp_path_factory.mktemp("fuzz-tenant"))


@pytest.mark.parametrize("role", list(MAX_EXAMPLES))
@pytest.mark.parametrize(("method", "path"), operations(), ids=lambda v: str(v))
def test_openapi_contract(
    request: pytest.FixtureRequest, method: str, path: str, role: str
) -> None:
    fuzzed: Api = request.getfixturevalue("admin_api" if role == "admin" else "tenant_api")
    operation = SCHEMA[path][method]
    headers = fuzzed.as_(role)
    seen: list[int] = []

    @given(case=operation.as_strategy())
    @settings(
        max_examples=MAX_EXAMPLES[role],
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,  # the same examples every run: a CI failure reproduces locally
        database=None,
    )
    def run(case: Any) -> None:
        # Sent through our own TestClient: schemathesis' requests transport trips over the
        # urllib3-future package another dependency installs.
        kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
        kwargs.pop("cookies", None)
        response = fuzzed.client.request(**kwargs)
        seen.append(response.status_code)
        case.validate_response(response, checks=CHECKS)
        if role in TENANT_A_ROLES:
            sent = [str(response.request.url), repr(kwargs.get("json")), repr(kwargs)]
            found = leaked(response.text, sent)
            assert not found, f"{role} {method} {path} shows okrug B ({found}): {response.text}"

    run()
    assert seen, "no example was sent"
