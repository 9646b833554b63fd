"""Mosquitto password-file entries, written from Python.

Hand-written on purpose: the API container has no `mosquitto_passwd` binary, and the format
is one PBKDF2 line (`user:$7$iterations$salt$hash`, SHA-512, as Mosquitto 2.0 writes it).
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import tempfile
from pathlib import Path

ITERATIONS = 101  # what mosquitto_passwd 2.0 writes; the broker reads the count per line


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """The password-file hash of `password`, in Mosquitto 2.0's `$7$` form."""
    salt = salt if salt is not None else secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, ITERATIONS)
    salt_b64 = base64.b64encode(salt).decode()
    return f"$7${ITERATIONS}${salt_b64}${base64.b64encode(digest).decode()}"


def verify_password(password: str, encoded: str) -> bool:
    """True when `password` matches a `$7$` entry."""
    try:
        _, kind, iterations, salt_b64, digest_b64 = encoded.split("$")
    except ValueError:
        return False
    if kind != "7":
        return False
    digest = hashlib.pbkdf2_hmac(
        "sha512", password.encode(), base64.b64decode(salt_b64), int(iterations)
    )
    return secrets.compare_digest(base64.b64encode(digest).decode(), digest_b64)


def read_entries(path: Path) -> dict[str, str]:
    """username -> hash, from a password file (missing file: empty)."""
    if not path.exists():
        return {}
    entries: dict[str, str] = {}
    for line in path.read_text().splitlines():
        user, sep, encoded = line.partition(":")
        if sep and user and not user.startswith("#"):
            entries[user] = encoded
    return entries


def write_entries(path: Path, entries: dict[str, str]) -> None:
    """Replace the password file atomically, so the broker never reads half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(f"{user}:{encoded}\n" for user, encoded in sorted(entries.items()))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".passwd-")
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(tmp, 0o640)
    os.replace(tmp, path)


def set_password(path: Path, username: str, password: str) -> None:
    """Add or replace one user's entry."""
    entries = read_entries(path)
    entries[username] = hash_password(password)
    write_entries(path, entries)


def remove_user(path: Path, username: str) -> bool:
    """Remove one user's entry; True when it was there."""
    entries = read_entries(path)
    if entries.pop(username, None) is None:
        return False
    write_entries(path, entries)
    return True
