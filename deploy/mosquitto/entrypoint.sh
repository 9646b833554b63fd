#!/bin/sh
# Mosquitto's entrypoint under docker-compose.
#
# The registry (the API container) writes device credentials into a password file on a
# volume it shares with this container. A container cannot signal a process in another
# one, so this script does the reloading: it builds the broker's own password file from
# the service accounts (environment) plus the registry's device entries, starts Mosquitto,
# and whenever the registry's file changes it rebuilds and sends Mosquitto SIGHUP. On
# reload Mosquitto re-reads the file and disconnects clients whose user has gone, so a
# revoked device loses its live connection too. Polling is bounded (every few seconds).
set -eu

CONF_DIR=${JAYLYM_BROKER_CONF_DIR:-/mosquitto/config}
DEVICES=${JAYLYM_DEVICES_PASSWD:-/jaylym/broker/passwd}
INTERVAL=${JAYLYM_PASSWD_POLL_S:-2}
PASSWD="$CONF_DIR/passwd"
: "${MQTT_INGEST_PASSWORD:?set MQTT_INGEST_PASSWORD}"
: "${MQTT_API_PASSWORD:?set MQTT_API_PASSWORD}"

build() {
  tmp=$(mktemp "$CONF_DIR/.passwd.XXXXXX")
  # Device lines only: the service accounts always come from the environment.
  if [ -f "$DEVICES" ]; then
    grep -v -E '^(jaylym-ingest|jaylym-api):' "$DEVICES" >"$tmp" || true
  fi
  mosquitto_passwd -b "$tmp" jaylym-ingest "$MQTT_INGEST_PASSWORD"
  mosquitto_passwd -b "$tmp" jaylym-api "$MQTT_API_PASSWORD"
  chown mosquitto:mosquitto "$tmp" 2>/dev/null || true
  chmod 0600 "$tmp"
  mv "$tmp" "$PASSWD"
}

# mtime, size and inode: the registry replaces the file atomically (new inode), and mtime
# alone has one-second resolution.
stamp() {
  if [ -f "$DEVICES" ]; then stat -c '%Y:%s:%i' "$DEVICES"; else echo none; fi
}

build
mosquitto -c "$CONF_DIR/mosquitto.conf" &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null; wait "$pid"; exit 0' TERM INT
last=$(stamp)
while kill -0 "$pid" 2>/dev/null; do
  sleep "$INTERVAL" &
  wait $!
  now=$(stamp)
  if [ "$now" != "$last" ]; then
    build
    kill -HUP "$pid"
    last=$now
  fi
done
wait "$pid"
