"""Reading what an HTTP answer says about retrying."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from api.alerts.channels.http import by_status, retry_after_header

NOW = datetime(2026, 6, 12, 9, 5, 0, tzinfo=UTC)


def answer(status: int, **headers: str) -> httpx.Response:
    return httpx.Response(status, headers=headers, text="{}")


def test_retry_after_seconds_and_http_date() -> None:
    assert retry_after_header(answer(429, **{"Retry-After": "120"}), lambda: NOW) == 120
    dated = answer(503, **{"Retry-After": "Fri, 12 Jun 2026 09:06:30 GMT"})
    assert retry_after_header(dated, lambda: NOW) == 90
    past = answer(503, **{"Retry-After": "Fri, 12 Jun 2026 09:00:00 GMT"})
    assert retry_after_header(past, lambda: NOW) == 0
    assert retry_after_header(answer(503, **{"Retry-After": "soon"}), lambda: NOW) is None
    assert retry_after_header(answer(503), lambda: NOW) is None


def test_status_classes() -> None:
    assert by_status(answer(200)) is None
    assert by_status(answer(204)) is None
    for code in (408, 425, 429, 500, 502, 503, 504):
        outcome = by_status(answer(code))
        assert outcome is not None
        assert outcome.status == "retry", code
    for code in (301, 400, 401, 403, 404, 410, 422):
        outcome = by_status(answer(code))
        assert outcome is not None
        assert outcome.status == "failed", code
