"""A readable text rendering of every dashboard (variables, annotations, panels and their
queries), for review in a diff without opening Grafana."""

from __future__ import annotations

import textwrap
from typing import Any
from urllib.parse import urlencode


def _query_text(target: dict[str, Any]) -> str:
    if "query" in target:
        kind = "table" if target.get("resultFormat") == "table" else "series"
        alias = f"  alias {target['alias']!r}" if target.get("alias") else ""
        return f"InfluxQL ({kind}){alias}: {target['query']}"
    params = {p["key"]: p["value"] for p in target.get("url_options", {}).get("params", [])}
    url = target.get("url", "") + ("?" + urlencode(params, safe="${}:,") if params else "")
    columns = ", ".join(f"{c['selector']}->{c['text']}" for c in target.get("columns", []))
    root = target.get("root_selector") or "(root)"
    return f"API GET {url}  rows {root}  columns [{columns}]"


def _wrap(text: str, indent: str) -> str:
    follow = " " * len(indent) + "    "
    return textwrap.fill(
        text, width=100, initial_indent=indent, subsequent_indent=follow, break_long_words=False
    )


def _variable(var: dict[str, Any]) -> str:
    query = var.get("query")
    if isinstance(query, dict):
        inner = query.get("infinityQuery", {})
        query = f"API GET {inner.get('url')} -> {inner.get('root_selector')}"
    flags = [f for f in ("multi", "includeAll") if var.get(f)]
    suffix = f" [{', '.join(flags)}]" if flags else ""
    return f"${var['name']} ({var['type']}{suffix}): {query}"


def _layers(panel: dict[str, Any]) -> list[str]:
    lines = []
    for layer in panel.get("options", {}).get("layers", []):
        source = layer.get("filterData", {}).get("options") or layer.get("config", {}).get("src")
        lines.append(f"    layer {layer['type']} {layer['name']!r} <- {source}")
    return lines


def render(boards: dict[str, dict[str, Any]]) -> str:
    out: list[str] = []
    for data in boards.values():
        out.append(f"== {data['title']}  (uid {data['uid']})")
        out.append(
            f"   time {data['time']['from']} .. {data['time']['to']}, refresh {data['refresh']}"
        )
        for var in data["templating"]["list"]:
            out.append(_wrap(_variable(var), "   var "))
        for anno in data["annotations"]["list"]:
            out.append(f"   annotation {anno['name']!r} from {anno['datasource']['uid']}")
        for panel in data["panels"]:
            if panel["type"] == "row":
                out.append(f"  -- row {panel['title']}")
                continue
            window = f"  (last {panel['timeFrom']})" if panel.get("timeFrom") else ""
            out.append(f"  [{panel['type']}] {panel['title']}{window}")
            out.extend(_layers(panel))
            for target in panel.get("targets", []):
                out.append(_wrap(_query_text(target), f"    {target['refId']}: "))
        out.append("")
    return "\n".join(out)
