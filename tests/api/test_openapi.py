"""The OpenAPI document is complete: every schema has an example, every operation a
summary, errors are problem documents, and every route but /healthz needs a token."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api


def test_every_schema_has_an_example(sqlite_api: Api) -> None:
    schemas = sqlite_api.app.openapi()["components"]["schemas"]
    missing = [n for n, s in schemas.items() if not (s.get("examples") or "example" in s)]
    assert missing == []
    assert len(schemas) > 30


def test_examples_validate_against_request_models(sqlite_api: Api) -> None:
    from api.schemas import devices, herders, herds, okrugs, pastures, plans, tokens

    models: list[Any] = [
        okrugs.OkrugCreate,
        okrugs.OkrugUpdate,
        pastures.PastureCreate,
        pastures.PastureUpdate,
        pastures.PastureImport,
        plans.PlanEntryCreate,
        plans.PlanEntryUpdate,
        herds.HerdCreate,
        herds.HerdUpdate,
        herders.HerderCreate,
        herders.HerderUpdate,
        devices.DeviceCreate,
        devices.DeviceUpdate,
        tokens.TokenCreate,
    ]
    for model in models:
        for example in model.model_config["json_schema_extra"]["examples"]:
            model.model_validate(example)  # raises if an example is wrong


def test_operations_are_documented_and_secured(sqlite_api: Api) -> None:
    doc = sqlite_api.app.openapi()
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            where = f"{method} {path}"
            assert op.get("summary"), where
            if path == "/healthz":
                continue
            assert op.get("security") == [{"HTTPBearer": []}], where
            for code in ("401", "403", "404", "422", "429"):
                content = op["responses"][code]["content"]
                assert list(content) == ["application/problem+json"], where
