"""Stock-out history: when each variant had nothing to sell, for the demand history.

A day the shelf was empty and no one could order shows zero sales; counting it as zero demand
would teach the forecast that nobody wants the item, and the next reorder would be too small —
the spiral that stock-outs cause. The engine notes each variant's in-stock flag flipping here,
in the transaction of the change, so the periods are exact from the app's install on.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from connector.models import StockOut

_CHUNK = 500


class StockFlip(NamedTuple):
    shop_id: int
    variant_id: int
    in_stock: bool | None


def note_stock_outs(session: Session, now: datetime, flips: Sequence[StockFlip]) -> None:
    """Open a period for each variant that ran out, close the open one of each that is back."""
    ended = [f.variant_id for f in flips if f.in_stock]
    for start in range(0, len(ended), _CHUNK):
        session.execute(
            update(StockOut)
            .where(
                StockOut.variant_id.in_(ended[start : start + _CHUNK]),
                StockOut.ended_at.is_(None),
            )
            .values(ended_at=now)
            .execution_options(synchronize_session=False)
        )
    out = [f for f in flips if f.in_stock is False]
    open_already: set[int] = set()
    for start in range(0, len(out), _CHUNK):
        open_already.update(
            session.scalars(
                select(StockOut.variant_id).where(
                    StockOut.variant_id.in_([f.variant_id for f in out[start : start + _CHUNK]]),
                    StockOut.ended_at.is_(None),
                )
            )
        )
    rows = [
        {"shop_id": f.shop_id, "variant_id": f.variant_id, "started_at": now}
        for f in out
        if f.variant_id not in open_already
    ]
    if rows:
        session.execute(insert(StockOut), rows)
