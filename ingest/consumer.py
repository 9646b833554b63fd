"""The consumer loop: batches of messages made durable, then acknowledged.

The rule that makes `kill -9` safe: a message is PUBACKed only after everything it carries is
durable, its readings in the store or fsync'd in the spool, its refusals in the ledger. Until
then the broker keeps it (persistent session) and redelivers it to the next process.

Batches close on count (`batch_max`, kept within the broker's in-flight window: the broker
sends no more than that many unacknowledged messages) and on time (`flush_interval_s`), so a
trickle is never stuck waiting for a full batch. A batch is decoded part by part while it
fills (`_collect`), not after.

With `overlap_commit` (off by default), two batches overlap: while batch N is made durable on
the commit thread (the HTTP write and the SQLite commit wait with the GIL released), this
thread decodes and validates batch N+1.
The order of the durable steps does not change: N+1 is committed only after N, each batch is
acknowledged only after its own commit, and the duplicate check of N+1 sees N's keys (kept
in `_pending` until N's commit has put them in the repeat window). Everything else that
touches the store, the spool or the ledger (spool replay, stats, retries) first waits for the
batch in flight (`_settle`), so only one thread ever writes at a time. Two batches in flight
need a broker window of 2 x `batch_max` (Mosquitto's `max_inflight_messages`, and the MQTT 5
receive maximum the ingest then asks for). Off by default: with the broker, InfluxDB and the
load on the same two busy cores, the bench measured more CPU per message with it and no
steady gain in rate (bench/results/ingest-round2.md): no core is free to run the overlap,
and the consumer wakes for nearly every message while the next batch trickles in. It is for
a store and a registry on other hosts, where the write is mostly waiting on the network.
"""

from __future__ import annotations

import errno
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog

from ingest.decoders import decode
from ingest.decoders.base import Decoded
from ingest.dedup import Observation, RepeatWindow
from ingest.directory import DirectoryUnavailable
from ingest.fastlane import native_collar
from ingest.inbox import Inbox
from ingest.ledger import DeadLetter, Ledger
from ingest.metrics import IngestMetrics, observe_many
from ingest.mqtt import Inbound, Transport
from ingest.quality import PositionFlagger, SoilFlagger
from ingest.reasons import Reason, Rejected
from ingest.spool import Spool, SpoolFull, reading_to_json
from ingest.stats_points import StatsExporter
from ingest.validate import Item, TimeLimits, build_items, resolve_device
from jaylym.models import DeviceDirectory, DeviceInfo, PositionReading, Reading
from jaylym.settings import IngestConfig
from jaylym.store.base import StoreRejected, TimeSeriesStore

log = structlog.get_logger("jaylym.ingest")

# A message's verdict: its decoded form (or, from the fast lane, its item) and device, or why not.
Verdict = tuple[Decoded | Item, DeviceInfo] | Rejected

DLQ_TOPIC = "pasture/v1/_dlq/{reason}"
DECODER_ERROR = "decoder_error"  # a bug of ours, not of the input: kept in the DLQ to replay
REPLAY_CHUNK = 5000
RETRY_MIN_S, RETRY_MAX_S = 0.5, 10.0
STORE_PROBE_S = 1.0  # how often a down store is asked again


@dataclass
class Prepared:
    """A batch decoded, validated and flagged; what remains is to make it durable."""

    messages: list[Inbound]
    items: list[Item] = field(default_factory=list)
    keys: list[tuple[str, int, int]] = field(default_factory=list)  # items' repeat keys, in order
    dead: list[DeadLetter] = field(default_factory=list)
    observed: dict[str, Observation] = field(default_factory=dict)
    devices: dict[str, DeviceInfo] = field(default_factory=dict)  # tags of the stats points
    readings_done: bool = False

    @property
    def readings(self) -> list[Reading]:
        return [r for item in self.items for r in item.readings]


@dataclass
class Early:
    """A batch's verdicts, decoded while it filled (`Consumer._collect`)."""

    verdicts: list[Verdict] = field(default_factory=list)
    now_ms: int | None = None  # set with the first part
    failed: bool = False  # the registry was unreachable: decoded again in `_handle`

    def result(self, size: int) -> tuple[int, list[Verdict]] | None:
        """The batch's "now" and verdicts when all `size` messages were decoded."""
        if self.failed or self.now_ms is None or len(self.verdicts) != size:
            return None
        return self.now_ms, self.verdicts


class Consumer:
    def __init__(
        self,
        cfg: IngestConfig,
        store: TimeSeriesStore,
        directory: DeviceDirectory,
        ledger: Ledger,
        spool: Spool,
        metrics: IngestMetrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cfg = cfg
        self.store = store
        self.directory = directory
        self.ledger = ledger
        self.spool = spool
        self.metrics = metrics
        self.clock = clock
        self.transport: Transport | None = None
        self.inbox: Inbox[Inbound] = Inbox()
        # Taken from the inbox, and acknowledged: one counter per thread (no shared +=).
        self._taken = 0
        self._acked = 0
        self.limits = TimeLimits(cfg.max_future_s * 1000, cfg.max_age_days * 86_400_000)
        self.window = RepeatWindow(cfg.dedup_window)
        self.positions = PositionFlagger(cfg.max_hdop, cfg.max_speed_kmh)
        self.soil = SoilFlagger(cfg.soil_saturation_pct, cfg.flatline_h)
        self._held: list[Prepared] = []  # durable step failed: retried in order, not acked
        self._in_flight: Future[bool] | None = None  # the batch on the commit thread
        self._in_flight_batch: Prepared | None = None
        self._pending: set[tuple[str, int, int]] = set()  # keys prepared, not committed yet
        self._committer: ThreadPoolExecutor | None = None  # started on first use
        self._undecoded: list[Inbound] = []  # registry down: decoded again later
        self._store_retry_at = 0.0
        self._retry_s = RETRY_MIN_S
        self._spool_full_logged = False
        self.store_up = True
        self.stats = StatsExporter(cfg.client_id, cfg.stats_interval_s, clock=clock)
        metrics.spool_bytes.set(spool.depth_bytes)
        # Read when scraped: a gauge moved per message would cost a lock on the network thread.
        metrics.pending.set_function(lambda: self.inbox.qsize() + self._taken - self._acked)

    # --- wiring --------------------------------------------------------------------------
    def offer(self, message: Inbound) -> None:
        """Called from the MQTT network thread: keep it cheap."""
        self.inbox.put(message)

    def offer_many(self, messages: list[Inbound]) -> None:
        """Several that arrived in one read (network thread): one hand-over."""
        self.inbox.put_many(messages)

    def seed(self) -> None:
        """Prime the speed and flat-line checks with each device's latest stored reading."""
        try:
            for latest in self.store.latest().values():
                if isinstance(latest.reading, PositionReading):
                    self.positions.seed(latest.reading)
                else:
                    self.soil.seed(latest.reading)
        except Exception as exc:  # a cold start must not depend on the store being up
            log.warning("could not seed quality checks from the store", error=str(exc))

    @property
    def holding(self) -> bool:
        """True while acknowledgements are held (spool full or ledger down)."""
        return bool(self._held) or bool(self._undecoded)

    # --- the loop ------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                self.step(stop)
            self._settle()
            self.flush_stats()  # the last interval's counts, on a clean stop
        finally:
            self.close()

    def close(self) -> None:
        """Wait for the batch in flight (its commit is bounded by the store's and the
        ledger's own timeouts), then stop the commit thread."""
        try:
            self._settle()
        finally:
            if self._committer is not None:
                self._committer.shutdown(wait=True)

    def flush_stats(self) -> None:
        """`device_stats` and `dlq` increments into the store (docs/storage-dashboards.md).
        Skipped while the store is down (they stay pending); a kill loses at most one
        interval of these increments, never the registry's totals or a reading."""
        if not self._store_answers():
            return
        try:
            self.stats.flush(self.store)  # a refusal is logged and dropped in there
        except Exception as exc:  # kept pending; the readings' path now pings before writing
            self._store_down(exc)

    def step(self, stop: threading.Event | None = None) -> None:
        if self._in_flight is not None and self._in_flight.done():
            self._settle()  # a failure there is held before anything else happens
        if self._held or self._undecoded:
            if not self._retry_blocked():
                self._pause(stop)
            self._replay()
            return
        batch, early = self._collect()
        if batch:
            self._handle(batch, early)
        else:
            self._settle()
        self._overlap_wait()
        if not self.spool.empty:
            self._settle()
            self._replay()
        if self.stats.due():
            self._settle()
            self.flush_stats()

    def _overlap_wait(self) -> None:
        """Return when there is new input to decode beside the batch in flight, or once that
        batch is settled: with nothing to overlap, a step ends with its batch done (so a
        trickle is acknowledged at once, and `holding` is exact after a step)."""
        while self._in_flight is not None:
            if self._in_flight.done():
                self._settle()
                return
            if not self.inbox.empty():
                return
            # Woken by a message or by the commit's end (done callback); bounded anyway.
            self.inbox.doze(lambda: self._in_flight is None or self._in_flight.done(), 1.0)

    def _launch(self, prepared: Prepared) -> None:
        """Commit `prepared`: on the commit thread with `overlap_commit`, else here and now
        (the previous batch is settled either way)."""
        assert self._in_flight is None
        if not self.cfg.overlap_commit:
            if not self._commit(prepared):
                self._held.append(prepared)
            return
        if self._committer is None:
            self._committer = ThreadPoolExecutor(1, thread_name_prefix="ingest-commit")
        self._in_flight_batch = prepared
        self._in_flight = self._committer.submit(self._commit, prepared)
        self._in_flight.add_done_callback(lambda _f: self.inbox.wake())

    def _settle(self) -> None:
        """Wait for the batch in flight; a failed commit is held (retried, in order)."""
        future, prepared = self._in_flight, self._in_flight_batch
        if future is None or prepared is None:
            return
        try:
            done = future.result()  # a bug in there is raised here, as before the overlap
        finally:
            self._in_flight = self._in_flight_batch = None
        if not done:
            self._held.append(prepared)

    def _pause(self, stop: threading.Event | None) -> None:
        delay = self._retry_s
        self._retry_s = min(RETRY_MAX_S, self._retry_s * 2)
        if stop is not None:
            stop.wait(delay)
        else:
            time.sleep(delay)

    def _collect(self) -> tuple[list[Inbound], Early]:
        """The next batch, decoded as it arrives: while the broker is still sending the rest
        of the batch this thread would otherwise only wait, so the decoding is done by the
        time the batch closes (bench/results/ingest-round5.md)."""
        interval = self.cfg.flush_interval_s
        early = Early()

        def decode(part: list[Inbound]) -> None:
            if early.failed:
                return
            if early.now_ms is None:
                early.now_ms = round(self.clock() * 1000)  # one "now" for the whole batch
            now_ms = early.now_ms
            try:
                early.verdicts.extend([self._decode(msg, now_ms) for msg in part])
            except DirectoryUnavailable:
                early.failed = True  # `_handle` decodes the batch again, and holds it

        batch = self.inbox.take(self.cfg.batch_max, interval, interval, decode)
        self._taken += len(batch)
        return batch, early

    def _handle(self, batch: list[Inbound], early: Early | None = None) -> None:
        done = early.result(len(batch)) if early is not None else None
        if done is not None:
            now_ms, decoded = done
        else:
            now_ms = round(self.clock() * 1000)  # one "now" for every time check of the batch
            try:
                decoded = [self._decode(msg, now_ms) for msg in batch]
            except DirectoryUnavailable as exc:
                log.warning("registry unavailable, holding batch", error=str(exc),
                            size=len(batch))  # fmt: skip
                self._undecoded = batch
                return
        prepared = self._prepare(batch, decoded, now_ms)
        self._settle()  # batch N before N+1: the ledger sees every device's seqs in order
        if self._held:
            self._held.append(prepared)
        else:
            self._launch(prepared)

    def _retry_blocked(self) -> bool:
        """Commit the held batches in order, then decode the batch the registry refused."""
        self._settle()
        while self._held:
            if not self._commit(self._held[0]):
                return False
            self._held.pop(0)
        if self._undecoded:
            batch, self._undecoded = self._undecoded, []
            self._handle(batch)
            self._settle()
            return not self._undecoded and not self._held
        return True

    # --- decoding and validation ---------------------------------------------------------
    def _decode(self, msg: Inbound, now_ms: int) -> Verdict:
        """Decoder and registry verdict for one message; the registry being down raises.
        The common message takes the short way to its item (ingest/fastlane.py)."""
        try:
            fast = native_collar(msg.topic, msg.payload, self.directory, now_ms, self.limits,
                                 self.cfg.max_payload_bytes)  # fmt: skip
        except DirectoryUnavailable:
            raise
        except Exception:  # a bug there must not cost the message: the general path decides
            log.exception("fast lane error", topic=msg.topic)
            fast = None
        if fast is not None:
            return fast
        try:
            if len(msg.payload) > self.cfg.max_payload_bytes:
                raise Rejected(Reason.TOO_LARGE, f"{len(msg.payload)} bytes")
            decoded = decode(msg.topic, msg.payload)
            return decoded, resolve_device(decoded, self.directory)
        except Rejected as exc:
            return exc
        except DirectoryUnavailable:
            raise
        except Exception as exc:  # never crash on input: a decoder bug dead-letters the message
            log.exception("decoder error", topic=msg.topic)
            return Rejected(Reason.BAD_SCHEMA, f"{DECODER_ERROR}: {type(exc).__name__}: {exc}")

    def _prepare(self, batch: list[Inbound], decoded: list[Verdict], now_ms: int) -> Prepared:
        prepared = Prepared(messages=batch)
        in_batch: set[tuple[str, int, int]] = set()
        sources: Counter[str] = Counter()
        # Bound once: this loop runs for every message.
        window, pending, observed = self.window.keys, self._pending, prepared.observed
        keys, items_out, flag, devices = prepared.keys, prepared.items, self._flag, prepared.devices
        fast = 0  # the fast lane's messages, added to `sources` once
        for msg, verdict in zip(batch, decoded, strict=True):
            if isinstance(verdict, Rejected):
                sources[_source(msg.topic)] += 1
                prepared.dead.append(self._dead(msg, verdict))
                continue
            message, device = verdict
            devices[device.device_id] = device
            if type(message) is Item:  # the fast lane's: nothing refused
                fast += 1
                items = [message]
            else:
                assert isinstance(message, Decoded)
                sources[message.source] += 1
                try:
                    items, refused = build_items(message, device, now_ms, self.limits)
                except Exception as exc:  # never crash on input (see _decode)
                    log.exception("validation error", topic=msg.topic)
                    detail = f"{DECODER_ERROR}: {type(exc).__name__}: {exc}"
                    prepared.dead.append(self._dead(msg, Rejected(Reason.BAD_SCHEMA, detail)))
                    continue
                if refused:
                    prepared.dead.extend(self._dead(msg, r) for r in refused)
            for item in items:
                obs = observed.get(item.device_id)
                if obs is None:
                    obs = observed[item.device_id] = Observation([])
                # Exact-repeat identity. `ts` is part of it because a LoRaWAN frame counter
                # restarts at 0 after a re-join, and a restarted counter is new data.
                key = (item.device_id, item.seq, item.ts_ms)
                if key in window or key in in_batch or key in pending:
                    obs.duplicates += 1
                    self.metrics.duplicates.inc()
                    continue
                in_batch.add(key)
                keys.append(key)
                obs.seqs.append(item.seq)
                items_out.append(flag(item))
        if fast:
            sources["native"] += fast
        for source, n in sources.items():  # per batch: labels() costs more than the count
            self.metrics.received.labels(source=source).inc(n)
        self._pending.update(in_batch)
        return prepared

    def _flag(self, item: Item) -> Item:
        """The item with its quality flags (the same object when none applies: the usual)."""
        flagged: tuple[Reading, ...]
        if len(item.readings) == 1 and isinstance(item.readings[0], PositionReading):
            fix = item.readings[0]  # a collar fix, nearly every message: the short way
            checked = self.positions.flag(fix)
            if checked is fix:
                return item
            flagged = (checked,)
        else:
            flagged = tuple(
                self.positions.flag(r) if isinstance(r, PositionReading) else self.soil.flag(r)
                for r in item.readings
            )
        changed = False
        for before, reading in zip(item.readings, flagged, strict=True):
            if reading is not before:
                changed = True
                for flag in reading.flags - before.flags:
                    self.metrics.flagged.labels(flag=flag).inc()
        return Item(item.device_id, item.seq, item.ts_ms, flagged) if changed else item

    def _dead(self, msg: Inbound, rejected: Rejected) -> DeadLetter:
        self.metrics.rejected.labels(reason=rejected.reason.value).inc()
        log.info("rejected", reason=rejected.reason.value, topic=msg.topic[:200],
                 detail=rejected.detail)  # fmt: skip
        return DeadLetter.of(
            datetime.fromtimestamp(msg.received_at, UTC),
            msg.topic,
            rejected.reason.value,
            rejected.detail,
            msg.payload,
        )

    # --- making it durable ---------------------------------------------------------------
    def _commit(self, prepared: Prepared) -> bool:
        """Readings, then ledger, then PUBACKs. False when a durable step must be retried."""
        if not prepared.readings_done:
            if not self._persist(prepared):
                return False
            prepared.readings_done = True
        try:
            deltas = self.ledger.record(prepared.dead, prepared.observed)
        except Exception as exc:
            log.warning("ledger write failed, holding acks", error=str(exc))
            return False
        self.stats.add(deltas, prepared.devices, prepared.dead)
        self._publish_dead(prepared.dead)
        now = self.clock()
        keys = prepared.keys
        self.window.add_many(keys)
        self._pending.difference_update(keys)  # after: a key is always in one of the two
        observe_many(
            self.metrics.lag, [max(0.0, now - item.ts_ms / 1000) for item in prepared.items]
        )
        self._ack(prepared.messages)
        self._retry_s = RETRY_MIN_S
        return True

    def _persist(self, prepared: Prepared) -> bool:
        readings = prepared.readings
        if not readings:
            return True
        if time.monotonic() >= self._store_retry_at and self._store_answers():
            try:
                self._write_store(readings)
                return True
            except StoreRejected as exc:
                readings = self._isolate_rejected(prepared, exc)
                if not readings:
                    return True
            except Exception as exc:  # StoreUnavailable, or a driver error it did not wrap
                self._store_down(exc)
        try:
            self.spool.append(readings)
        except SpoolFull as exc:
            self._spool_refused("size_bound", str(exc))
            return False
        except OSError as exc:  # ENOSPC, EDQUOT, EIO: nothing of the batch is kept
            self._spool_refused(_errno_name(exc), str(exc))
            return False
        self.metrics.spooled.inc(len(readings))
        self.metrics.spool_bytes.set(self.spool.depth_bytes)
        if self._spool_full_logged:
            log.warning("spool has room again: acknowledging")
            self._spool_full_logged = False
            self.metrics.spool_full.set(0)
        return True

    def _spool_refused(self, error: str, detail: str) -> None:
        """The spool could not take a batch: the batch is held unacknowledged (the broker
        keeps it and the backlog) and retried with back-off. Every refusal is counted; the
        log says it once per episode, not at every retry."""
        self.metrics.spool_errors.labels(error=error).inc()
        self.metrics.spool_full.set(1)
        if not self._spool_full_logged:
            log.error("spool full: holding acknowledgements, the broker keeps the backlog",
                      error=error, detail=detail)  # fmt: skip
            self._spool_full_logged = True

    def _write_store(self, readings: list[Reading]) -> None:
        started = time.monotonic()
        self.store.write(readings)
        self.metrics.batch_write.observe(time.monotonic() - started)
        positions = sum(1 for r in readings if isinstance(r, PositionReading))
        if positions:
            self.metrics.stored.labels(kind="position").inc(positions)
        if len(readings) > positions:
            self.metrics.stored.labels(kind="soil").inc(len(readings) - positions)
        if not self.store_up:
            log.info("store reachable again")
        self.store_up = True
        self.metrics.store_up.set(1)
        if self._spool_full_logged:
            self._spool_full_logged = False
            self.metrics.spool_full.set(0)

    def _store_answers(self) -> bool:
        """While the store is down, a cheap ping (when it has one) decides whether to try a
        write: a write to a dead server costs its whole retry schedule, seconds each time."""
        if self.store_up:
            return True
        ping = getattr(self.store, "ping", None)
        if ping is None or ping():
            return True
        self._store_retry_at = time.monotonic() + STORE_PROBE_S
        return False

    def _store_down(self, exc: Exception) -> None:
        if self.store_up:
            log.warning("store unavailable: spooling", error=str(exc))
        self.store_up = False
        self.metrics.store_up.set(0)
        self._store_retry_at = time.monotonic() + STORE_PROBE_S

    def _isolate_rejected(self, prepared: Prepared, exc: StoreRejected) -> list[Reading]:
        """The store refused the batch: write item by item, dead-letter the ones it refuses.
        Returns the readings it could not take for another reason (to spool)."""
        log.warning("store rejected a batch, isolating", error=str(exc))
        leftover: list[Reading] = []
        for item in prepared.items:
            try:
                self._write_store(list(item.readings))
            except Exception as item_exc:
                if not isinstance(item_exc, StoreRejected):
                    self._store_down(item_exc)
                    leftover.extend(item.readings)
                    continue
                payload = json.dumps([reading_to_json(r) for r in item.readings]).encode()
                self.metrics.rejected.labels(reason=Reason.STORE_REJECTED.value).inc()
                prepared.dead.append(
                    DeadLetter.of(datetime.now(UTC), f"store/{item.device_id}",
                                  Reason.STORE_REJECTED.value, str(item_exc), payload)
                )  # fmt: skip
        return leftover

    def _replay(self) -> None:
        """Move spooled readings into the store, oldest first, while it is reachable."""
        if self.spool.empty or time.monotonic() < self._store_retry_at:
            return
        if not self._store_answers():
            return
        readings, end = self.spool.peek(REPLAY_CHUNK)
        try:
            if readings:
                self._write_store(readings)
        except StoreRejected as exc:
            # Already validated once; a refusal now means a store-side conflict. Keep the
            # batch out of the way rather than block the spool forever.
            log.error("store rejected spooled readings; moved to the DLQ", error=str(exc))
            payload = json.dumps([reading_to_json(r) for r in readings]).encode()
            letter = DeadLetter.of(datetime.now(UTC), "spool", Reason.STORE_REJECTED.value,
                                   str(exc), payload)  # fmt: skip
            try:
                self.ledger.record([letter], {})
            except Exception as ledger_exc:
                log.warning("ledger write failed, replay retried later", error=str(ledger_exc))
                self._store_retry_at = time.monotonic() + STORE_PROBE_S
                return
            self.metrics.rejected.labels(reason=Reason.STORE_REJECTED.value).inc()
            self.stats.add({}, {}, [letter])
        except Exception as exc:  # StoreUnavailable, or a driver error it did not wrap
            self._store_down(exc)
            return
        try:
            self.spool.commit(end)
        except OSError as exc:  # the position file, on a full disk: replay the chunk again
            log.error("spool position not saved; the chunk is replayed (points overwrite)",
                      error=str(exc))  # fmt: skip
            self.metrics.spool_errors.labels(error=_errno_name(exc)).inc()
            self._store_retry_at = time.monotonic() + STORE_PROBE_S
            return
        self.metrics.spool_bytes.set(self.spool.depth_bytes)
        if self.spool.empty:
            log.info("spool drained")

    def _publish_dead(self, dead: list[DeadLetter]) -> None:
        if self.transport is None:
            return
        for letter in dead:
            body = json.dumps(
                {
                    "topic": letter.topic,
                    "reason": letter.reason,
                    "detail": letter.detail,
                    "received_at": letter.received_at.isoformat(),
                    "payload_size": letter.payload_size,
                    "payload": letter.payload.decode("utf-8", "replace"),
                }
            ).encode()
            self.transport.publish(DLQ_TOPIC.format(reason=letter.reason), body, qos=1)

    def _ack(self, messages: list[Inbound]) -> None:
        """One hand-over for the batch: the transport sends its PUBACKs in one write."""
        self._acked += len(messages)
        if self.transport is not None:
            self.transport.ack_many(messages)


def _source(topic: str) -> str:
    for prefix, name in (("pasture/", "native"), ("application/", "chirpstack"),
                         ("v3/", "thethingsstack")):  # fmt: skip
        if topic.startswith(prefix):
            return name
    return "unknown"


def _errno_name(exc: OSError) -> str:
    return errno.errorcode.get(exc.errno or 0, "OSError")
