"""Keep the `jaylym` CLI's logging set-up from outliving a test.

`jaylym`'s root callback configures structlog and stdlib logging to write to the `sys.stderr`
of the moment. Under typer's CliRunner that is a buffer closed when the invocation ends, so
any later log line in the session (the store's, say) would fail on a closed file.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    config = structlog.get_config()
    handlers = logging.root.handlers[:]
    level = logging.root.level
    yield
    structlog.configure(**config)
    logging.root.handlers[:] = handlers
    logging.root.setLevel(level)
