"""What only the InfluxDB store does: HTTP, auth, gzip, retries, outages, server refusals."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator

import httpx
import pytest

from jaylym.services import InfluxD
from jaylym.store.base import Point, StoreError, StoreRejected, StoreUnavailable
from jaylym.store.influx import InfluxStore
from tests.jaylym.store.builders import T0, pos, soil
from tests.jaylym.store.conftest import influx_store
from tests.recording_http import Recorder, Reply, recording_server

pytestmark = pytest.mark.influx
MIN = 60_000


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    with recording_server() as rec:
        rec.default = Reply(204, b"")  # what influxd answers to a write
        yield rec


def _store(url: str, sleeps: Sleeps | None = None, **overrides: object) -> InfluxStore:
    store = influx_store(url, **overrides)
    if sleeps is not None:
        store._sleep = sleeps
    return store


def test_server_down_is_retryable_and_the_batch_survives(own_influxd: InfluxD) -> None:
    sleeps = Sleeps()
    store = _store(own_influxd.url, sleeps, retries=3, retry_backoff_s=0.1, timeout_s=2.0)
    store.write([pos(ts=T0 - MIN)])
    batch = [pos(ts=T0 + i * MIN, seq=i) for i in range(50)] + [soil(ts=T0)]
    before = copy.deepcopy(batch)

    own_influxd.stop()
    with pytest.raises(StoreUnavailable, match="unavailable after 4 attempts") as err:
        store.write(batch)

    assert err.value.retryable is True
    assert batch == before  # the caller still holds every reading
    assert len(sleeps) == 3
    assert all(0.05 <= s <= 0.1 for s in sleeps[:1])  # equal jitter: half fixed, half random
    assert sleeps[1] >= 0.1
    assert sleeps[2] >= 0.2
    own_influxd.start()
    store.write(batch)
    got = store.device_readings("c-001", T0 - MIN, T0 + 60 * MIN)
    assert len(got) == 51
    assert store.soil_readings(T0, T0 + 1) == {"s-001": [batch[-1]]}
    store.close()


def test_a_type_conflict_is_rejected_once_with_influxdb_message(influx: object) -> None:
    sleeps = Sleeps()
    store = _store(influx.url, sleeps)  # type: ignore[attr-defined]
    try:
        store.create_database()
        # Someone (an old version, a Telegraf) once wrote `seq` as an integer.
        httpx.post(
            f"{store.config.url}/write",
            params={"db": store.config.database, "precision": "ms"},
            content=f"position,device=c-001 seq=1i {T0 - MIN}",
        ).raise_for_status()

        with pytest.raises(StoreRejected) as err:
            store.write([pos(ts=T0)])

        assert err.value.retryable is False
        assert err.value.status == 400
        assert err.value.dropped == 1
        assert "field type conflict" in str(err.value)
        assert '"seq"' in str(err.value)  # InfluxDB's own words
        assert sleeps == []  # never retried
    finally:
        store.drop_database()
        store.close()


def test_the_database_is_created_when_missing(influx: object) -> None:
    store = _store(influx.url)  # type: ignore[attr-defined]
    try:
        store.write([pos(ts=T0)])
        names = httpx.get(f"{store.config.url}/query", params={"q": "SHOW DATABASES"}).json()
        assert [store.config.database] in names["results"][0]["series"][0]["values"]
    finally:
        store.drop_database()
        store.close()


def test_writes_into_the_configured_retention_policy(influx: object) -> None:
    store = _store(influx.url, retention_policy="season")  # type: ignore[attr-defined]
    default = InfluxStore(store.config.model_copy(update={"retention_policy": None}))
    try:
        store.create_database()
        httpx.post(
            f"{store.config.url}/query",
            data={
                "q": f'CREATE RETENTION POLICY "season" ON "{store.config.database}" '
                "DURATION 400d REPLICATION 1"
            },
        ).raise_for_status()
        reading = pos(ts=T0)
        store.write([reading])

        assert store.latest()["c-001"].reading == reading
        assert default.latest() == {}  # not in the database's default policy
    finally:
        store.drop_database()
        store.close()
        default.close()


def test_large_answers_arrive_whole_across_chunks(influx: object) -> None:
    store = _store(influx.url, batch_size=5000)  # type: ignore[attr-defined]
    try:
        fixes = [pos(f"c-{i % 3:03d}", ts=T0 + i * 1000, seq=i) for i in range(12_500)]
        store.write(fixes)
        got = store.positions(T0, T0 + 10**9)
        assert {d: len(v) for d, v in got.items()} == {"c-000": 4167, "c-001": 4167, "c-002": 4166}
        assert got["c-001"] == [f for f in fixes if f.device_id == "c-001"]
    finally:
        store.drop_database()
        store.close()


# -- against a recording HTTP server ---------------------------------------------------------


def test_token_auth_gzip_and_ms_precision_on_every_write(recorder: Recorder) -> None:
    store = _store(recorder.url, token="tok-123", batch_size=7, database="pilot")
    store.write([pos(ts=T0 + i, seq=i) for i in range(20)])

    writes = [r for r in recorder.requests if r.path == "/write"]
    assert len(writes) == 3  # 7 + 7 + 6 lines
    for request in writes:
        assert request.method == "POST"
        assert request.headers["authorization"] == "Token tok-123"
        assert request.headers["content-encoding"] == "gzip"
        assert request.query == {"db": ["pilot"], "precision": ["ms"]}
    lines = [ln for r in writes for ln in r.text.splitlines()]
    assert len(lines) == 20
    assert lines[0].startswith("position,device=c-001 ")
    assert lines[0].endswith(f" {T0}")
    assert "seq=0.0" in lines[0]
    assert "valid=1.0" in lines[0]
    assert 'qc=""' in lines[0]
    store.close()


def test_username_password_and_plain_bodies(recorder: Recorder) -> None:
    store = _store(recorder.url, username="jaylym", password="p@ss", gzip=False,
                   retention_policy="season")  # fmt: skip
    store.write_points([Point("pasture_state", {"pasture": "p-1"}, {"pressure": 1}, T0)])

    (request,) = recorder.requests
    auth = httpx.BasicAuth("jaylym", "p@ss")
    expected = next(auth.auth_flow(httpx.Request("GET", "http://x"))).headers["Authorization"]
    assert request.headers["authorization"] == expected
    assert "content-encoding" not in request.headers
    assert request.query["rp"] == ["season"]
    assert request.text == f"pasture_state,pasture=p-1 pressure=1.0 {T0}\n"
    store.close()


def test_5xx_and_429_are_retried_then_succeed(recorder: Recorder) -> None:
    sleeps = Sleeps()
    recorder.script = [
        Reply(503, '{"error":"overloaded"}'),
        Reply(429, '{"error":"slow down"}'),
        Reply(500, '{"error":"timeout"}'),
    ]
    store = _store(recorder.url, sleeps, retries=3, retry_backoff_s=1.0)
    store.write([pos(ts=T0)])

    assert len(recorder.requests) == 4
    assert len({r.body for r in recorder.requests}) == 1  # the same batch each time
    assert len(sleeps) == 3
    assert 0.5 <= sleeps[0] <= 1.0
    assert 1.0 <= sleeps[1] <= 2.0
    assert 2.0 <= sleeps[2] <= 4.0
    store.close()


def test_retries_are_bounded_then_unavailable(recorder: Recorder) -> None:
    sleeps = Sleeps()
    recorder.default = Reply(502, "<html>bad gateway</html>")
    store = _store(recorder.url, sleeps, retries=2)
    with pytest.raises(StoreUnavailable, match=r"after 3 attempts: HTTP 502"):
        store.write([pos(ts=T0)])
    assert len(recorder.requests) == 3
    store.close()


def test_a_slow_server_times_out_into_unavailable(recorder: Recorder) -> None:
    recorder.default = Reply(204, b"", delay_s=1.0)
    store = _store(recorder.url, Sleeps(), retries=1, timeout_s=0.2)
    with pytest.raises(StoreUnavailable, match="Timeout"):
        store.write([pos(ts=T0)])
    assert len(recorder.requests) == 2
    store.close()


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, '{"error":"partial write: field type conflict: input field \\"lat\\" dropped=2"}'),
        (401, '{"error":"authorization failed"}'),
        (413, '{"error":"Request Entity Too Large"}'),
    ],
)
def test_4xx_is_rejected_at_once_with_the_message(
    recorder: Recorder, status: int, body: str
) -> None:
    sleeps = Sleeps()
    recorder.default = Reply(status, body)
    store = _store(recorder.url, sleeps)
    with pytest.raises(StoreRejected, match=f"HTTP {status}") as err:
        store.write([pos(ts=T0)])
    assert json.loads(body)["error"] in str(err.value)
    assert err.value.status == status
    assert len(recorder.requests) == 1
    assert sleeps == []
    store.close()


def test_queries_bind_every_value(recorder: Recorder) -> None:
    recorder.default = Reply(200, '{"results":[{"statement_id":0},{"statement_id":1}]}')
    store = _store(recorder.url)
    store.device_readings("c-001", T0, T0 + MIN)
    recorder.default = Reply(200, '{"results":[{"statement_id":0}]}')
    store.query_points("pasture_state", T0, T0 + MIN, {"pasture": "p' OR 1=1; DROP"})

    first, second = recorder.requests
    assert first.query["epoch"] == ["ms"]
    assert "c-001" not in first.query["q"][0]
    assert json.loads(first.query["params"][0]) == {
        "p0": "c-001", "p1": T0 * 1_000_000, "p2": (T0 + MIN) * 1_000_000
    }  # fmt: skip
    assert "DROP" not in second.query["q"][0]
    assert "p' OR 1=1; DROP" in json.loads(second.query["params"][0]).values()
    with pytest.raises(ValueError, match="not a measurement"):
        store.query_points('m" FROM x; DROP DATABASE "y', T0, T0 + 1)
    with pytest.raises(ValueError, match="not an identifier"):
        store.query_points("m", T0, T0 + 1, {'k" = 1 OR "x': "v"})
    assert len(recorder.requests) == 2  # refused before anything was sent
    store.close()


def test_a_missing_bucket_that_cannot_be_created_says_both(recorder: Recorder) -> None:
    recorder.script = [
        Reply(404, '{"error":"database not found: \\"pilot\\""}'),
        Reply(403, '{"error":"CREATE DATABASE is not supported"}'),
    ]
    store = _store(recorder.url, database="pilot")
    with pytest.raises(StoreRejected, match=r"database not found.*creating it failed") as err:
        store.write([pos(ts=T0)])
    assert not err.value.retryable
    assert [r.path for r in recorder.requests] == ["/write", "/query"]
    assert recorder.requests[1].method == "POST"
    store.close()


def _series(rows: list[list[object]], *, partial: bool = False) -> str:
    series = {"name": "position", "tags": {"device": "c-001"},
              "columns": ["time", "lat", "lon", "seq", "qc"], "values": rows}  # fmt: skip
    result: dict[str, object] = {"statement_id": 0, "series": [series]}
    if partial:
        result["partial"] = True
    return json.dumps({"results": [result]})


def test_chunks_of_one_series_are_merged(recorder: Recorder) -> None:
    chunks = [
        _series([[T0, 43.0, 77.0, 1, ""]], partial=True),
        _series([[T0 + 1, 43.1, 77.1, 2, "hdop"]]),
    ]
    recorder.default = Reply(200, "\n".join(chunks) + "\n")
    store = _store(recorder.url)
    got = store.positions(T0, T0 + 10)
    assert [(r.ts_ms, r.seq, r.flags) for r in got["c-001"]] == [
        (T0, 1, frozenset()), (T0 + 1, 2, frozenset({"hdop"}))
    ]  # fmt: skip
    assert recorder.requests[0].query["chunked"] == ["true"]
    store.close()


def test_a_truncated_answer_is_an_error_not_a_short_list(recorder: Recorder) -> None:
    recorder.default = Reply(200, _series([[T0, 43.0, 77.0, 1, ""]], partial=True))
    store = _store(recorder.url)
    with pytest.raises(StoreError, match="truncated"):
        store.positions(T0, T0 + 10)
    store.close()


def test_batches_go_in_order_and_the_first_failure_stops_the_rest(recorder: Recorder) -> None:
    batch = [pos(ts=T0 + i, seq=i) for i in range(23)]
    store = _store(recorder.url, batch_size=5, gzip=False)
    store.write(batch)
    sent = [ln for r in recorder.requests for ln in r.text.splitlines()]
    assert [int(ln.rsplit(" ", 1)[1]) - T0 for ln in sent] == list(range(23))
    assert [len(r.text.splitlines()) for r in recorder.requests] == [5, 5, 5, 5, 3]

    recorder.requests.clear()
    recorder.script = [Reply(204, b""), Reply(400, '{"error":"partial write: dropped=1"}')]
    with pytest.raises(StoreRejected, match="dropped=1"):
        store.write(batch)
    assert len(recorder.requests) == 2  # batches 3 to 5 were never sent
    store.close()
