"""The committed dashboard JSON validates against the Grafana Foundation SDK's models: it reads
back into typed SDK objects and re-encodes to exactly the same JSON, so no key is unknown to
the model and no value has the wrong shape."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from grafana_foundation_sdk.cog import runtime as cogruntime
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models import geomap

from dashboards.build import boards
from dashboards.common import API_UID, INFLUX_UID
from dashboards.provisioning import datasources
from dashboards.queries import InfinityQuery, InfluxQLQuery, register
from tests.dashboards.board_json import committed, panels

register()
BOARDS = committed()
NAMES = list(BOARDS)


def _reencode(obj: object) -> Any:
    return json.loads(json.dumps(obj, cls=JSONEncoder))


def _without_annotation_targets(data: dict[str, Any]) -> dict[str, Any]:
    copy = json.loads(json.dumps(data))
    for anno in copy["annotations"]["list"]:
        anno.pop("target", None)
    return copy


def test_all_five_dashboards_are_committed() -> None:
    assert sorted(["alerts", "devices", "district", "herd", "pasture"]) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_dashboard_round_trips_through_the_sdk_model(name: str) -> None:
    data = BOARDS[name]
    parsed = model.Dashboard.from_json(data)
    # The SDK types an annotation target as Grafana's built-in one; ours carry an Infinity
    # query there, checked on its own below.
    assert _without_annotation_targets(_reencode(parsed)) == _without_annotation_targets(data)


@pytest.mark.parametrize("name", NAMES)
def test_every_query_is_typed_not_an_unknown_bag(name: str) -> None:
    parsed = model.Dashboard.from_json(BOARDS[name])
    for panel in parsed.panels or []:
        assert isinstance(panel, model.Panel)
        assert panel.targets, f"{panel.title} has no query"
        for target in panel.targets:
            assert not isinstance(target, cogruntime.UnknownDataquery), panel.title
            assert isinstance(target, InfluxQLQuery | InfinityQuery)
            assert target.ref_id
        if panel.type_val == "geomap":
            assert isinstance(panel.options, geomap.Options)
        assert cogruntime.panelcfg_config(panel.type_val) is not None, panel.type_val


@pytest.mark.parametrize("name", NAMES)
def test_annotation_targets_are_valid_api_queries(name: str) -> None:
    annotations = BOARDS[name]["annotations"]["list"]
    api = [a for a in annotations if a["datasource"].get("uid") == API_UID]
    assert len(api) == 1, "every dashboard carries the alert annotations"
    query = InfinityQuery.from_json(api[0]["target"])
    assert _reencode(query) == api[0]["target"]
    assert query.url == "/api/v1/alerts"
    assert {c.text for c in query.columns} >= {"time", "timeEnd", "text", "tags"}


@pytest.mark.parametrize("name", NAMES)
def test_layout_ids_and_references_are_sound(name: str) -> None:
    data = BOARDS[name]
    assert 8 <= len(data["uid"]) <= 40
    ids = [p["id"] for p in data["panels"]]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    cells: set[tuple[int, int]] = set()
    for panel in data["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] >= 0, panel["title"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps another panel"
                cells.add((x, y))
    known = {source["uid"] for source in datasources()}
    assert known == {INFLUX_UID, API_UID}
    for panel in panels(data):
        for target in panel["targets"]:
            assert target["datasource"]["uid"] in known
    names = {v["name"] for v in data["templating"]["list"]}
    assert {"okrug", "herd", "pasture"} <= names
    assert data["time"]["to"] == "now"


def test_round_trip_catches_what_the_model_does_not_know() -> None:
    data = json.loads(json.dumps(BOARDS["district"]))
    data["panels"][0]["fieldConfig"]["defaults"]["colour"] = "red"  # misspelt: not in the model
    parsed = model.Dashboard.from_json(data)
    assert _without_annotation_targets(_reencode(parsed)) != _without_annotation_targets(data)


def _names_available(name: str, panel: dict[str, Any]) -> set[str]:
    """Field names a panel's overrides and sorting may refer to: query columns and tags,
    aliases, Infinity column names, renames and display names, and Grafana's `Time`."""
    board = boards()[name]
    names = {"Time"}
    for target in panel["targets"]:
        expect = board.expects.get((panel["title"], target["refId"]))
        if expect is not None:
            names |= set(expect.columns) | set(expect.tags)
        alias = target.get("alias", "")
        names |= {alias} if alias else set()
        if "$m" in alias:  # the measurement names of the FROM clauses
            for sources in re.findall(r'FROM\s+("\w+"(?:\s*,\s*"\w+")*)', target["query"]):
                names |= set(re.findall(r'"(\w+)"', sources))
        names |= {c["text"] for c in target.get("columns", [])}
    for step in panel.get("transformations", []):
        names |= set(step["options"].get("renameByName", {}).values())
    for override in panel["fieldConfig"]["overrides"]:
        for prop in override["properties"]:
            if prop["id"] == "displayName":
                names.add(prop["value"])
    return names


@pytest.mark.parametrize("name", NAMES)
def test_overrides_and_sorting_name_fields_the_queries_return(name: str) -> None:
    for panel in panels(BOARDS[name]):
        available = _names_available(name, panel)
        for override in panel["fieldConfig"]["overrides"]:
            if override["matcher"]["id"] == "byName":
                assert override["matcher"]["options"] in available, panel["title"]
        # Sorting goes by the name Grafana displays, after renames and displayName overrides.
        renamed = {
            o["matcher"]["options"]
            for o in panel["fieldConfig"]["overrides"]
            if any(p["id"] == "displayName" for p in o["properties"])
        }
        for step in panel.get("transformations", []):
            renamed |= set(step["options"].get("renameByName", {}))
        for sort in panel.get("options", {}).get("sortBy", []):
            assert sort["displayName"] in available - renamed, panel["title"]


def _urls(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "url" and isinstance(value, str) and value.startswith("/d/"):
                yield value
            else:
                yield from _urls(value)
    elif isinstance(node, list):
        for item in node:
            yield from _urls(item)


def test_drill_links_open_existing_dashboards_and_variables() -> None:
    by_uid = {b["uid"]: b for b in BOARDS.values()}
    urls = [url for board in BOARDS.values() for url in _urls(board["panels"])]
    assert len(urls) >= 6
    for url in urls:
        match = re.fullmatch(r"/d/([\w-]+)/\?var-(\w+)=\$\{[^}]+\}&\$\{__url_time_range\}", url)
        assert match, url
        uid, variable = match.groups()
        assert uid in by_uid, url
        assert variable in {v["name"] for v in by_uid[uid]["templating"]["list"]}, url


def test_map_layers_are_grafana_layer_types() -> None:
    maps = [p for board in BOARDS.values() for p in panels(board) if p["type"] == "geomap"]
    assert len(maps) == 2
    for panel in maps:
        options = panel["options"]
        assert options["basemap"]["type"] in {"default", "osm-standard", "carto", "xyz"}
        names = [layer["name"] for layer in options["layers"]]
        assert len(names) == len(set(names))
        for layer in options["layers"]:
            assert layer["type"] in {"markers", "heatmap", "geojson", "route"}, layer
            if layer["type"] != "geojson":
                assert layer["filterData"]["options"] in {t["refId"] for t in panel["targets"]}
