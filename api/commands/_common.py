"""What the registry commands share: an admin session, output, and error reporting.

Imports of FastAPI, SQLAlchemy and pydantic models stay inside the functions, so that
`jaylym --help` does not load them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import typer

if TYPE_CHECKING:
    from api.core.config import ApiConfig
    from api.policy import Access
    from jaylym.registry.broker import BrokerAccounts

T = TypeVar("T")
JsonOption = typer.Option(False, "--json", help="Machine-readable JSON output.")


def config() -> ApiConfig:
    from api.core.config import ApiConfig
    from jaylym.settings import get_settings

    return ApiConfig.from_settings(get_settings())


def broker(cfg: ApiConfig) -> BrokerAccounts:
    from jaylym.registry.broker import broker_accounts

    return broker_accounts(cfg.mqtt_passwd_file, cfg.mqtt_reload_pid_file)


@contextmanager
def admin_access(cfg: ApiConfig) -> Iterator[Access]:
    from api.policy import Access, Principal
    from jaylym.registry.db import make_engine, session_factory

    engine = make_engine(cfg.database_url)
    try:
        with session_factory(engine)() as session:
            yield Access(Principal(token_id=0, role="admin"), session)
    finally:
        engine.dispose()


def emit(result: Any, as_json: bool, human: Callable[[Any], str]) -> None:
    if as_json:
        data = result.model_dump(mode="json") if hasattr(result, "model_dump") else result
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        typer.echo(human(result))


def build(model: type[T], values: dict[str, Any]) -> T:
    """Validate command-line values with the API's own schema."""
    from pydantic import ValidationError

    try:
        return model.model_validate(values)  # type: ignore[attr-defined, no-any-return]
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "input"
            print(f"jaylym: {where}: {err['msg']}", file=sys.stderr)
        raise typer.Exit(1) from None


@contextmanager
def reported() -> Iterator[None]:
    """A ProblemError becomes one line per problem on stderr and exit code 1."""
    from api.core.problems import ProblemError

    try:
        yield
    except ProblemError as exc:
        print(f"jaylym: {exc.detail}", file=sys.stderr)
        for err in exc.errors or []:
            print(f"  {err.field}: {err.message}", file=sys.stderr)
        raise typer.Exit(1) from None
