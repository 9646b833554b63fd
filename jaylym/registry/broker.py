"""Device MQTT credentials in the real Mosquitto: its password file plus the pattern ACL.

Why the password file and not the dynamic-security plugin: the pattern ACL already in
deploy/mosquitto/acl (`pattern write pasture/v1/+/+/%u/#`, `pattern read …/%u/cmd/#`) gives
every device exactly its own topics with no per-device ACL entries, the file is rebuildable
from the registry (each device row keeps its `$7$` hash), and it needs no admin account on
the broker. Mosquitto reads the file at start and on SIGHUP, and on reload it disconnects
clients whose user has gone, so revoking takes effect on live connections too.

Telling the broker to reload:
- same host (systemd, tests): `JAYLYM_MQTT_RELOAD_PID_FILE` names the broker's PID file and
  we send SIGHUP;
- docker-compose: the API and the broker share the config volume, and the broker's
  entrypoint (deploy/mosquitto/entrypoint.sh) polls the file's mtime and sends SIGHUP itself,
  because a container cannot signal a process in another one.
"""

from __future__ import annotations

import os
import secrets
import signal
import threading
from pathlib import Path
from typing import Protocol

from jaylym.mqtt_passwd import hash_password, read_entries, remove_user, write_entries

RESERVED_USERS = frozenset({"jaylym-ingest", "jaylym-api"})


class BrokerError(RuntimeError):
    """The broker's credentials could not be updated."""


class BrokerAccounts(Protocol):
    def set_device(self, device_id: str, password_hash: str) -> bool:
        """Register (or replace) a device's credentials. True when the broker was told."""
        ...

    def remove_device(self, device_id: str) -> bool: ...


def new_password() -> tuple[str, str]:
    """A fresh MQTT password and its Mosquitto hash."""
    password = secrets.token_urlsafe(18)
    return password, hash_password(password)


class PasswordFileAccounts:
    """Writes device entries into Mosquitto's password file, then asks it to reload."""

    _lock = threading.Lock()  # one writer per process; the write itself is an atomic rename

    def __init__(self, path: Path, pid_file: Path | None = None) -> None:
        self.path = path
        self.pid_file = pid_file

    def set_device(self, device_id: str, password_hash: str) -> bool:
        if device_id in RESERVED_USERS:
            raise BrokerError(f"{device_id!r} is a service account name")
        with self._lock:
            entries = read_entries(self.path)
            entries[device_id] = password_hash
            write_entries(self.path, entries)
        self.reload()
        return True

    def remove_device(self, device_id: str) -> bool:
        if device_id in RESERVED_USERS:
            return False
        with self._lock:
            removed = remove_user(self.path, device_id)
        if removed:
            self.reload()
        return True

    def reload(self) -> None:
        if self.pid_file is None:
            return  # the broker's entrypoint watches the file (docker-compose)
        try:
            pid = int(self.pid_file.read_text().split()[0])
            os.kill(pid, signal.SIGHUP)
        except (OSError, ValueError, IndexError) as exc:
            raise BrokerError(f"cannot signal the broker via {self.pid_file}: {exc}") from exc


class NoBroker:
    """No password file configured: credentials are issued and kept (hashed) in the registry
    only; `jaylym device sync-broker` can write them out later."""

    def set_device(self, device_id: str, password_hash: str) -> bool:
        return False

    def remove_device(self, device_id: str) -> bool:
        return False


def broker_accounts(passwd_file: Path | None, pid_file: Path | None) -> BrokerAccounts:
    if passwd_file is None:
        return NoBroker()
    return PasswordFileAccounts(passwd_file, pid_file)
