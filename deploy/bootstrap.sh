#!/usr/bin/env bash
# Sets up a Debian/Ubuntu machine for Jaylym and runs one job. Safe to re-run.
#
#   bash deploy/bootstrap.sh demo [args…]   # the demo on embedded defaults
#   bash deploy/bootstrap.sh test [pytest args…]  # lint, type-check and the whole test suite
#
# Installs, when missing: Debian packages (mosquitto, influxdb, postgresql, chromium, wrk),
# a virtualenv in .venv, and the package with its dev extra.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
job="${1:-test}"
shift || true

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

sudo_() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

debian_packages() {
  local wanted=(mosquitto mosquitto-clients)
  if [ "$job" = "test" ]; then
    # wrk: the API load generator of `jaylym bench` (tests/bench runs its quick version)
    wanted+=(influxdb postgresql chromium chromium-driver wrk)
  fi
  local missing=()
  for pkg in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    if ! command -v apt-get >/dev/null; then
      say "not a Debian system: install ${missing[*]} yourself"
      return 0
    fi
    say "installing Debian packages: ${missing[*]}"
    sudo_ env DEBIAN_FRONTEND=noninteractive apt-get update -q
    # Packaged services must not start on their default ports: tests start their own.
    printf '#!/bin/sh\nexit 101\n' | sudo_ tee /usr/sbin/policy-rc.d >/dev/null
    sudo_ chmod +x /usr/sbin/policy-rc.d
    sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
    sudo_ rm -f /usr/sbin/policy-rc.d
  fi
}

python_env() {
  local py="${PYTHON:-python3}"
  "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || { say "Python 3.11+ is required (found $("$py" --version))"; exit 1; }
  if [ ! -x .venv/bin/python ]; then
    say "creating .venv"
    "$py" -m venv .venv
  fi
  local stamp=.venv/.jaylym-installed
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    say "installing jaylym and its dev tools into .venv"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".[dev]"
    touch "$stamp"
  fi
}

run_tests() {
  export PATH="$here/.venv/bin:$PATH:/usr/sbin"
  say "ruff check"
  ruff check .
  say "ruff format --check"
  ruff format --check .
  say "mypy --strict (jaylym, ingest, api, dashboards)"
  mypy
  # Two workers by default: most tests wait on real services, so two halves overlap well even on
  # two cores. Whole files go to one worker (--dist loadfile) so module-scoped services are
  # started once. JAYLYM_TEST_WORKERS=0 runs everything in this process.
  local workers="${JAYLYM_TEST_WORKERS:-2}"
  local parallel=()
  if [ "$workers" != "0" ]; then parallel=(-n "$workers" --dist loadfile); fi
  say "pytest (${workers} workers)"
  set +e
  python -m pytest "${parallel[@]}" "$@"
  local rc=$?
  set -e
  if [ "$rc" -eq 5 ]; then
    say "pytest collected no tests: that is a failure"
    exit 1
  fi
  exit "$rc"
}

debian_packages
python_env
case "$job" in
  test) run_tests "$@" ;;
  demo) exec .venv/bin/jaylym demo "$@" ;;
  *) .venv/bin/jaylym "$job" "$@" ;;
esac
