"""The engine wired end to end: registry + store → snapshot → rules → alerts → delivery
requests at real local SMS, Telegram and webhook servers, in each reader's language.

One synthetic morning in Sogety makes every rule fire:
- collar-a1 (Асқар's herd) stands still in the resting pasture `demalys`: off_plan, immobile;
- collar-a2 walks in `zhailau` (in plan): the herd is split across two pastures;
- collar-b1 (Айгуль's herd, 100 LU) walks in `kok-tal` (legal limit 0.2 LU/ha, tiny forage,
  dry soil): overstocked, overgrazing, drought. The dry station is within 5 km of every
  pasture, so each pasture with a herd in it has its drought alert;
- collar-b2 wanders far outside every pasture on a draining battery: stray, low_battery;
- collar-a3 (Асқар's herd) reports for an hour in `zhailau`, then falls silent, and
  soil-silent last spoke a day before: device_offline, told to Асқар and to the coordinator.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import func, select

from api.alerts.delivery_log import deliveries
from api.alerts.engine.tables import alert_transitions, alerts
from api.alerts.runtime.service import AlertService
from jaylym.models import PositionReading, SoilReading
from tests.api.alerts.runtime.conftest import Wired
from tests.api.alerts.runtime.world import DAY, HOUR, KK_LETTERS, MIN, OUTSIDE, centre

S = 1_782_864_000_000  # 2026-07-01T00:00Z
EVERY = 15 * MIN
RULES = {
    "off_plan",
    "immobile",
    "overstocked",
    "overgrazing",
    "drought",
    "stray",
    "low_battery",
    "device_offline",
}
SMS_PATH = "/service/message/sendsmsmessage"


def readings(until_ms: int) -> tuple[list[PositionReading], list[SoilReading]]:
    n = (until_ms - S) // EVERY + 1
    pos: list[PositionReading] = []
    for i in range(n):
        t = S + i * EVERY
        wiggle = (i % 4) * 0.15  # about 120 m steps: moving, not immobile
        pos += [
            PositionReading("collar-a1", t, i, lat=centre(2)[1], lon=centre(2)[0], bat=4.0),
            PositionReading("collar-a2", t, i, *reversed(centre(1, dx=wiggle)), bat=4.0),
            *(
                [PositionReading("collar-a3", t, i, *reversed(centre(1, dy=wiggle)), bat=4.0)]
                if t <= S + HOUR
                else []
            ),
            PositionReading("collar-b1", t, i, *reversed(centre(0, dy=wiggle)), bat=4.0),
            PositionReading(
                "collar-b2",
                t,
                i,
                lat=OUTSIDE[1] + wiggle * 0.01,
                lon=OUTSIDE[0],
                bat=3.62 - 0.35 * (t - S) / (11 * HOUR),  # 3.62 V → 3.27 V in 11 h
            ),
        ]
    soil = [
        SoilReading("soil-kt", t, k, depth_cm=10, vwc=13.0)  # just above wilting: factor 0.3
        for k, t in enumerate(range(S - 21 * DAY, until_ms, 6 * HOUR))
    ]
    soil.append(SoilReading("soil-silent", S - DAY, 0, depth_cm=10, vwc=25.0))
    return pos, soil


def evaluate(service: AlertService, start: int, end: int, step: int = 10 * MIN) -> None:
    for now in range(start, end + 1, step):
        service.engine.evaluate(service.source(now))
    service.deliverer.run_until_idle(20)


NAMES = ("Көктал", "Жайлау", "Демалыс", "Сөгеті", "Асқар", "Айгуль")


def kazakh(text: str) -> bool:
    """Written in Kazakh: a Kazakh-only letter outside the (Kazakh) names of places and people."""
    for name in NAMES:
        text = text.replace(name, "")
    return bool(KK_LETTERS & set(text.lower()))


def requests_by_kind(wired: Wired) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {"sms": [], "telegram": [], "webhook": []}
    for r in wired.receiver.requests:
        if r.path == SMS_PATH:
            out["sms"].append(r)
        elif r.path.endswith("/sendMessage"):
            out["telegram"].append(r)
        elif r.path == "/hook/dana":
            out["webhook"].append(r)
    return out


def open_alerts(wired: Wired) -> dict[str, Any]:
    """Unresolved alerts by rule; by `drought:<pasture>` and `device_offline:<device>` for
    the rules that fire on several subjects here."""
    with wired.db.connect() as conn:
        rows = conn.execute(select(alerts).where(alerts.c.state != "resolved")).all()

    def key(r: Any) -> str:
        if r.rule == "drought":
            return f"drought:{r.pasture_id}"
        if r.rule == "device_offline":
            return f"device_offline:{r.device_id}"
        return str(r.rule)

    return {key(r): r for r in rows}


def open_ids(wired: Wired) -> set[str]:
    with wired.db.connect() as conn:
        return set(conn.scalars(select(alerts.c.id).where(alerts.c.state != "resolved")))


def rules_of(keys: Any) -> set[str]:
    return {k.split(":")[0] for k in keys}


def test_every_rule_fires_and_reaches_people_in_their_language(wired: Wired) -> None:
    pos, soil = readings(S + 14 * HOUR)
    wired.store.write(pos + soil)
    service = AlertService.from_settings(wired.settings, wired.db, wired.store)
    try:
        evaluate(service, S + 10 * MIN, S + 11 * HOUR)
    finally:
        service.deliverer.close()

    # Each evaluation wrote one pasture_state point per pasture, for Grafana.
    points = wired.store.query_points("pasture_state", S, S + 11 * HOUR + 1)
    by_pasture = Counter(p.tags["pasture"] for p in points)
    assert by_pasture == dict.fromkeys(("kok-tal", "zhailau", "demalys"), 66)  # 66 evaluations
    last = next(p for p in reversed(points) if p.tags["pasture"] == "kok-tal")
    assert last.ts_ms == S + 11 * HOUR
    assert last.tags["okrug"] == "sogety"
    assert last.fields["utilisation"] > 1.0
    assert last.fields["moisture_factor"] == 0.3
    assert last.fields["lu"] == 50.0  # half of Айгуль's 100 LU (collar-b2 is outside)
    # ... and the per-herd share beside it, for the dashboards' herd panels.
    herd_points = wired.store.query_points("pasture_herd", S + 11 * HOUR, S + 11 * HOUR + 1)
    kok_tal = [p for p in herd_points if p.tags["pasture"] == "kok-tal"]
    assert kok_tal, "pasture_herd points are written after each evaluation"
    assert sum(p.fields["lu"] for p in kok_tal) == last.fields["lu"]

    fired = open_alerts(wired)
    assert rules_of(fired) == RULES
    assert {k for k in fired if k.startswith("drought")} == {
        "drought:kok-tal",
        "drought:zhailau",
        "drought:demalys",
    }
    assert fired["off_plan"].herd_id == "herd-askar"
    assert fired["off_plan"].pasture_id == "demalys"
    assert fired["off_plan"].context["reason"] == "resting"
    assert fired["immobile"].device_id == "collar-a1"
    assert fired["stray"].device_id == "collar-b2"
    assert fired["low_battery"].device_id == "collar-b2"
    assert {k for k in fired if k.startswith("device_offline")} == {
        "device_offline:soil-silent",
        "device_offline:collar-a3",
    }
    for rule in ("overstocked", "overgrazing", "drought:kok-tal"):
        assert fired[rule].pasture_id == "kok-tal"
        assert fired[rule].context["herds_present"] == ["herd-aigul"]
    assert fired["drought:zhailau"].context["herds_present"] == ["herd-askar"]

    sent = requests_by_kind(wired)
    # Асқар (kk): SMS and Telegram for his herd's alerts only.
    askar_sms = [r.form()["text"] for r in sent["sms"]]
    assert askar_sms
    assert all(r.form()["recipient"] == "77011234567" for r in sent["sms"])
    assert all(kazakh(text) for text in askar_sms), askar_sms
    assert any("Байланыс жоқ: collar-a3" in text for text in askar_sms), askar_sms
    tg: dict[str, list[str]] = {"1001": [], "2002": []}
    for r in sent["telegram"]:
        body = r.json()
        tg[str(body["chat_id"])].append(body["text"])
    assert tg["1001"]
    assert all(kazakh(t) for t in tg["1001"])
    # Айгуль (ru): Telegram, Russian (Cyrillic, no Kazakh-only letter), about her herd.
    assert tg["2002"]
    assert all(not kazakh(t) for t in tg["2002"]), tg["2002"]
    assert all("Согеты" in t for t in tg["2002"])  # the okrug named in Russian for her
    assert all(any("а" <= c <= "я" for c in t.lower()) for t in tg["2002"])
    # Dana (en): a signed webhook for every alert of the okrug.
    hooks = [r.json() for r in sent["webhook"]]
    assert {h["alert"]["rule"] for h in hooks} == RULES
    assert {h["language"] for h in hooks} == {"en"}
    assert {h["alert"]["subject"]["okrug_name"] for h in hooks} == {"Sogety"}
    assert all(r.headers["x-jaylym-signature"].startswith("v1=") for r in sent["webhook"])

    # Who hears what: Асқар about his herd (off plan, still collar, dry pastures he is in);
    # Айгуль about hers.
    with wired.db.connect() as conn:
        rows = conn.execute(
            select(deliveries.c.recipient_id, deliveries.c.channel, alerts.c.rule).join(
                alerts, alerts.c.id == deliveries.c.alert_id
            )
        ).all()
    askar = f"herder-{wired.world.herders['askar']}"
    aigul = f"herder-{wired.world.herders['aigul']}"
    assert {r.rule for r in rows if r.recipient_id == askar} == {
        "off_plan",
        "immobile",
        "drought",
        "device_offline",  # collar-a3, not the soil station, which no herd wears
    }
    assert {r.rule for r in rows if r.recipient_id == aigul} == {
        "overstocked",
        "overgrazing",
        "drought",
        "stray",
        "low_battery",
    }
    # One delivery per transition per recipient channel, and one request per delivery.
    with wired.db.connect() as conn:
        per_key = conn.execute(
            select(
                deliveries.c.alert_id,
                deliveries.c.seq,
                deliveries.c.recipient_id,
                deliveries.c.channel,
                func.count(),
            ).group_by(
                deliveries.c.alert_id,
                deliveries.c.seq,
                deliveries.c.recipient_id,
                deliveries.c.channel,
            )
        ).all()
        states = Counter(r.state for r in conn.execute(select(deliveries.c.state)))
    assert all(row[-1] == 1 for row in per_key)
    assert states == {"sent": len(per_key)}
    assert len(wired.receiver.requests) == len(per_key)


def test_ack_stops_repeats_and_a_restart_neither_loses_nor_resends(wired_sqlite: Wired) -> None:
    wired = wired_sqlite
    pos, soil = readings(S + 16 * HOUR)
    wired.store.write(pos + soil)
    service = AlertService.from_settings(wired.settings, wired.db, wired.store)
    evaluate(service, S + 10 * MIN, S + 11 * HOUR)
    service.deliverer.close()
    client = wired.app()

    # Асқар acknowledges his off-plan alert through the API.
    mine = client.get("/api/v1/alerts", params={"state": "open"}, headers=wired.auth("askar"))
    assert mine.status_code == 200, mine.text
    by_rule = {a["rule"]: a for a in mine.json()["items"]}
    assert set(by_rule) == {"off_plan", "immobile", "drought", "device_offline"}
    acked = by_rule["off_plan"]["id"]
    r = client.post(f"/api/v1/alerts/{acked}/ack", headers=wired.auth("askar"))
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "acknowledged"
    assert r.json()["acknowledged_by"] == f"herder-{wired.world.herders['askar']}"
    # Айгуль cannot see it, let alone acknowledge it.
    assert (
        client.post(f"/api/v1/alerts/{acked}/ack", headers=wired.auth("aigul")).status_code == 404
    )

    before_ids = open_ids(wired)
    before_requests = len(wired.receiver.requests)

    # A restarted process (new engine, source, deliverer on the same databases) evaluates the
    # same instant again: nothing new, nothing sent again.
    service = AlertService.from_settings(wired.settings, wired.db, wired.store)
    evaluate(service, S + 11 * HOUR, S + 11 * HOUR)
    assert open_ids(wired) == before_ids
    assert len(wired.receiver.requests) == before_requests

    # Then 2 h more with the repeat interval at 1 h: the others repeat, the acked one does not.
    evaluate(service, S + 11 * HOUR + 10 * MIN, S + 13 * HOUR)
    service.deliverer.close()
    with wired.db.connect() as conn:
        kinds = conn.execute(
            select(alert_transitions.c.alert_id, alert_transitions.c.kind).where(
                alert_transitions.c.at_ms > S + 11 * HOUR
            )
        ).all()
    renotified = {a for a, k in kinds if k == "renotified"}
    assert acked not in renotified
    assert by_rule["immobile"]["id"] in renotified
    assert len(wired.receiver.requests) > before_requests
    assert all(
        acked not in r.body.decode(errors="replace")
        for r in wired.receiver.requests[before_requests:]
    )
    assert open_ids(wired) == before_ids  # none lost, none doubled

    # The audit trail through the API: opened, maybe repeats, then Асқар's acknowledgement,
    # which told nobody; Айгуль cannot read it.
    trail = client.get(f"/api/v1/alerts/{acked}/transitions", headers=wired.auth("askar"))
    assert trail.status_code == 200, trail.text
    kinds = [t["kind"] for t in trail.json()]
    assert kinds[0] == "opened"
    assert kinds[-1] == "acknowledged"
    assert "renotified" not in kinds[kinds.index("acknowledged") :]
    assert [t["seq"] for t in trail.json()] == list(range(1, len(kinds) + 1))
    ack = trail.json()[-1]
    assert ack["actor"] == f"herder-{wired.world.herders['askar']}"
    assert ack["notify"] is False
    hidden = client.get(f"/api/v1/alerts/{acked}/transitions", headers=wired.auth("aigul"))
    assert hidden.status_code == 404

    # The API restarted with open alerts lists the same ones.
    client.close()
    again = wired.app().get(
        "/api/v1/alerts", params={"state": "unresolved"}, headers=wired.auth("admin")
    )
    assert {a["id"] for a in again.json()["items"]} == before_ids


def test_alert_routes_are_scoped_by_role(wired_sqlite: Wired) -> None:
    wired = wired_sqlite
    pos, soil = readings(S + 11 * HOUR)
    wired.store.write(pos + soil)
    service = AlertService.from_settings(wired.settings, wired.db, wired.store)
    evaluate(service, S + 10 * MIN, S + 11 * HOUR, step=30 * MIN)
    service.deliverer.close()
    client = wired.app()

    def rules(who: str, **params: str) -> set[str]:
        r = client.get("/api/v1/alerts", params=params, headers=wired.auth(who))
        assert r.status_code == 200, r.text
        return {a["rule"] for a in r.json()["items"]}

    assert rules("admin") == RULES
    assert rules("coordinator") == RULES
    assert rules("coordinator-tau") == set()
    assert rules("askar") == {"off_plan", "immobile", "drought", "device_offline"}
    assert rules("aigul") == {"overstocked", "overgrazing", "drought", "stray", "low_battery"}
    assert rules("coordinator", herd="herd-aigul") == rules("aigul")
    assert rules("coordinator", pasture="kok-tal") == {"overstocked", "overgrazing", "drought"}
    assert rules("coordinator", pasture="zhailau") == {"drought"}
    assert rules("coordinator", rule="stray") == {"stray"}
    assert rules("coordinator", okrug="tau") == set()
    assert rules("admin", state="resolved") == set()
    # The forms Grafana sends: comma-separated lists and a time range.
    assert rules("coordinator", state="open,acknowledged", okrug="sogety,tau") == RULES
    assert rules("coordinator", herd="herd-aigul,herd-askar") == RULES  # collar-a3 offline
    assert rules("coordinator", rule="stray,drought") == {"stray", "drought"}
    before_any = "2026-06-30T00:00:00Z"
    assert rules("admin", start=before_any, end="2026-07-01T00:05:00Z") == set()
    assert rules("admin", start=before_any, end="2026-07-02T00:00:00Z") == RULES
    bad = client.get("/api/v1/alerts", params={"state": "closed"}, headers=wired.auth("admin"))
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    # The flat fields the dashboards read.
    items = client.get("/api/v1/alerts", headers=wired.auth("coordinator")).json()["items"]
    stray = next(a for a in items if a["rule"] == "stray")
    assert stray["okrug_id"] == "sogety"
    assert stray["herd_ids"] == ["herd-aigul"]  # the herd wearing collar-b2
    assert stray["resolved_at"] is None
    assert stray["opened_at"].startswith("2026-07-01T")
    assert stray["summary"].startswith("Herd off pasture at collar-b2: ")
    overgrazing = next(a for a in items if a["rule"] == "overgrazing")
    assert overgrazing["herd_ids"] == ["herd-aigul"]
    assert "Көктал" in overgrazing["summary"]
    # A coordinator of another okrug cannot acknowledge, and learns nothing.
    some = client.get("/api/v1/alerts", headers=wired.auth("admin")).json()["items"][0]["id"]
    hidden = client.post(f"/api/v1/alerts/{some}/ack", headers=wired.auth("coordinator-tau"))
    missing = client.post("/api/v1/alerts/no-such/ack", headers=wired.auth("coordinator-tau"))
    assert hidden.status_code == missing.status_code == 404
    assert hidden.headers["content-type"] == "application/problem+json"
    # Paging walks every alert once.
    seen, cursor = [], None
    for _ in range(20):
        params = {"limit": "3"} | ({"cursor": cursor} if cursor else {})
        page = client.get("/api/v1/alerts", params=params, headers=wired.auth("admin")).json()
        seen += [a["id"] for a in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    # drought in three pastures, two devices offline
    assert len(seen) == len(set(seen)) == len(RULES) + 3
