"""One network session: log in, send what is queued, take remote config, log out.

Batches leave the queue only after the broker's PUBACK for the message that carried them;
a session cut short leaves the rest queued for the next one, and a batch whose PUBACK was
lost is sent again (the server stores a repeated seq once).
"""

import json

from common import payload
from common.mqtt import MQTTClient, MQTTError

LINGER_MS = 400  # after sending, how long to listen for a retained config to arrive
BATCH_BYTES = 4096  # per message: ~35 readings; the protocol allows 64 KiB, the heap less


class Uplink:
    def __init__(self, dev, queue, store, log, timeout_ms=10000):
        self.dev = dev
        self.queue = queue
        self.store = store
        self.log = log
        self.timeout_ms = timeout_ms
        base = payload.topic(dev["okrug"], dev["kind"], dev["id"], "")
        self.t_telemetry = base + "telemetry"
        self.t_status = base + "status"
        self.t_cmd = base + "cmd/#"
        self.t_config = base + "cmd/config"
        self._config_error = None
        self.tx_bytes = 0
        self.rx_bytes = 0
        self.mem_mark = None  # hook: called at heap checkpoints

    def _ca(self):
        """The broker's CA (DER file named by device.json "ca") when the device uses TLS."""
        if not self.dev.get("tls"):
            return None
        from common.compat import join, read_bytes

        ca = read_bytes(join(self.dev.get("_root", ""), self.dev.get("ca", "ca.der")))
        if ca is None:
            raise MQTTError("tls set but the CA file is missing")
        return ca

    def _on_message(self, topic, msg, retained):
        if topic != self.t_config:
            self.log("cmd_ignored", topic=topic)
            return
        changed, error = self.store.offer(msg)
        self._config_error = error
        if error:
            self.log("config_rejected", error=error)
        elif changed:
            self.log("config_accepted", applies="next cycle")

    def _status(self):
        if self._config_error:
            return json.dumps({"state": "online", "config_error": self._config_error})
        return "online"

    def session(self, cfg, rtc=None):
        """Returns (readings sent, error text or None). Never raises for network trouble.

        `rtc` (RTC memory, kept over deep sleep) remembers the retained status last
        published: an unchanged status is not sent again (55 bytes a wake), unless the last
        session broke off, when the broker may have published the last will instead.
        """
        if rtc is None:
            rtc = {}
        dev = self.dev
        try:
            ca = self._ca()
        except MQTTError as exc:
            self.log("uplink_failed", error=str(exc), sent=0)
            return 0, str(exc)
        client = MQTTClient(
            dev["id"],
            dev["host"],
            dev["port"],
            user=dev["id"],
            password=dev.get("password") or None,
            keepalive=60,
            timeout_ms=self.timeout_ms,
            ca=ca,
        )
        client.on_message = self._on_message
        sent = 0
        self._config_error = None
        try:
            client.connect(will=(self.t_status, b"offline", 1, True))
            client.subscribe(self.t_cmd, 1)
            sent = self._drain(client, cfg["batch_max"])
            client.poll(LINGER_MS)  # a retained config arrives right after SUBACK
            status = self._status()
            if rtc.get("status") != status:
                rtc.pop("status", None)
                pid = client.publish(self.t_status, status, qos=1, retain=True)
                if not client.wait_acked([pid]):
                    raise MQTTError("no PUBACK for the status")
                rtc["status"] = status
            client.disconnect()
            error = None
        except MQTTError as exc:
            client.close()
            rtc.pop("status", None)
            error = str(exc)
            self.log("uplink_failed", error=error, sent=sent)
        self.tx_bytes += client.tx_bytes
        self.rx_bytes += client.rx_bytes
        return sent, error

    def _drain(self, client, batch_max):
        sent = 0
        while True:
            lines, cursor = self.queue.peek(batch_max, BATCH_BYTES)
            if not lines:
                return sent
            message = payload.batch(lines)
            if self.mem_mark is not None:
                self.mem_mark()  # the largest moment of a cycle: a whole batch in RAM
            pid = client.publish(self.t_telemetry, message, qos=1)
            del message
            if not client.wait_acked([pid]):
                raise MQTTError("no PUBACK within %d ms" % self.timeout_ms)
            self.queue.ack(cursor, lines)
            sent += len(lines)
