"""Query models the Grafana Foundation SDK does not ship: InfluxQL and Infinity (JSON over HTTP).

The SDK has typed dataqueries for Prometheus, Loki, Elasticsearch and others, but none for the
InfluxDB datasource nor for the Infinity plugin. These classes follow the SDK's own pattern
(a `cogvariants.Dataquery` with `to_json`/`from_json`, a builder, and a variant registered in
the cog runtime), so `Dashboard.from_json` reads our generated JSON back into typed objects
instead of opaque `UnknownDataquery` bags. That round trip is what the tests validate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Self

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import runtime as cogruntime
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models import dashboard

INFLUX_TYPE = "influxdb"
INFINITY_TYPE = "yesoreyeram-infinity-datasource"

ResultFormat = Literal["time_series", "table"]


def _ref(data: dict[str, Any] | None) -> dashboard.DataSourceRef | None:
    return dashboard.DataSourceRef.from_json(data) if data is not None else None


class InfluxQLQuery(cogvariants.Dataquery):
    """A raw InfluxQL query, as Grafana's InfluxDB datasource stores it in InfluxQL mode."""

    def __init__(
        self,
        ref_id: str = "",
        query: str = "",
        raw_query: bool = True,
        result_format: ResultFormat = "time_series",
        alias: str | None = None,
        hide: bool | None = None,
        datasource: dashboard.DataSourceRef | None = None,
    ) -> None:
        self.ref_id = ref_id
        self.query = query
        self.raw_query = raw_query
        self.result_format = result_format
        self.alias = alias
        self.hide = hide
        self.datasource = datasource

    def to_json(self) -> dict[str, object]:
        payload: dict[str, object] = {
            "refId": self.ref_id,
            "query": self.query,
            "rawQuery": self.raw_query,
            "resultFormat": self.result_format,
        }
        if self.alias is not None:
            payload["alias"] = self.alias
        if self.hide is not None:
            payload["hide"] = self.hide
        if self.datasource is not None:
            payload["datasource"] = self.datasource
        return payload

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        return cls(
            ref_id=data.get("refId", ""),
            query=data.get("query", ""),
            raw_query=data.get("rawQuery", True),
            result_format=data.get("resultFormat", "time_series"),
            alias=data.get("alias"),
            hide=data.get("hide"),
            datasource=_ref(data.get("datasource")),
        )


class InfluxQL(cogbuilder.Builder[InfluxQLQuery]):
    """Builder for `InfluxQLQuery`, in the SDK's fluent style."""

    def __init__(self, query: str) -> None:
        self._internal = InfluxQLQuery(query=query)

    def build(self) -> InfluxQLQuery:
        return self._internal

    def ref_id(self, ref_id: str) -> Self:
        self._internal.ref_id = ref_id
        return self

    def table(self) -> Self:
        self._internal.result_format = "table"
        return self

    def alias(self, alias: str) -> Self:
        self._internal.alias = alias
        return self

    def hide(self, hide: bool) -> Self:
        self._internal.hide = hide
        return self

    def datasource(self, ref: dashboard.DataSourceRef) -> Self:
        self._internal.datasource = ref
        return self


@dataclass
class InfinityColumn:
    """One column the Infinity backend parser extracts from each JSON row."""

    selector: str
    text: str
    type: Literal["string", "number", "timestamp", "boolean"] = "string"

    def to_json(self) -> dict[str, object]:
        return {"selector": self.selector, "text": self.text, "type": self.type}


@dataclass
class InfinityQuery(cogvariants.Dataquery):
    """A JSON-over-HTTP query of the Jaylym API through the Infinity datasource.

    `url` is relative to the datasource's base URL, which carries the API's address and the
    read-only coordinator token; the token never appears in dashboard JSON.
    """

    ref_id: str = ""
    url: str = ""
    params: dict[str, str] = field(default_factory=dict)
    root_selector: str = ""
    columns: list[InfinityColumn] = field(default_factory=list)
    format: Literal["table", "timeseries"] = "table"
    hide: bool | None = None
    datasource: dashboard.DataSourceRef | None = None

    def to_json(self) -> dict[str, object]:
        payload: dict[str, object] = {
            "refId": self.ref_id,
            "type": "json",
            "source": "url",
            "parser": "backend",
            "format": self.format,
            "url": self.url,
            "url_options": {
                "method": "GET",
                "params": [{"key": k, "value": v} for k, v in self.params.items()],
            },
            "root_selector": self.root_selector,
            "columns": [c.to_json() for c in self.columns],
        }
        if self.hide is not None:
            payload["hide"] = self.hide
        if self.datasource is not None:
            payload["datasource"] = self.datasource
        return payload

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        options = data.get("url_options", {})
        return cls(
            ref_id=data.get("refId", ""),
            url=data.get("url", ""),
            params={p["key"]: p["value"] for p in options.get("params", [])},
            root_selector=data.get("root_selector", ""),
            columns=[InfinityColumn(**c) for c in data.get("columns", [])],
            format=data.get("format", "table"),
            hide=data.get("hide"),
            datasource=_ref(data.get("datasource")),
        )


class Infinity(cogbuilder.Builder[InfinityQuery]):
    """Builder for `InfinityQuery`."""

    def __init__(self, url: str, root_selector: str = "") -> None:
        self._internal = InfinityQuery(url=url, root_selector=root_selector)

    def build(self) -> InfinityQuery:
        return self._internal

    def ref_id(self, ref_id: str) -> Self:
        self._internal.ref_id = ref_id
        return self

    def param(self, key: str, value: str) -> Self:
        self._internal.params[key] = value
        return self

    def column(
        self,
        selector: str,
        text: str,
        type_: Literal["string", "number", "timestamp", "boolean"] = "string",
    ) -> Self:
        self._internal.columns.append(InfinityColumn(selector, text, type_))
        return self

    def datasource(self, ref: dashboard.DataSourceRef) -> Self:
        self._internal.datasource = ref
        return self


def register() -> None:
    """Make the cog runtime read our queries back as typed objects (idempotent)."""
    register_default_plugins()
    cogruntime.register_dataquery_variant(
        cogruntime.DataqueryConfig(identifier=INFLUX_TYPE, from_json_hook=InfluxQLQuery.from_json)
    )
    cogruntime.register_dataquery_variant(
        cogruntime.DataqueryConfig(identifier=INFINITY_TYPE, from_json_hook=InfinityQuery.from_json)
    )
