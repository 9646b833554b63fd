"""Geomap layers: pasture polygons from the API, collar positions and tracks from InfluxDB."""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import geomap
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models import geomap as gm

from dashboards.common import API_UID

# Grafana's geomap fetches a GeoJSON layer from the browser, which cannot add the API's
# Authorization header. Going through Grafana's datasource proxy keeps the read-only
# coordinator token server-side: Grafana adds the `jaylym-api` datasource's custom header.
# The layer reads one page, never a `next_cursor`: ask for the API's largest page, or a
# district with more than the default 50 pastures would lose polygons from the map.
PASTURES_GEOJSON = (
    f"/api/datasources/proxy/uid/{API_UID}/api/v1/pastures/grazing?format=geojson&limit=500"
)

# Season utilisation bands, as in the overgrazing rule: warning 0.8, critical 1.0.
_BANDS = ((1.0, "red"), (0.8, "orange"), (0.5, "yellow"))


def _coords(lat: str = "lat", lon: str = "lon") -> cb.FrameGeometrySource:
    return (
        cb.FrameGeometrySource()
        .mode(cm.FrameGeometrySourceMode.COORDS)
        .latitude(lat)
        .longitude(lon)
    )


def _only(ref_id: str) -> dict[str, object]:
    return {"id": "byRefId", "options": ref_id}


def partition(ref_id: str, by: str) -> model.DataTransformerConfig:
    """Split query `ref_id`'s table into one frame per value of `by`.

    InfluxQL table results arrive as one frame. Geomap colours a string field only through
    value mappings (fixed names; grafana/grafana#85045), and a route layer joins every row of
    a frame into one line. One frame per herd (or per collar) gives each its own palette
    colour, and each track its own line."""
    return model.DataTransformerConfig(
        id_val="partitionByValues",
        options={"fields": [by], "keepFields": True},
        filter_val=model.MatcherConfig(id_val="byRefId", options=ref_id),
    )


def basemap() -> cb.MapLayerOptions:
    return cb.MapLayerOptions().type("osm-standard").name("OpenStreetMap")


def pastures_layer() -> cb.MapLayerOptions:
    """Pasture polygons coloured by season utilisation (GeoJSON feature property)."""
    rules = [
        {
            "check": {"property": "utilisation", "operation": "gt", "value": limit},
            "style": {"color": {"fixed": colour}, "opacity": 0.45, "lineWidth": 2},
        }
        for limit, colour in _BANDS
    ]
    return (
        cb.MapLayerOptions()
        .type("geojson")
        .name("Pastures (season utilisation)")
        .tooltip(True)
        .config(
            {
                "src": PASTURES_GEOJSON,
                "rules": rules,
                "style": {
                    "color": {"fixed": "green"},
                    "opacity": 0.35,
                    "lineWidth": 1,
                    "text": {"field": "name", "mode": "field"},
                },
                "idField": "id",
            }
        )
    )


def collars_layer(ref_id: str, name: str = "Collars (latest fix)") -> cb.MapLayerOptions:
    """One marker per collar, labelled by its herd; with `partition(ref_id, "herd")` each
    herd's frame takes its own colour from the classic palette."""
    return (
        cb.MapLayerOptions()
        .type("markers")
        .name(name)
        .tooltip(True)
        .location(_coords())
        .filter_data(_only(ref_id))
        .config(
            {
                "showLegend": True,
                "style": {
                    "color": {"field": "lat", "fixed": "dark-green"},
                    "size": {"fixed": 6},
                    "symbol": {"fixed": "img/icons/marker/circle.svg", "mode": "fixed"},
                    "opacity": 0.9,
                    "text": {"field": "herd", "mode": "field"},
                    "textConfig": {"fontSize": 10, "offsetY": -12},
                },
            }
        )
    )


def heat_layer(ref_id: str) -> cb.MapLayerOptions:
    """Density of valid fixes, weighted by how many fixes each hourly point stands for."""
    return (
        cb.MapLayerOptions()
        .type("heatmap")
        .name("Fixes, last 7 days")
        .location(_coords())
        .filter_data(_only(ref_id))
        .config({"blur": 18, "radius": 6, "weight": {"field": "fixes", "fixed": 1, "min": 0}})
    )


def track_layer(ref_id: str) -> cb.MapLayerOptions:
    """Each collar's path in time order (Grafana's route layer draws one line per series)."""
    return (
        cb.MapLayerOptions()
        .type("route")
        .name("Track")
        .location(_coords())
        .filter_data(_only(ref_id))
        .config(
            {
                "arrow": 1,
                "style": {
                    "color": {"field": "lat", "fixed": "dark-blue"},
                    "lineWidth": 2,
                    "opacity": 0.8,
                },
            }
        )
    )


def map_view() -> geomap.MapViewConfig:
    # `fit` zooms to the data; the SDK types lat/lon as integers, so no fixed centre here.
    return geomap.MapViewConfig().id("fit").all_layers(True).padding(10).max_zoom(15).zoom(10)


def map_panel(title: str, description: str, *layers: cb.MapLayerOptions) -> geomap.Panel:
    # Colour fields take the classic palette by frame (series), not by value.
    palette = dash.FieldColor().mode(model.FieldColorModeId.PALETTE_CLASSIC)
    return (
        geomap.Panel()
        .color_scheme(palette)
        .title(title)
        .description(description)
        .span(24)
        .height(16)
        .view(map_view())
        .controls(geomap.ControlsOptions().show_zoom(True).mouse_wheel_zoom(True).show_scale(True))
        .basemap(basemap())
        .layers(list(layers))
        .tooltip(geomap.TooltipOptions().mode(gm.TooltipMode.DETAILS))
    )
