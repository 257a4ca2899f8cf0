"""Sending one outbox row: claim it, build and check the message, hand it over, record it.

The retrying-outbox pattern of connector/services/store_writes.py: a job per row, a claim with
an expiry (status "sending"; a crashed send is taken up again once the claim lapses), backoff
with jitter, MAX_ATTEMPTS, and a sweep that re-queues what is due. SMTP and the store are
called outside any transaction.

States: pending, sending, sent, suppressed (the rule no longer holds; the reason is in the
payload), failed (refused, or out of attempts; `last_error` says why), cancelled (the shop
uninstalled or the customer was erased). With no SMTP_URL an e-mail stays pending, no attempt
spent, with last_error "SMTP_URL is not set": it goes once the server is configured.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from email.utils import formataddr, parseaddr
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from adapters.base import NeedsReauthorization, NotSupported
from connector.clock import shop_today
from connector.domain import notify as rules
from connector.mail import (
    MailError,
    MailPermanentError,
    MailTemporaryError,
    Rendered,
    TemplateMissing,
    build_message,
    render,
)
from connector.models import Backorder, Notification, Order, Shop
from connector.services.notify import content, hooks
from connector.services.notify.record import JOB

# An e-mail is retried on the store writes' schedule (30 s, 2 min, 8 min, 32 min, ~2 h), and
# a customer note through the adapter with the same one retry layer.
from connector.services.store_writes import (
    ATTEMPTS_PER_TRY,
    CLAIM,
    MAX_ATTEMPTS,
    backoff,
    sweep_due,
)

if TYPE_CHECKING:
    from connector.runtime import Runtime

log = logging.getLogger(__name__)

KIND_HEADER = "X-Backorder-Kind"
NO_SMTP = "SMTP_URL is not set"


@dataclass(frozen=True)
class _Claim:
    notification_id: int
    shop_id: int
    kind: str
    channel: str
    recipient: str
    order_external_id: str | None
    rendered: Rendered
    facts: dict[str, Any]  # what the customer is told, recorded once it went out


def _is_due(now: datetime) -> Any:
    return and_(
        Notification.status.in_(("pending", "sending")),
        or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= now),
    )


def run(runtime: Runtime, notification_id: int) -> str | None:
    """The job. Returns the state the row ended in, or None when there was nothing to do."""
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        row = session.get(Notification, notification_id)
        if row is None or row.status not in ("pending", "sending"):
            return None
        if row.next_attempt_at is not None and row.next_attempt_at > now:
            return None
        shop = session.get_one(Shop, row.shop_id)
        order = session.get(Order, row.order_id) if row.order_id else None
        if shop.status != "active" or (order is not None and order.redacted_at is not None):
            reason = "shop uninstalled" if shop.status != "active" else "customer erased"
            return _finish(row, "cancelled", now, error=reason)
        channel = _channel(shop, row)
        if channel == rules.OFF:
            return _suppress(row, now, "the shop switched this kind off")
        if channel == rules.EMAIL and runtime.mailer is None:
            row.last_error = NO_SMTP  # no attempt spent: it goes once SMTP is configured
            return "pending"
        claimed = session.execute(
            update(Notification)
            .where(Notification.id == notification_id, _is_due(now))
            .values(status="sending", next_attempt_at=now + CLAIM, attempts=row.attempts + 1)
        ).rowcount  # type: ignore[attr-defined]
        if claimed != 1:
            return None  # another worker took it between the read and the claim
        session.refresh(row)
        row.channel = channel
        prepared = _prepare(runtime, session, shop, order, row)
        if isinstance(prepared, str):
            return _suppress(row, now, prepared)
        rendered, facts = prepared
        claim = _Claim(
            row.id,
            shop.id,
            row.kind,
            channel,
            row.recipient,
            order.external_id if order is not None else None,
            rendered,
            facts,
        )
    return _deliver(runtime, claim)


def _channel(shop: Shop, row: Notification) -> str:
    """The shop's choice at send time: a merchant who changes it expects waiting messages to
    follow. Merchant messages are always e-mail (or the merchant's own webhook, where the row
    was addressed to it); a kind is never sent both ways."""
    if row.channel == rules.WEBHOOK:
        off = rules.channel_for(row.kind, shop.mail_kinds) == rules.OFF
        return rules.OFF if off else rules.WEBHOOK
    if row.kind in rules.MERCHANT_KINDS:
        return (
            rules.OFF if rules.channel_for(row.kind, shop.mail_kinds) == rules.OFF else rules.EMAIL
        )
    return rules.channel_for(row.kind, shop.mail_kinds)


def _prepare(
    runtime: Runtime, session: Session, shop: Shop, order: Order | None, row: Notification
) -> tuple[Rendered, dict[str, Any]] | str:
    """The rendered message and the facts it tells, or why it should not go (any more)."""
    if row.channel == rules.WEBHOOK:
        if not shop.reorder_webhook_url or not shop.reorder_webhook_secret:
            return "the shop removed its webhook"
        context = row.payload.get("context", {})
        body = hooks.body_of(context).decode()
        return Rendered(hooks.EVENT, body, "", ""), {"variants": len(context.get("variants", ()))}
    today = shop_today(runtime.clock, shop.timezone)
    backorder = session.get(Backorder, row.backorder_id) if row.backorder_id else None
    if row.kind in rules.MERCHANT_KINDS:
        context = content.merchant_context(shop, row.payload)
    else:
        if order is None:
            return "the order is gone"
        if backorder is not None:
            reason = rules.still_true(
                row.kind,
                status=backorder.status,
                told_eta=content.formats.as_date(row.payload.get("told_eta")),
                current_eta=backorder.eta,
                today=today,
                threshold_days=shop.eta_change_threshold_days,
            )
            if reason is None and row.kind == rules.Kind.READY and _expedited(session, row):
                reason = "the line gets the expedited notice instead"
            if reason is not None:
                return reason
        context = content.customer_context(
            session, runtime.settings, shop, order, backorder, row.payload, clock=runtime.clock
        )
    rendered = _render(session, shop, order, row, context)
    if rendered is None:
        return "no template for this kind"
    facts: dict[str, Any] = {"locale": rendered.locale, "subject": rendered.subject}
    if backorder is not None:
        facts.update(
            eta=backorder.eta.isoformat() if backorder.eta else None,
            eta_source=backorder.eta_source,
            alternatives=[  # those the message showed
                a["title"]
                for line in context.get("lines", ())
                if not isinstance(line["alternatives"], content.Lazy) or line["alternatives"].used
                for a in line["alternatives"]
            ],
        )
    return rendered, facts


def _expedited(session: Session, row: Notification) -> bool:
    return (
        session.scalar(
            select(Notification.id).where(
                Notification.backorder_id == row.backorder_id,
                Notification.kind == rules.Kind.EXPEDITED,
                Notification.status.not_in(("cancelled", "failed")),
            )
        )
        is not None
    )


def _render(
    session: Session, shop: Shop, order: Order | None, row: Notification, context: dict[str, Any]
) -> Rendered | None:
    """With the merchant's own template; a broken one falls back to the built-in, logged."""
    locales = content.locales(shop, order)
    own = content.overrides(session, shop.id, row.kind)
    try:
        try:
            return render(row.kind, context, locales=locales, overrides=own or None)
        except MailError as exc:
            log.warning(
                "shop %s's own %s template failed (%s); the built-in one is used for message %s",
                shop.id,
                row.kind,
                exc,
                row.id,
            )
            return render(row.kind, context, locales=locales)
    except TemplateMissing:
        return None


def _deliver(runtime: Runtime, claim: _Claim) -> str | None:
    try:
        if claim.channel == rules.PLATFORM:
            _to_store(runtime, claim)
        elif claim.channel == rules.WEBHOOK:
            _to_hook(runtime, claim)
        else:
            _to_smtp(runtime, claim)
    except NotSupported as exc:  # never e-mailed instead: a kind goes one way only
        outcome, error = "suppressed", f"the store has no customer note: {exc}"
    except NeedsReauthorization as exc:
        outcome, error = "failed", f"the store refused our credentials: {exc}"
    except (MailPermanentError, hooks.HookPermanentError) as exc:
        outcome, error = "failed", f"{type(exc).__name__}: {exc}"
    except (MailTemporaryError, Exception) as exc:  # recorded on the row and retried
        outcome, error = "retry", f"{type(exc).__name__}: {exc}"
    else:
        outcome, error = "sent", None
    if error is not None:
        log.warning(
            "notification %s (%s) %s: %s", claim.notification_id, claim.channel, outcome, error
        )
    with runtime.db.transaction() as session:
        row = session.get(Notification, claim.notification_id, with_for_update=True)
        if row is None or row.status != "sending":
            return None  # cancelled meanwhile (uninstall)
        now = runtime.clock.now()
        if outcome == "retry":
            if row.attempts >= MAX_ATTEMPTS:
                return _finish(row, "failed", now, error=error)
            row.status, row.last_error = "pending", error
            row.next_attempt_at = now + backoff(row.attempts)
            return "pending"
        if outcome == "sent":
            row.payload = {**row.payload, **claim.facts}
            row.sent_at = now
        elif outcome == "suppressed":
            row.payload = {**row.payload, "reason": error}
        return _finish(row, outcome, now, error=error if outcome == "failed" else None)


def _to_smtp(runtime: Runtime, claim: _Claim) -> None:
    mailer = runtime.mailer
    if mailer is None:  # the setting went away between claim and send
        raise MailTemporaryError(NO_SMTP)
    settings = runtime.settings
    with runtime.db.transaction() as session:
        shop = session.get_one(Shop, claim.shop_id)
        shop_name, reply_to = shop.name or shop.domain, shop.support_email
    _, address = parseaddr(settings.MAIL_FROM)
    message = build_message(
        claim.rendered,
        sender=formataddr((shop_name, address)),
        to=claim.recipient,
        reply_to=reply_to,
        # From the row: a retry after a crash is the same message to the customer's client.
        message_id=f"notification-{claim.notification_id}",
        # Which message this is, for the shop's mail rules and for tests and benchmarks.
        headers={KIND_HEADER: claim.kind},
        sent_at=runtime.clock.now(),
    )
    mailer.send(message)


def _to_hook(runtime: Runtime, claim: _Claim) -> None:
    with runtime.db.transaction() as session:
        sealed = session.get_one(Shop, claim.shop_id).reorder_webhook_secret
    if not sealed:
        raise hooks.HookPermanentError("the shop removed its webhook secret")
    secret = runtime.vault.open(sealed)["secret"]
    hooks.post(runtime, claim.recipient, secret, claim.rendered.text.encode())


def _to_store(runtime: Runtime, claim: _Claim) -> None:
    from connector.stores import adapter_for

    with runtime.db.transaction() as session:
        shop = session.get_one(Shop, claim.shop_id)
        adapter = adapter_for(runtime, shop, max_attempts=ATTEMPTS_PER_TRY)
    if claim.order_external_id is None:
        raise NotSupported("a store note needs an order")
    add_note = getattr(adapter, "add_customer_note", None)
    if add_note is None:
        raise NotSupported(f"{shop.platform} adapter has no customer note")
    add_note(claim.order_external_id, claim.rendered.text)


def _suppress(row: Notification, now: datetime, reason: str) -> str:
    row.payload = {**row.payload, "reason": reason}
    log.info("notification %s (%s) suppressed: %s", row.id, row.kind, reason)
    return _finish(row, "suppressed", now)


def _finish(row: Notification, status: str, now: datetime, *, error: str | None = None) -> str:
    row.status, row.next_attempt_at = status, None
    row.last_error = error[:2000] if error else None
    return status


def sweep(runtime: Runtime, everything: bool = False) -> int:
    """Queue rows that are due and not on their first trip: retries, crashed sends, restarts.
    E-mails never tried wait for SMTP_URL; store notes need not."""
    only = Notification.channel != rules.EMAIL if runtime.mailer is None else None
    return sweep_due(runtime, Notification, JOB, everything=everything, only=only)
