"""The migrations ship inside the wheel, so an installed `jaylym db upgrade` works."""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch

from setuptools import find_packages

from jaylym.registry.migrate import MIGRATIONS
from jaylym.services import REPO_ROOT


def test_migration_files_are_in_packages_and_package_data() -> None:
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = set(find_packages(where=str(REPO_ROOT), include=include))
    assert {"jaylym.registry.migrations", "jaylym.registry.migrations.versions"} <= packages
    patterns = config["tool"]["setuptools"]["package-data"]["*"]
    for path in MIGRATIONS.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            shipped = path.suffix == ".py" or any(fnmatch(path.name, p) for p in patterns)
            assert shipped, f"{path.relative_to(REPO_ROOT)} would be missing from the wheel"
