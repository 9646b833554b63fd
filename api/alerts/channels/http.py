"""What the HTTP channels share: one client, exceptions and status codes as outcomes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from api.alerts.channels import Outcome

RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


def make_client(timeout_s: float) -> httpx.Client:
    # No redirects: a gateway that redirects a signed POST is misconfigured, not helpful.
    return httpx.Client(timeout=httpx.Timeout(timeout_s), follow_redirects=False)


def retry_after_header(response: httpx.Response, now: Callable[[], datetime]) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP-date (RFC 9110 10.2.3)."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now()).total_seconds())


def request(
    client: httpx.Client, method: str, url: str, **kwargs: object
) -> httpx.Response | Outcome:
    """The response, or the outcome of a transport failure (always worth another try)."""
    try:
        return client.request(method, url, **kwargs)  # type: ignore[arg-type]
    except httpx.TimeoutException as exc:
        return Outcome.retry(f"timeout: {type(exc).__name__}")
    except httpx.TransportError as exc:
        return Outcome.retry(f"transport: {type(exc).__name__}: {exc}")


def by_status(response: httpx.Response) -> Outcome | None:
    """The outcome a non-2xx status decides on its own; None for 2xx (the body decides)."""
    code = response.status_code
    if 200 <= code < 300:
        return None
    detail = f"HTTP {code}: {response.text[:200]}"
    if code in RETRY_STATUSES:
        return Outcome.retry(detail, code, retry_after_header(response, lambda: datetime.now(UTC)))
    return Outcome.failed(detail, code)
