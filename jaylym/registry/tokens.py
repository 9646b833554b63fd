"""API tokens: opaque random strings, stored only as a peppered hash, shown once.

HMAC-SHA256 rather than a slow password hash: the token carries 256 bits of randomness, so
there is nothing to brute-force, and every request must verify it cheaply. The pepper (a
setting, not in the database) means a leaked database alone cannot confirm a token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_PREFIX = "jly_"  # noqa: S105 - a marker for secret scanners, not a secret


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str, pepper: str) -> str:
    return hmac.new(pepper.encode(), token.encode(), hashlib.sha256).hexdigest()


def display_prefix(token: str) -> str:
    """The first characters, enough to tell tokens apart in a list; never enough to use."""
    return token[:10]
