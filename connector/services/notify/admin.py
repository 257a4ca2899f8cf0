"""The merchant's side of the outbox: mail settings, own templates and their preview, the list.

A template is checked before it is saved, by compiling it and rendering it with a sample
context of its kind, so a merchant learns of a mistake at once rather than from a customer's
missing e-mail (a template broken anyway at send time falls back to the built-in one).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.domain import notify as rules
from connector.mail import MailError, Rendered, TemplateMissing, known_kinds, render
from connector.mail.render import check_override
from connector.models import MailTemplate, Notification, Shop
from connector.services.errors import Invalid, NotFound
from connector.services.notify import content
from connector.services.reads import PageRequest, list_outbox

MAIL_SETTINGS = (
    "mail_kinds",
    "support_email",
    "brand_color",
    "logo_url",
    "digest_recipients",
    "digest_wait_days",
)
PARTS = ("subject", "text", "html")
_EMAIL = re.compile(r"[^@\s,]+@[^@\s,]+\.[^@\s,]+")
_COLOR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_LOCALE = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{2,8})?")


# ---- settings ----------------------------------------------------------------------------------


def change_mail_settings(shop: Shop, changes: dict[str, Any]) -> Shop:
    """Validate and set the mail settings; "platform" needs a store with customer notes."""
    unknown = set(changes) - set(MAIL_SETTINGS)
    if unknown:
        raise Invalid("is not a known setting", field=sorted(unknown)[0])
    if "mail_kinds" in changes:
        changes["mail_kinds"] = _mail_kinds(shop, changes["mail_kinds"] or {})
    email = changes.get("support_email")
    if email is not None and not _EMAIL.fullmatch(email):
        raise Invalid("is not an e-mail address", field="support_email")
    color = changes.get("brand_color")
    if color is not None and not _COLOR.fullmatch(color):
        raise Invalid("must be a hex colour such as #1f4e79", field="brand_color")
    logo = changes.get("logo_url")
    if logo is not None and not logo.startswith("https://"):
        raise Invalid("must be an https URL", field="logo_url")
    if "digest_recipients" in changes:
        addresses = [a.strip() for a in (changes["digest_recipients"] or "").split(",")]
        if any(a and not _EMAIL.fullmatch(a) for a in addresses):
            raise Invalid("must be comma-separated e-mail addresses", field="digest_recipients")
        changes["digest_recipients"] = ",".join(a for a in addresses if a)
    days = changes.get("digest_wait_days", shop.digest_wait_days)
    if days is None or not 1 <= days <= 365:
        raise Invalid("must be between 1 and 365", field="digest_wait_days")
    for name, value in changes.items():
        setattr(shop, name, value)
    return shop


def _mail_kinds(shop: Shop, given: dict[str, str]) -> dict[str, str]:
    kinds = set(known_kinds()) | {str(k) for k in rules.CUSTOMER_KINDS | rules.MERCHANT_KINDS}
    for kind, channel in given.items():
        if kind not in kinds:
            raise Invalid(f"{kind!r} is not a message kind", field="mail_kinds")
        if channel not in rules.CHANNELS:
            raise Invalid(f"{kind}: must be one of {', '.join(rules.CHANNELS)}", field="mail_kinds")
        if channel == rules.PLATFORM and (
            shop.platform != "woocommerce" or kind in rules.MERCHANT_KINDS
        ):
            raise Invalid(
                f"{kind}: the store cannot tell the customer itself on {shop.platform} "
                "(no customer note)",
                field="mail_kinds",
            )
    return {**(shop.mail_kinds or {}), **given}


# ---- templates ---------------------------------------------------------------------------------


def _checked_address(kind: str, locale: str) -> tuple[str, str]:
    if kind not in known_kinds():
        raise NotFound(f"no message kind {kind!r}")
    normal = locale.strip().replace("_", "-").lower()
    if not _LOCALE.fullmatch(normal):
        raise Invalid("is not a language tag such as en or de-at", field="locale")
    return kind, normal


def get_template(session: Session, shop_id: int, kind: str, locale: str) -> dict[str, str]:
    kind, locale = _checked_address(kind, locale)
    parts = _parts(session, shop_id, kind, locale)
    if not parts:
        raise NotFound(f"no own template for {kind} in {locale}")
    return parts


def _parts(session: Session, shop_id: int, kind: str, locale: str) -> dict[str, str]:
    return {
        row.part: row.body
        for row in session.scalars(
            select(MailTemplate).where(
                MailTemplate.shop_id == shop_id,
                MailTemplate.kind == kind,
                MailTemplate.locale == locale,
            )
        )
    }


def put_template(
    session: Session, shop: Shop, kind: str, locale: str, parts: dict[str, str | None]
) -> dict[str, str]:
    """Set the given parts (an empty or null part removes it), after a compile and a render
    with a sample context; Invalid with the template's own message otherwise."""
    kind, locale = _checked_address(kind, locale)
    for part, source in parts.items():
        if source:
            try:
                check_override(kind, part, source)
            except MailError as exc:
                raise Invalid(str(exc), field=part) from None
    merged = {**_parts(session, shop.id, kind, locale), **parts}
    kept = {part: source for part, source in merged.items() if source}
    _sample_render(shop, kind, locale, kept)
    existing = {
        row.part: row
        for row in session.scalars(
            select(MailTemplate).where(
                MailTemplate.shop_id == shop.id,
                MailTemplate.kind == kind,
                MailTemplate.locale == locale,
            )
        )
    }
    for part, row in existing.items():
        if part not in kept:
            session.delete(row)
    for part, source in kept.items():
        if part in existing:
            existing[part].body = source
        else:
            session.add(
                MailTemplate(shop_id=shop.id, kind=kind, locale=locale, part=part, body=source)
            )
    session.flush()
    return kept


def delete_template(session: Session, shop_id: int, kind: str, locale: str) -> None:
    get_template(session, shop_id, kind, locale)
    for row in session.scalars(
        select(MailTemplate).where(
            MailTemplate.shop_id == shop_id,
            MailTemplate.kind == kind,
            MailTemplate.locale == locale,
        )
    ):
        session.delete(row)


def preview(session: Session, shop: Shop, kind: str, locale: str) -> Rendered:
    """The kind rendered with a sample context, the merchant's own parts included."""
    kind, locale = _checked_address(kind, locale)
    return _sample_render(shop, kind, locale, _parts(session, shop.id, kind, locale))


def _sample_render(shop: Shop, kind: str, locale: str, parts: dict[str, str]) -> Rendered:
    own = {(kind, locale): parts} if parts else None
    try:
        return render(kind, sample_context(shop, kind), locales=[locale, "en"], overrides=own)
    except TemplateMissing as exc:
        raise Invalid(f"{exc}: give at least a subject and a text", field="locale") from None
    except MailError as exc:
        raise Invalid(str(exc), field="template") from None


def sample_context(shop: Shop, kind: str) -> dict[str, Any]:
    """A customer or merchant as the preview shows them: every name a template may use."""
    day = date(2026, 12, 14)
    line = {
        "title": "Trail Runner - Blue / 42",
        "sku": "TRAIL-BLUE-42",
        "quantity": 1,
        "eta": day,
        "eta_source_kind": "incoming",
        "incoming_reference": "PO-1042",
        "incoming_expected_on": day - timedelta(days=2),
        "alternatives": [
            {
                "title": "Trail Runner - Black / 42",
                "sku": "TRAIL-BLACK-42",
                "url": f"https://{shop.domain}/products/trail-runner",
                "price": "$89.00",
            }
        ],
    }
    if kind in rules.MERCHANT_KINDS:
        return {
            "shop": content.shop_context(shop),
            "summary": "Order #1001: the customer asked to cancel Trail Runner - Blue / 42",
            "order_name": "#1001",
            "action": "refund",
            "day": day.isoformat(),
            "new_backorders": [
                {
                    "order_name": "#1001",
                    "sku": line["sku"],
                    "title": line["title"],
                    "quantity": 1,
                    "eta": day.isoformat(),
                }
            ],
            "late_incoming": [
                {
                    "sku": line["sku"],
                    "reference": "PO-1042",
                    "expected_on": "2026-12-01",
                    "quantity": 20,
                }
            ],
            "long_waits": [],
            "reorder": [],
            "wait_days": shop.digest_wait_days,
            "dashboard_url": "https://example.com/app/",
        }
    return {
        "shop": content.shop_context(shop),
        "customer_name": "Jane Doe",
        "order_name": "#1001",
        "status_url": "https://example.com/status/sample",
        "lines": [line],
        "old_eta": day - timedelta(days=7),
        "new_eta": day,
        "waited_days": 24,
        "alternative_title": "Trail Runner - Black / 42",
        "refund_note": "The refund goes back to your card within 5 working days.",
        "line_title": line["title"],
    }


# ---- the list ----------------------------------------------------------------------------------


def list_notifications(
    session: Session,
    shop_id: int | None,
    page: PageRequest,
    *,
    order: str | None = None,
    status: str | None = None,
) -> Sequence[Notification]:
    """Messages oldest first (one extra row: another page follows)."""
    return list_outbox(session, Notification, shop_id, page, order=order, status=status)
