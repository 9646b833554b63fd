"""FastAPI dependencies: session, settings, the caller, their access scope, the store.

They are `async def` and do no I/O on the event loop: FastAPI runs a plain `def` dependency
in the thread pool, and a hop there and back (queue, condition, loop wake-up) cost more than
the whole answer of a polled route served from memory (bench/results/api-round3.md). What
needs the registry or the store (a token not verified recently, opening the store, closing
a session that connected) goes to the thread pool explicitly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.core.config import ApiConfig
from api.core.problems import ProblemError
from api.core.registry_generation import BOOKKEEPING
from api.core.token_cache import TokenCache
from api.policy import Access, Principal, check_role
from jaylym.registry.broker import BrokerAccounts
from jaylym.registry.models import ApiToken
from jaylym.registry.tokens import hash_token
from jaylym.store.base import TimeSeriesStore

_bearer = HTTPBearer(auto_error=False, description="An API token: `Authorization: Bearer jly_…`")


async def get_config(request: Request) -> ApiConfig:
    config: ApiConfig = request.app.state.config
    return config


async def get_session(request: Request) -> AsyncIterator[Session]:
    """A session per request. It connects on first use only, so an answer from memory costs
    no connection; closing one that connected returns its connection (a rollback: I/O), so
    that is done in the thread pool, never on the event loop."""
    session: Session = request.app.state.sessions()
    try:
        yield session
    finally:
        if session.in_transaction():
            await run_in_threadpool(session.close)
        else:
            session.close()


ConfigDep = Annotated[ApiConfig, Depends(get_config)]
SessionDep = Annotated[Session, Depends(get_session)]


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _unauthorized(detail: str) -> ProblemError:
    return ProblemError(401, detail, headers={"WWW-Authenticate": "Bearer"})


async def get_principal(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """Every request's token is hashed and checked: against the verified tokens in memory
    (api/core/token_cache.py: dropped by any registry write, so a revocation applies to the
    next request), else against the registry, in the thread pool with a session of its own.
    No session or config dependency: FastAPI's resolution of each (the session's exit stack
    most) cost a polled answer served from memory more than the token check itself."""
    config: ApiConfig = request.app.state.config
    limiter = request.app.state.auth_limiter
    client = _client(request)
    wait = limiter.retry_after(client)
    if wait is not None:
        raise ProblemError(
            429, "too many failed authentications; try later", headers={"Retry-After": str(wait)}
        )
    if creds is None or creds.scheme.lower() != "bearer" or not creds.credentials:
        raise _unauthorized("an API token is required: Authorization: Bearer <token>")
    digest = hash_token(creds.credentials, config.token_pepper.get_secret_value())
    now = datetime.now(UTC)
    verified: TokenCache = request.app.state.token_cache
    principal = verified.get(digest, now)
    if principal is not None:
        return principal
    return await run_in_threadpool(_verify, request, digest, now, client)


def _verify(request: Request, digest: str, now: datetime, client: str) -> Principal:
    """The token looked up in the registry (blocking: run in the thread pool)."""
    with request.app.state.sessions() as session:
        return _verify_in(session, request, digest, now, client)


def _verify_in(
    session: Session, request: Request, digest: str, now: datetime, client: str
) -> Principal:
    limiter = request.app.state.auth_limiter
    verified: TokenCache = request.app.state.token_cache
    generation = verified.generation()  # read before the lookup (api/core/token_cache.py)
    token = session.scalars(select(ApiToken).where(ApiToken.token_hash == digest)).first()
    if (
        token is None
        or token.revoked_at is not None
        or (token.expires_at is not None and token.expires_at <= now)
    ):
        limiter.failed(client)
        raise _unauthorized("invalid, expired or revoked token")
    principal = Principal(  # before the commit below expires the row's attributes
        token_id=token.id,
        role=token.role,
        okrugs=frozenset(token.okrugs) if token.okrugs is not None else None,
        herder_id=token.herder_id,
    )
    expires_at = token.expires_at
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        # At most once a minute: no write per request. Bookkeeping: it does not move the
        # registry generation, so it drops no shared answer and no verified token.
        session.execute(
            update(ApiToken)
            .where(ApiToken.id == principal.token_id)
            .values(last_used_at=now)
            .execution_options(**{BOOKKEEPING: True}, synchronize_session=False)
        )
        session.commit()
    verified.put(digest, principal, expires_at, generation)
    return principal


CurrentUser = Annotated[Principal, Depends(get_principal)]


def authorize(resource: str) -> Callable[[Request, Principal], Awaitable[None]]:
    """Router-level dependency: the caller's role may read/write this resource."""

    async def check(request: Request, principal: CurrentUser) -> None:
        check_role(principal, resource, request.method)

    return check


async def get_access(principal: CurrentUser, session: SessionDep) -> Access:
    return Access(principal, session)


AccessDep = Annotated[Access, Depends(get_access)]


def _open_store(request: Request) -> TimeSeriesStore:
    """The app's store, opened on first use (blocking: run in the thread pool)."""
    store: TimeSeriesStore | None = request.app.state.store
    if store is None:
        factory = request.app.state.store_factory
        if factory is None:
            raise ProblemError(503, "no time-series store is configured")
        try:
            store = factory()
        except Exception as exc:
            raise ProblemError(503, f"time-series store unavailable: {exc}") from exc
        request.app.state.store = store
    return store


async def get_store(request: Request) -> TimeSeriesStore:
    store: TimeSeriesStore | None = request.app.state.store
    if store is not None:
        return store
    return await run_in_threadpool(_open_store, request)


StoreDep = Annotated[TimeSeriesStore, Depends(get_store)]


async def get_optional_store(request: Request) -> TimeSeriesStore | None:
    """For registry reads that merely decorate with `last_seen`: they answer without it."""
    try:
        return await get_store(request)
    except ProblemError:
        return None


OptionalStoreDep = Annotated[TimeSeriesStore | None, Depends(get_optional_store)]


async def get_broker(request: Request) -> BrokerAccounts:
    broker: BrokerAccounts = request.app.state.broker
    return broker


BrokerDep = Annotated[BrokerAccounts, Depends(get_broker)]
