"""The one clock: UTC instants; a shop's 'today' is its own calendar day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from connector.clock import FrozenClock, SystemClock, shop_today


def test_shop_today_is_the_shops_calendar_day() -> None:
    clock = FrozenClock(datetime(2026, 11, 27, 3, 30, tzinfo=UTC))
    assert shop_today(clock, "UTC") == date(2026, 11, 27)
    assert shop_today(clock, "America/Chicago") == date(2026, 11, 26)
    assert shop_today(clock, "Pacific/Auckland") == date(2026, 11, 27)


def test_unknown_zone_falls_back_to_utc() -> None:
    clock = FrozenClock(datetime(2026, 11, 27, 3, 30, tzinfo=UTC))
    assert shop_today(clock, "Mars/Olympus") == date(2026, 11, 27)


def test_frozen_clock_moves_only_when_told() -> None:
    clock = FrozenClock(datetime(2026, 1, 1, tzinfo=UTC))
    clock.advance(timedelta(days=2))
    assert clock.now() == datetime(2026, 1, 3, tzinfo=UTC)
    with pytest.raises(ValueError):
        FrozenClock(datetime(2026, 1, 1))  # noqa: DTZ001  (naive on purpose)


def test_system_clock_is_aware_utc() -> None:
    assert SystemClock().now().utcoffset() == timedelta(0)


def test_rows_are_stamped_from_the_injected_clock(runtime) -> None:  # type: ignore[no-untyped-def]
    from connector.models import Shop
    from tests.shops import make_shop

    shop = make_shop(runtime)
    with runtime.db.transaction() as session:
        row = session.get(Shop, shop.shop_id)
        assert row.created_at == runtime.clock.now()
        assert row.installed_at == runtime.clock.now()
        runtime.clock.advance(timedelta(hours=1))
        row.name = "Renamed"
    with runtime.db.transaction() as session:
        row = session.get(Shop, shop.shop_id)
        assert row.updated_at == runtime.clock.now()
        assert row.created_at == runtime.clock.now() - timedelta(hours=1)
