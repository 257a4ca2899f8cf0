"""Lead times learned from receipts: how long a supplier really takes, and how much that varies.

A merchant's "14 days" is a hope; receipts say what happened. Each receipt gives two numbers: the
lead time (ordered → received) and the delay (expected → received, negative when early). Both
are kept as Welford running summaries, so a receipt is one update and the variance is exact.
The ETA walk uses the learned mean once enough receipts back it; the reorder point uses the
spread too (safety stock grows with an unreliable supplier).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date

# Fewer receipts than this say too little: the merchant's setting (or the shop's) stands.
MIN_RECEIPTS = 3


@dataclass(frozen=True, slots=True)
class LeadTimeSummary:
    receipts: int = 0
    mean_days: float = 0.0
    m2_days: float = 0.0
    mean_delay_days: float = 0.0
    m2_delay_days: float = 0.0

    @property
    def std_days(self) -> float:
        return math.sqrt(self.m2_days / (self.receipts - 1)) if self.receipts > 1 else 0.0

    @property
    def std_delay_days(self) -> float:
        if self.receipts < 2:
            return 0.0
        return math.sqrt(self.m2_delay_days / (self.receipts - 1))

    @property
    def trusted(self) -> bool:
        return self.receipts >= MIN_RECEIPTS

    @property
    def whole_days(self) -> int:
        """The ETA walk counts whole days; a part day is a day the customer still waits."""
        return max(0, math.ceil(self.mean_days - 1e-9))


@dataclass(frozen=True, slots=True)
class Receipt:
    ordered_on: date
    expected_on: date
    received_on: date

    @property
    def lead_days(self) -> int:
        return (self.received_on - self.ordered_on).days

    @property
    def delay_days(self) -> int:
        return (self.received_on - self.expected_on).days


def _welford(count: int, mean: float, m2: float, value: float) -> tuple[float, float]:
    delta = value - mean
    mean += delta / count
    return mean, m2 + delta * (value - mean)


def add_receipt(summary: LeadTimeSummary, receipt: Receipt) -> LeadTimeSummary:
    count = summary.receipts + 1
    mean, m2 = _welford(count, summary.mean_days, summary.m2_days, receipt.lead_days)
    delay, m2_delay = _welford(
        count, summary.mean_delay_days, summary.m2_delay_days, receipt.delay_days
    )
    return replace(
        summary,
        receipts=count,
        mean_days=mean,
        m2_days=m2,
        mean_delay_days=delay,
        m2_delay_days=m2_delay,
    )


@dataclass(frozen=True, slots=True)
class LeadTime:
    mean_days: float
    std_days: float
    source: str  # "variant" (the merchant's own), "learned", "supplier" or "shop"


def lead_time(
    *,
    set_days: int | None,
    own: LeadTimeSummary | None,
    supplier: LeadTimeSummary | None,
    shop_days: int,
) -> LeadTime:
    """The lead time to plan with. A merchant's own setting on the variant is a decision and
    wins; then the variant's receipts, then its supplier's, then the shop's default. The spread
    comes from whichever receipts there are, even where a setting gives the mean."""
    learned = next((s for s in (own, supplier) if s is not None and s.trusted), None)
    spread = learned.std_days if learned is not None else 0.0
    if set_days is not None:
        return LeadTime(float(set_days), spread, "variant")
    if learned is not None:
        return LeadTime(learned.mean_days, spread, "learned" if learned is own else "supplier")
    return LeadTime(float(shop_days), 0.0, "shop")
