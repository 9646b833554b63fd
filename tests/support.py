"""Helpers shared by tests: where the shared data lives, and how to say a service is missing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(what: str) -> None:
    """Fail in CI, skip elsewhere, with one message naming what is missing."""
    message = f"{what} (set the URL variable, install the Debian package, or run Docker)"
    if IN_CI:
        pytest.fail(f"CI=true and no {message}", pytrace=False)
    pytest.skip(f"no {message}")


def shared_path(*parts: str) -> Path:
    """A file under ../shared/, or skip with a message when the folder is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not found at {path} (the project reads ../shared/data/)")
    return path
