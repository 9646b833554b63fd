"""A real local HTTP server speaking the part of Grafana's HTTP API that `jaylym grafana push`
uses, with Grafana's status codes and conflict rules, recording every request.

No Grafana binary can be installed here; this is the Grafana counterpart the guide calls for:
a real server over real sockets, not a mocked client.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Recorded:
    method: str
    path: str
    body: Any
    authorization: str | None


@dataclass
class GrafanaState:
    token: str
    version: str = "11.3.0"
    plugins: list[str] = field(default_factory=lambda: ["yesoreyeram-infinity-datasource"])
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    datasources: dict[str, dict[str, Any]] = field(default_factory=dict)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)  # uid -> {dashboard, meta}
    requests: list[Recorded] = field(default_factory=list)
    next_id: int = 1

    def take_id(self) -> int:
        taken, self.next_id = self.next_id, self.next_id + 1
        return taken

    def writes(self) -> list[Recorded]:
        return [r for r in self.requests if r.method in ("POST", "PUT", "DELETE")]


# What Grafana keeps of a datasource it is sent (secureJsonData is write-only; unknown keys
# such as the provisioning-only `editable` are dropped).
_DATASOURCE_FIELDS = (
    "uid",
    "name",
    "type",
    "access",
    "url",
    "database",
    "user",
    "basicAuth",
    "basicAuthUser",
    "withCredentials",
    "isDefault",
    "jsonData",
)


def _stored_datasource(body: dict[str, Any], ident: int) -> dict[str, Any]:
    kept = {k: v for k, v in body.items() if k in _DATASOURCE_FIELDS}
    return {**kept, "id": ident, "orgId": 1, "readOnly": False, "version": 1}


class _Handler(BaseHTTPRequestHandler):
    state: GrafanaState
    lock: threading.Lock

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
        return

    def _reply(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        auth = self.headers.get("Authorization")
        with self.lock:
            self.state.requests.append(Recorded(method, self.path, body, auth))
            if auth != f"Bearer {self.state.token}":
                self._reply(401, {"message": "Unauthorized"})
                return
            status, reply = self._route(method, self.path.split("?")[0], body)
        self._reply(status, reply)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def _route(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        s = self.state
        if path == "/api/frontend/settings":
            return 200, {"buildInfo": {"version": s.version, "edition": "Open Source"}}
        if path == "/api/plugins":
            core = ["influxdb", "prometheus", "geomap", "timeseries"]
            return 200, [{"id": p, "name": p} for p in core + s.plugins]
        if m := re.fullmatch(r"/api/folders/([\w-]+)", path):
            uid = m.group(1)
            if uid not in s.folders:
                return 404, {"message": "folder not found", "status": "not-found"}
            if method == "PUT":
                s.folders[uid]["title"] = body["title"]
                s.folders[uid]["version"] += 1
            return 200, s.folders[uid]
        if path == "/api/folders" and method == "POST":
            if body.get("uid") in s.folders:
                return 409, {"message": "a folder with the same uid already exists"}
            if any(f["title"] == body["title"] for f in s.folders.values()):
                return 409, {"message": "a folder or dashboard with the same name already exists"}
            folder = {"id": s.take_id(), "uid": body["uid"], "title": body["title"], "version": 1}
            s.folders[body["uid"]] = folder
            return 200, folder
        if m := re.fullmatch(r"/api/datasources/uid/([\w-]+)", path):
            uid = m.group(1)
            if uid not in s.datasources:
                return 404, {"message": "Data source not found"}
            if method == "PUT":
                others = [d for u, d in s.datasources.items() if u != uid]
                if any(d["name"] == body["name"] for d in others):
                    return 409, {"message": "data source with the same name already exists"}
                stored = _stored_datasource({**body, "uid": uid}, s.datasources[uid]["id"])
                s.datasources[uid] = stored
                return 200, {"datasource": stored, "message": "Datasource updated"}
            return 200, s.datasources[uid]
        if path == "/api/datasources" and method == "POST":
            clash = any(
                d["name"] == body["name"] or d["uid"] == body.get("uid")
                for d in s.datasources.values()
            )
            if clash:
                return 409, {"message": "data source with the same name already exists"}
            stored = _stored_datasource(body, s.take_id())
            s.datasources[body["uid"]] = stored
            return 200, {"datasource": stored, "id": stored["id"], "message": "Datasource added"}
        if m := re.fullmatch(r"/api/dashboards/uid/([\w-]+)", path):
            found = s.dashboards.get(m.group(1))
            return (200, found) if found else (404, {"message": "Dashboard not found"})
        if path == "/api/dashboards/db" and method == "POST":
            return self._save_dashboard(body)
        return 404, {"message": f"no route {method} {path}"}

    def _save_dashboard(self, body: dict[str, Any]) -> tuple[int, Any]:
        s = self.state
        dash = body["dashboard"]
        folder = body.get("folderUid", "")
        if folder and folder not in s.folders:
            return 400, {"message": "folder not found"}
        uid = dash["uid"]
        current = s.dashboards.get(uid)
        if current and not body.get("overwrite"):
            return 412, {"message": "The dashboard has been changed by someone else"}
        for other_uid, other in s.dashboards.items():
            same_place = other["meta"]["folderUid"] == folder
            if other_uid != uid and same_place and other["dashboard"]["title"] == dash["title"]:
                return 412, {"message": "A dashboard with the same name in the folder exists"}
        version = current["dashboard"]["version"] + 1 if current else 1
        ident = current["dashboard"]["id"] if current else s.take_id()
        s.dashboards[uid] = {
            "dashboard": {**dash, "id": ident, "version": version},
            "meta": {"folderUid": folder, "slug": dash["title"].lower().replace(" ", "-")},
        }
        return 200, {"id": ident, "uid": uid, "status": "success", "version": version}


class GrafanaApiServer:
    """Start with `with GrafanaApiServer(token) as server:`; `server.url`, `server.state`."""

    def __init__(self, token: str) -> None:
        self.state = GrafanaState(token=token)
        handler = type("Handler", (_Handler,), {"state": self.state, "lock": threading.Lock()})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> GrafanaApiServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)
