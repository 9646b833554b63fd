// The demo page: pastures coloured by season utilisation, the herds' latest positions and the
// open alerts, from the Jaylym API. Plain base layer (a graticule): no tile servers offline.
// Reads: GET pastures/grazing?format=geojson (shapes with season utilisation; plain
// pastures/features when grazing cannot be computed), positions/latest (GeoJSON),
// alerts?state=open. Every text from the API is set with
// textContent, never as HTML.
(function () {
  "use strict";
  const API = "api/v1";
  const REFRESH_MS = 10000;
  const UTILISATION_STEPS = [
    [0.0, "#d9ead3", "below 50 %"],
    [0.5, "#b6d7a8", "50–80 %"],
    [0.8, "#ffd966", "80–100 % (warning)"],
    [1.0, "#e06666", "over 100 % (critical)"],
  ];
  const HERD_COLOURS = ["#1f77b4", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"];

  function token() {
    const match = /token=([^&]+)/.exec(window.location.hash);
    if (match) {
      sessionStorage.setItem("jaylym-token", decodeURIComponent(match[1]));
      history.replaceState(null, "", window.location.pathname);
    }
    return sessionStorage.getItem("jaylym-token");
  }

  async function get(path) {
    const response = await fetch(`${API}/${path}`, {
      headers: { Authorization: `Bearer ${token()}`, Accept: "application/json" },
    });
    if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
    return response.json();
  }

  function colourFor(utilisation) {
    let colour = "#eeeeee";
    for (const [from, c] of UTILISATION_STEPS) if (utilisation !== null && utilisation >= from) colour = c;
    return colour;
  }

  function text(tag, content, className) {
    const el = document.createElement(tag);
    el.textContent = content;
    if (className) el.className = className;
    return el;
  }

  const map = L.map("map", { zoomControl: true, attributionControl: false });
  map.setView([43.55, 78.35], 11);
  const graticule = L.layerGroup().addTo(map);
  function drawGraticule() {
    graticule.clearLayers();
    // Beyond the view, so panning never shows the grid's edge before the next redraw.
    const b = map.getBounds().pad(1);
    const step = map.getZoom() >= 12 ? 0.01 : map.getZoom() >= 10 ? 0.05 : 0.5;
    const style = { color: "#c9c2a8", weight: 1, interactive: false };
    for (let lat = Math.floor(b.getSouth() / step) * step; lat <= b.getNorth(); lat += step)
      L.polyline([[lat, b.getWest()], [lat, b.getEast()]], style).addTo(graticule);
    for (let lon = Math.floor(b.getWest() / step) * step; lon <= b.getEast(); lon += step)
      L.polyline([[b.getSouth(), lon], [b.getNorth(), lon]], style).addTo(graticule);
  }
  map.on("moveend resize", drawGraticule);
  drawGraticule();

  const pastureLayer = L.geoJSON(null, {
    style: (f) => ({
      color: "#4d4d3d", weight: 1.5, fillOpacity: 0.6,
      fillColor: colourFor(f.properties.utilisation ?? null),
      className: `pasture pasture-${f.properties.status}`,
    }),
    onEachFeature: (f, layer) => {
      const p = f.properties;
      const u = p.utilisation == null ? "–" : `${Math.round(p.utilisation * 100)} %`;
      const status = p.status === "open" ? "" : ` (${p.status})`;
      // Tooltip content as a node: pasture names come from the registry, not from us.
      layer.bindTooltip(text("span", `${p.name}${status} — ${u}`), { sticky: true });
      layer.on("add", () => {
        const el = layer.getElement();
        if (el) {
          el.dataset.pasture = String(f.id ?? p.id);
          el.dataset.utilisation = p.utilisation == null ? "" : String(p.utilisation);
        }
      });
    },
  }).addTo(map);
  const herdLayer = L.layerGroup().addTo(map);
  let fitted = false;

  function renderLegend() {
    const legend = document.getElementById("legend");
    legend.replaceChildren();
    for (const [, colour, label] of UTILISATION_STEPS) {
      const li = document.createElement("li");
      const swatch = document.createElement("i");
      swatch.style.background = colour;
      li.append(swatch, text("span", label));
      legend.append(li);
    }
  }

  function renderPastureList(pastures) {
    // The map's scale hides a 20 ha village commons next to 3 000 ha summer pastures: the
    // list shows every pasture's utilisation, most used first; a click zooms to it.
    const list = document.getElementById("pastures");
    list.replaceChildren();
    const rows = [...pastures.features].sort(
      (a, b) => (b.properties.utilisation ?? -1) - (a.properties.utilisation ?? -1));
    for (const f of rows) {
      const p = f.properties;
      const li = document.createElement("li");
      const swatch = document.createElement("i");
      swatch.style.background = colourFor(p.utilisation ?? null);
      const share = p.utilisation == null ? "–" : `${Math.round(p.utilisation * 100)} %`;
      const status = p.status && p.status !== "open" ? ` (${p.status})` : "";
      li.append(swatch, text("span", `${p.name}${status}`), text("b", share, "share"));
      li.dataset.pasture = String(f.id ?? p.id);
      li.addEventListener("click", () => map.fitBounds(L.geoJSON(f).getBounds(), { maxZoom: 16 }));
      list.append(li);
    }
  }

  function renderPastures(pastures) {
    renderPastureList(pastures);
    pastureLayer.clearLayers();
    pastureLayer.addData(pastures);
    if (!fitted && pastures.features.length) {
      map.fitBounds(pastureLayer.getBounds(), { padding: [20, 20] });
      fitted = true;
    }
  }

  function renderPositions(positions) {
    herdLayer.clearLayers();
    const herds = new Map();
    for (const f of positions.features) {
      const herd = f.properties.herd_id || "—";
      if (!herds.has(herd)) herds.set(herd, HERD_COLOURS[herds.size % HERD_COLOURS.length]);
      const [lon, lat] = f.geometry.coordinates;
      L.circleMarker([lat, lon], {
        radius: 5, color: "#fff", weight: 1, fillColor: herds.get(herd), fillOpacity: 1,
        className: "position",
      }).bindTooltip(text("span", `${f.properties.device_id} · ${herd}`)).addTo(herdLayer);
    }
    const list = document.getElementById("herds");
    list.replaceChildren();
    for (const [herd, colour] of herds) {
      const li = document.createElement("li");
      const dot = text("span", "", "herd-dot");
      dot.style.background = colour;
      li.append(dot, text("span", herd));
      list.append(li);
    }
  }

  function renderAlerts(alerts) {
    const items = alerts.items || [];
    const list = document.getElementById("alerts");
    list.replaceChildren();
    for (const a of items) {
      const li = text("li", a.summary || a.rule, a.severity);
      li.dataset.rule = a.rule;
      li.title = `${a.rule} · ${a.severity}`;
      list.append(li);
    }
    document.getElementById("alert-count").textContent = String(items.length);
  }

  async function refresh() {
    const status = document.getElementById("status");
    try {
      const [pastures, positions, alerts] = await Promise.all([
        // Grazing needs the time-series store; without it the shapes still show, grey.
        get("pastures/grazing?format=geojson&limit=500").catch(() => get("pastures/features?limit=500")),
        get("positions/latest"),
        get("alerts?state=open&limit=100"),
      ]);
      renderPastures(pastures);
      renderPositions(positions);
      renderAlerts(alerts);
      status.textContent = `Updated ${new Date().toLocaleTimeString()}`;
      document.body.dataset.ready = "true";
    } catch (err) {
      status.textContent = `Cannot load: ${err.message}`;
      document.body.dataset.ready = "error";
    }
  }

  renderLegend();
  if (!token()) {
    const form = document.getElementById("login");
    form.hidden = false;
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      sessionStorage.setItem("jaylym-token", document.getElementById("token").value);
      form.hidden = true;
      refresh();
    });
  } else {
    refresh();
  }
  setInterval(() => token() && refresh(), REFRESH_MS);
})();
