"""Season boundaries: when a pasture's forage account starts again.

A pasture of kind K has its season start every year on K's local start date (midnight in the
configured zone). Utilisation counts from the latest start at or before `now`, so grazing a
summer pasture in winter still eats into last summer's growth until the next summer starts.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from api.grazing.config import GrazingConfig, SeasonKind, parse_month_day
from jaylym.models import datetime_to_ms, ms_to_datetime


def season_start_ms(kind: SeasonKind, now_ms: int, config: GrazingConfig) -> int:
    """UTC milliseconds of the latest start of season `kind` at or before `now_ms`."""
    month, day = parse_month_day(config.season_starts[kind])
    zone = ZoneInfo(config.timezone)
    local_now = ms_to_datetime(now_ms).astimezone(zone)
    start = datetime(local_now.year, month, day, tzinfo=zone)
    if datetime_to_ms(start) > now_ms:
        start = datetime(local_now.year - 1, month, day, tzinfo=zone)
    return datetime_to_ms(start)


def next_season_start_ms(kind: SeasonKind, now_ms: int, config: GrazingConfig) -> int:
    """UTC milliseconds of the next start of season `kind` after `now_ms`: when the
    pasture's account restarts."""
    month, day = parse_month_day(config.season_starts[kind])
    zone = ZoneInfo(config.timezone)
    start = ms_to_datetime(season_start_ms(kind, now_ms, config)).astimezone(zone)
    return datetime_to_ms(datetime(start.year + 1, month, day, tzinfo=zone))
