"""The SQL DeviceDirectory the ingest reads, and the two tables the ingest writes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from jaylym.models import DeviceDirectory, DeviceInfo
from jaylym.registry.directory import SqlDeviceDirectory
from jaylym.registry.models import (
    DLQ_PAYLOAD_MAX,
    Device,
    DeviceStats,
    DlqMessage,
    Herd,
    Okrug,
)


def _seed(engine: Engine) -> None:
    with Session(engine) as s:
        s.add(Okrug(id="sogety", name_kk="Сөгеті", name_ru="Согеты", name_en="Sogety"))
        s.flush()
        s.add(Herd(id="flock-1", okrug_id="sogety", name="flock", sheep=100))
        s.flush()
        s.add_all(
            [
                Device(
                    id="collar-1",
                    kind="collar",
                    okrug_id="sogety",
                    herd_id="flock-1",
                    dev_eui="70b3d57ed0000001",
                    expected_interval_s=600,
                ),
                Device(
                    id="soil-1",
                    kind="soil",
                    okrug_id="sogety",
                    depths_cm=[10, 30],
                    active=False,
                    revoked_at=datetime.now(UTC),
                ),
            ]
        )
        s.commit()


def test_lookup_returns_device_info_and_revoked_inactive(engine: Engine) -> None:
    _seed(engine)
    directory: DeviceDirectory = SqlDeviceDirectory(engine)
    assert directory.lookup("collar-1") == DeviceInfo(
        device_id="collar-1",
        kind="collar",
        okrug="sogety",
        herd_id="flock-1",
        active=True,
        dev_eui="70b3d57ed0000001",
        expected_interval_s=600,
    )
    soil = directory.lookup("soil-1")
    assert soil is not None
    assert soil.kind == "soil"
    assert soil.active is False
    assert directory.lookup("nope-1") is None


@pytest.mark.parametrize("hostile", ["", "A", "x' OR '1'='1", "collar-1/#", "c" * 33, "Collar-1"])
def test_lookup_refuses_what_is_not_a_device_id(engine: Engine, hostile: str) -> None:
    _seed(engine)
    assert SqlDeviceDirectory(engine).lookup(hostile) is None


def test_by_dev_eui_is_case_insensitive_and_checked(engine: Engine) -> None:
    _seed(engine)
    directory = SqlDeviceDirectory(engine)
    found = directory.by_dev_eui("70B3D57ED0000001")
    assert found is not None
    assert found.device_id == "collar-1"
    assert directory.by_dev_eui("70b3d57ed0000002") is None
    assert directory.by_dev_eui("zz' --") is None


def test_device_stats_and_dlq_round_trip(engine: Engine) -> None:
    payload = bytes(range(256)) * 20  # 5120 bytes, binary
    with Session(engine) as s:
        s.add(DeviceStats(device_id="collar-1", received=10, missing=2, duplicates=1, last_seq=12))
        s.add(
            DlqMessage(
                topic="pasture/v1/sogety/gps/collar-1/up",
                reason="bad_json",
                detail="Expecting value",
                payload=payload[:DLQ_PAYLOAD_MAX],
                payload_size=len(payload),
            )
        )
        s.commit()
    with Session(engine) as s:
        stats = s.get(DeviceStats, "collar-1")
        assert stats is not None
        assert (stats.received, stats.missing, stats.last_seq) == (10, 2, 12)
        assert stats.updated_at.tzinfo is not None
        msg = s.scalars(select(DlqMessage)).one()
        assert msg.payload == payload[:4096]
        assert msg.payload_size == 5120
        assert msg.received_at.tzinfo is not None


def test_foreign_keys_hold_on_both_databases(engine: Engine) -> None:
    with Session(engine) as s:
        s.add(Device(id="orphan-1", kind="collar", okrug_id="no-such-okrug"))
        with pytest.raises(IntegrityError):
            s.commit()
