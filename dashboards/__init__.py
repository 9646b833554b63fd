"""Grafana dashboards as code for district coordinators.

Built with the Grafana Foundation SDK (`grafana-foundation-sdk`, pinned exactly), queried in
InfluxQL against the `jaylym-influx` datasource, and against the Jaylym API through the
Infinity plugin (`jaylym-api`) where the data lives in the registry (alerts, pasture
polygons). `jaylym grafana build` writes the JSON and the provisioning files under
deploy/grafana/; `jaylym grafana push` sends them to a running Grafana.
"""
