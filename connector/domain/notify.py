"""What the customer should be told, and when: the rules of the notification outbox, pure.

Every rule compares the engine's current promise with the last ETA the customer was *told*
(not the last one the engine computed), so a burst of changes the customer never heard about
is judged as one change, and a change undone before the message went out sends nothing.

"ready" or "expedited": a line that waited longer than the shop's expedite limit gets
"expedited" when it becomes ready (the push-back part tags its order "expedite" for the
warehouse). That message already says the stock arrived and the parcel ships expedited, so
such a line never gets "ready" as well: one message per event, the more useful one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class Kind(StrEnum):
    PLACED = "placed"
    ETA_LATER = "eta_later"
    ETA_EARLIER = "eta_earlier"
    READY = "ready"
    LATE = "late"
    EXPEDITED = "expedited"
    CANCEL_CONFIRMED = "cancel_confirmed"
    SWITCH_CONFIRMED = "switch_confirmed"
    CHANGE_NEEDS_MERCHANT = "change_needs_merchant"
    MERCHANT_CHANGE = "merchant_change"
    DIGEST = "digest"
    REORDER_ALERT = "reorder_alert"


CUSTOMER_KINDS = frozenset(
    {
        Kind.PLACED,
        Kind.ETA_LATER,
        Kind.ETA_EARLIER,
        Kind.READY,
        Kind.LATE,
        Kind.EXPEDITED,
        Kind.CANCEL_CONFIRMED,
        Kind.SWITCH_CONFIRMED,
        Kind.CHANGE_NEEDS_MERCHANT,
    }
)
MERCHANT_KINDS = frozenset({Kind.MERCHANT_CHANGE, Kind.DIGEST, Kind.REORDER_ALERT})
# Messages that tell the customer a date: the last one of these is what the customer knows.
PROMISE_KINDS = frozenset({Kind.PLACED, Kind.ETA_LATER, Kind.ETA_EARLIER, Kind.LATE})

EMAIL, PLATFORM, OFF = "email", "platform", "off"
CHANNELS = (EMAIL, PLATFORM, OFF)
# Not a shop's choice per kind: a row addressed to the merchant's own URL (reorder alerts).
WEBHOOK = "webhook"
QUEUED = frozenset({"waiting", "allocated"})


def channel_for(kind: str, mail_kinds: dict[str, str] | None) -> str:
    """The shop's choice for a kind; e-mail unless the merchant said otherwise."""
    chosen = (mail_kinds or {}).get(kind, EMAIL)
    return chosen if chosen in CHANNELS else EMAIL


@dataclass(frozen=True)
class Told:
    """What the customer knows about a line: the date, and which message said it (`version`,
    the message's id; 0 when no message ever did and the engine's previous date stands in)."""

    eta: date | None
    version: int


def for_eta_change(
    told: Told, new_eta: date | None, *, today: date, threshold_days: int
) -> str | None:
    """An ETA moved: later is always said (as "late" once the told date has passed), earlier
    only when more than the shop's threshold earlier, since good news by a day is noise."""
    if told.eta is None or new_eta is None or new_eta == told.eta:
        return None
    if new_eta > told.eta:
        return Kind.LATE if today > told.eta else Kind.ETA_LATER
    if (told.eta - new_eta).days > threshold_days:
        return Kind.ETA_EARLIER
    return None


def for_event(
    name: str,
    told: Told,
    new_eta: date | None,
    *,
    today: date,
    threshold_days: int,
    expedited: bool = False,
) -> str | None:
    """The message an engine event calls for; `expedited`: the line waited past the shop's
    expedite limit (then "expedited" is its message, not "ready": see the module docstring)."""
    if name == "BackorderCreated":
        return Kind.PLACED
    if name == "EtaChanged":
        return for_eta_change(told, new_eta, today=today, threshold_days=threshold_days)
    if name == "BackorderReady":
        return Kind.EXPEDITED if expedited else Kind.READY
    return None


def late_due(told_eta: date | None, current_eta: date | None, *, today: date) -> bool:
    """The promised date has passed (shop-local): apologise with the new date. Waits for the
    re-plan when the engine's own date has lapsed too, so the apology never names the past."""
    if told_eta is None or not today > told_eta:
        return False
    return current_eta is not None and current_eta >= today


def dedupe_key(kind: str, backorder_id: int, told: Told | None = None) -> str:
    """One message per (kind, line, ETA version): retries, replays and duplicate webhooks
    arrive at the same key. A late notice is keyed by the date it apologises for, so the
    hourly check and an ETA change finding the same lapse record one message."""
    if kind == Kind.LATE and told is not None and told.eta is not None:
        return f"late:{backorder_id}:{told.eta.isoformat()}"
    if kind in (Kind.ETA_LATER, Kind.ETA_EARLIER) and told is not None:
        eta = told.eta.isoformat() if told.eta else "-"
        return f"{kind}:{backorder_id}:{told.version}:{eta}"
    return f"{kind}:{backorder_id}"


def still_true(
    kind: str,
    *,
    status: str,
    told_eta: date | None,
    current_eta: date | None,
    today: date,
    threshold_days: int,
) -> str | None:
    """Checked again just before sending: None if the message still holds, else why not.

    The outbox may hold a message for minutes (SMTP down) or hours (retries): an ETA moved
    later and back before sending must not reach the customer, nor a "ready" for a line that
    went back to waiting.
    """
    if kind in PROMISE_KINDS and status not in QUEUED:
        return f"the line is {status}, no longer waiting"
    if kind == Kind.ETA_LATER and (
        current_eta is None or told_eta is None or current_eta <= told_eta
    ):
        return "the ETA change was undone before sending"
    if kind == Kind.ETA_EARLIER and (
        current_eta is None or told_eta is None or (told_eta - current_eta).days <= threshold_days
    ):
        return "the ETA is no longer earlier by more than the shop's threshold"
    if kind == Kind.LATE and (current_eta is None or current_eta < today):
        return "no new date to give yet"
    if kind in (Kind.READY, Kind.EXPEDITED) and status not in ("ready", "fulfilled"):
        return f"the line is {status} again, not ready"
    return None


def source_kind(eta_source: str | None) -> tuple[str, str | None]:
    """ "incoming:PO-77" → ("incoming", "PO-77"); the e-mail explains what the date rests on."""
    if not eta_source:
        return "lead_time", None
    kind, _, reference = eta_source.partition(":")
    if kind not in ("in_stock", "incoming", "lead_time", "manual"):
        return "lead_time", None
    return kind, reference or None


DIGEST_HOUR = 8  # the merchant's digest goes out at 08:00 shop-local


def digest_due(local_hour: int) -> bool:
    """The digest is due from 08:00 shop-local; its key (the local date) makes it once a day."""
    return local_hour >= DIGEST_HOUR
