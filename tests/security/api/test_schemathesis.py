"""Property-based run of the OpenAPI document against the app: no 5xx, no undocumented
status code or content type, responses match their schemas. Bounded in examples per
operation so it stays fast; one test per operation, each on a freshly seeded registry."""

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

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Examples per operation: admins reach every branch; a coordinator of one okrug adds the
# 403 and hidden-object 404 answers, which must be documented too.
MAX_EXAMPLES = {"admin": 10, "coordinator": 3}


def operations() -> list[tuple[str, str]]:
    """Every operation of the document, read from an app that is never served."""
    app = create_app(ApiConfig(database_url="sqlite://", livestock_units=LU))
    return [
        (method.upper(), path) for path, ops in app.openapi()["paths"].items() for method in ops
    ]


@pytest.fixture
def fuzzed(tmp_path: Path) -> Iterator[Api]:
    store = SqliteStore(tmp_path / "tsdb.sqlite3")
    seed_readings(store)
    api = make_api(f"sqlite:///{tmp_path / 'api.db'}", tmp_path, store=store)
    yield api
    api.client.close()
    api.app.state.engine.dispose()
    store.close()


@pytest.mark.parametrize("role", list(MAX_EXAMPLES))
@pytest.mark.parametrize(("method", "path"), operations(), ids=lambda v: str(v))
def test_openapi_contract(fuzzed: Api, method: str, path: str, role: str) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzzed.app)
    operation = schema[path][method]
    headers = fuzzed.as_(role)

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
        case.validate_response(response, checks=CHECKS)

    run()
