#!/bin/sh
# Runs once, after the InfluxDB 2.x image's setup: map database "$INFLUX_BUCKET" (retention
# policy "autogen") to the bucket, so the v1-compatible /write and /query that Jaylym and
# Grafana speak find it. 2.4+ also has virtual mappings; an explicit one survives renames.
set -eu
bucket_id=$(influx bucket list --name "$DOCKER_INFLUXDB_INIT_BUCKET" --hide-headers | cut -f1)
influx v1 dbrp create --db "$DOCKER_INFLUXDB_INIT_BUCKET" --rp autogen \
  --bucket-id "$bucket_id" --default
