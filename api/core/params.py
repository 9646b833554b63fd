"""Path parameters: ids are checked at the door (the device-id form for slugs, a database
integer for numeric ids), so hostile values never reach a query."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from jaylym.settings import DEVICE_ID_PATTERN

IntId = Annotated[int, Path(ge=1, le=2**31 - 1, description="Numeric id.")]
SlugId = Annotated[
    str, Path(pattern=DEVICE_ID_PATTERN, description="Lowercase `[a-z0-9-]`, 3-32 characters.")
]
