"""The demo's embedded MQTT broker: amqtt on loopback, in a thread of its own.

Only for the demo. amqtt 0.12 does not keep persistent sessions across reconnects (measured),
so the no-loss promise of the ingest holds on Mosquitto only, not here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from typing import Any

from jaylym.services import free_port, port_open, wait_until


class _ProbeNoise(logging.Filter):
    """start() checks the port with a bare TCP connect; amqtt reports each such connection
    as a failed client session. Those two lines say nothing about a real client."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "No data to decode MQTT packet fixed header" not in record.getMessage()


class EmbeddedBroker:
    """amqtt listening on 127.0.0.1; anonymous clients allowed (loopback only)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._broker: Any = None
        self._failure: BaseException | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def _config(self) -> dict[str, Any]:
        return {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}},
            "timeout_disconnect_delay": 2,
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True},
            },
        }

    def _run(self) -> None:
        from amqtt.broker import Broker

        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            self._broker = Broker(self._config(), loop=loop)
            loop.run_until_complete(self._broker.start())
            loop.run_forever()
        except BaseException as exc:  # reported to start(); the thread must not die silently
            self._failure = exc
        finally:
            loop.close()

    def start(self, timeout: float = 15.0) -> None:
        # amqtt logs every packet at INFO; the demo prints what matters itself.
        logging.getLogger("amqtt").setLevel(logging.WARNING)
        # amqtt's session state machine (the `transitions` package) logs every change at INFO.
        logging.getLogger("transitions").setLevel(logging.WARNING)
        broker_log = logging.getLogger("amqtt.broker")
        if not any(isinstance(f, _ProbeNoise) for f in broker_log.filters):
            broker_log.addFilter(_ProbeNoise())
        self._thread = threading.Thread(target=self._run, name="amqtt-broker", daemon=True)
        self._thread.start()
        wait_until(
            lambda: self._failure is not None or port_open(self.port),
            timeout=timeout,
            what=f"embedded broker on port {self.port}",
        )
        if self._failure is not None:
            raise RuntimeError(f"embedded broker failed: {self._failure}") from self._failure

    def stop(self, timeout: float = 10.0) -> None:
        loop, broker = self._loop, self._broker
        if loop is None or broker is None or loop.is_closed():
            return
        future = asyncio.run_coroutine_threadsafe(broker.shutdown(), loop)
        # A failed shutdown is no reason to keep running: the loop is stopped next anyway.
        with contextlib.suppress(Exception):
            future.result(timeout=timeout)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
