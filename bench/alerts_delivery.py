"""Alert delivery overhead: submit -> request received, against a real local HTTP receiver.

    .venv/bin/python bench/alerts_delivery.py [--alerts 200] [--recipients 5]

Each alert goes to `recipients` webhook recipients (one delivery each), logged in a SQLite
file like production's default. Reported: deliveries per second, latency from `submit()` to
the request arriving at the receiver (p50, p95), and the ratio of the per-delivery cost to a
bare signed httpx POST to the same receiver: the price of rendering, the log and idempotency.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import structlog

from api.alerts.channels.webhook import WebhookChannel, encode_body
from api.alerts.delivery import Deliverer
from api.alerts.delivery_log import SqlDeliveryLog
from api.alerts.model import Alert, OvergrazingFigures, Subject
from api.alerts.recipients import Endpoint, Recipient
from api.alerts.signing import sign

ARRIVALS: dict[str, float] = {}


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        key = self.headers.get("Idempotency-Key") or json.loads(body).get("key", "")
        ARRIVALS[key] = time.perf_counter()
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def make_alert(i: int) -> Alert:
    return Alert(
        alert_id=f"bench-{i}",
        seq=1,
        rule="overgrazing",
        severity="critical",
        transition="opened",
        subject=Subject(
            okrug_id="sogety",
            okrug_name="Сөгеті ауылдық округі",
            pasture_id=f"p-{i}",
            pasture_name="Көктерек жайлауы (солтүстік бөлігі)",
            herd_ids=("h-1",),
            herd_names=("Бекболатұлы Асқардың сиыр табыны",),
        ),
        figures=OvergrazingFigures(utilisation=1.05),
        at=datetime.now(UTC),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alerts", type=int, default=200)
    parser.add_argument("--recipients", type=int, default=5)
    args = parser.parse_args()
    # One log line per attempt would measure the terminal, not delivery.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    people = [
        Recipient(
            id=f"herder-{n}",
            role="herder",
            name=f"herder {n}",
            language=("kk", "ru", "en")[n % 3],
            endpoints=(Endpoint("webhook", url),),
            herd_ids=frozenset({"h-1"}),
        )
        for n in range(args.recipients)
    ]

    # Baseline: the same number of bare signed POSTs, one after the other.
    total = args.alerts * args.recipients
    with httpx.Client() as client:
        started = time.perf_counter()
        for i in range(total):
            body = encode_body({"key": f"raw-{i}", "text": "x" * 300})
            client.post(url, content=body, headers=sign("secret", body))
        bare_s = (time.perf_counter() - started) / total

    with tempfile.TemporaryDirectory() as tmp:
        store = SqlDeliveryLog.from_url(f"sqlite:///{Path(tmp) / 'bench.db'}")
        store.create_all()
        deliverer = Deliverer(store, {"webhook": WebhookChannel("secret", allow_http=True)})
        submitted: dict[str, float] = {}
        started = time.perf_counter()
        for i in range(args.alerts):
            at = time.perf_counter()
            for key in deliverer.submit(make_alert(i), people):
                submitted[key] = at
            deliverer.run_due(limit=args.recipients)
        elapsed = time.perf_counter() - started
        deliverer.close()

    latencies = sorted((ARRIVALS[k] - submitted[k]) * 1000 for k in submitted if k in ARRIVALS)
    per_delivery_s = elapsed / total
    print(
        json.dumps(
            {
                "deliveries": total,
                "received": len(latencies),
                "deliveries_per_s": round(total / elapsed, 1),
                "submit_to_request_ms_p50": round(statistics.median(latencies), 2),
                "submit_to_request_ms_p95": round(latencies[int(0.95 * (len(latencies) - 1))], 2),
                "bare_post_ms": round(bare_s * 1000, 2),
                "per_delivery_ms": round(per_delivery_s * 1000, 2),
                "overhead_ratio_vs_bare_post": round(per_delivery_s / bare_s, 2),
            },
            indent=2,
        )
    )
    server.shutdown()


if __name__ == "__main__":
    main()
