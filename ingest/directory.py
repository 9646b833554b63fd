"""Device look-ups for the ingest: a cache in front of the registry, and a static directory."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from jaylym.models import DeviceDirectory, DeviceInfo


class DirectoryUnavailable(Exception):
    """The registry could not answer: not the message's fault, so it is retried, not refused."""


class StaticDirectory:
    """A fixed set of devices (tests, and embedded runs that provision from a file)."""

    def __init__(self, devices: Iterable[DeviceInfo] = ()) -> None:
        self._by_id: dict[str, DeviceInfo] = {}
        self._by_eui: dict[str, DeviceInfo] = {}
        for device in devices:
            self.add(device)

    def add(self, device: DeviceInfo) -> None:
        self._by_id[device.device_id] = device
        if device.dev_eui:
            self._by_eui[device.dev_eui.lower()] = device

    def lookup(self, device_id: str) -> DeviceInfo | None:
        return self._by_id.get(device_id)

    def by_dev_eui(self, dev_eui: str) -> DeviceInfo | None:
        return self._by_eui.get(dev_eui.lower())


class CachedDirectory:
    """Caches answers (unknown devices too, so a flood from one costs one query per TTL).

    A device registered or revoked takes effect within `ttl_s`."""

    def __init__(
        self,
        inner: DeviceDirectory,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 100_000,
    ) -> None:
        self.inner = inner
        self.ttl_s = ttl_s
        self.clock = clock
        self.max_entries = max_entries
        # One dict per kind of key: `lookup` runs for every message, and a (kind, key) tuple
        # per look-up cost a third of it.
        self._ids: dict[str, tuple[float, DeviceInfo | None]] = {}
        self._euis: dict[str, tuple[float, DeviceInfo | None]] = {}

    def _get(
        self,
        cache: dict[str, tuple[float, DeviceInfo | None]],
        key: str,
        fetch: Callable[[str], DeviceInfo | None],
    ) -> DeviceInfo | None:
        now = self.clock()
        hit = cache.get(key)
        if hit is not None and now - hit[0] < self.ttl_s:
            return hit[1]
        try:
            value = fetch(key)
        except Exception as exc:  # any driver error: the registry is down, not the input bad
            raise DirectoryUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if len(self._ids) + len(self._euis) >= self.max_entries:
            self._ids.clear()
            self._euis.clear()
        cache[key] = (now, value)
        return value

    def lookup(self, device_id: str) -> DeviceInfo | None:
        hit = self._ids.get(device_id)
        if hit is not None and self.clock() - hit[0] < self.ttl_s:
            return hit[1]  # the usual answer, without the call below
        return self._get(self._ids, device_id, self.inner.lookup)

    def by_dev_eui(self, dev_eui: str) -> DeviceInfo | None:
        return self._get(self._euis, dev_eui.lower(), self.inner.by_dev_eui)
