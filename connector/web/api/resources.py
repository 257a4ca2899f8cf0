"""The JSON API v1 routes: parse, call the read model or the service, map to the contract."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, TypeVar

from flask import url_for

from connector.commands import execute
from connector.models import Notification, Shop, Variant
from connector.services import reads
from connector.services.alternatives import alternatives_for, set_rules
from connector.services.backorders import Unset, change_backorder
from connector.services.notify import admin as mail_admin
from connector.services.selling import change_settings, hand_back
from connector.services.stock import add_incoming, find_variant, receive_incoming
from connector.services.store_writes import list_writes
from connector.web.api.pagination import Cursors
from connector.web.api.routing import Call, operation
from connector.web.api.schemas import (
    AlternativeList,
    AlternativeOut,
    AlternativeRulesIn,
    AlternativeRulesOut,
    AlternativesQuery,
    BackorderOut,
    BackorderPage,
    BackorderPatch,
    BackorderQuery,
    EtaHistoryOut,
    IncomingIn,
    IncomingOut,
    IncomingPage,
    IncomingQuery,
    IncomingReceiveIn,
    ListQuery,
    MailPreviewOut,
    MailTemplateIn,
    MailTemplateOut,
    NotificationOut,
    NotificationPage,
    NotificationQuery,
    SellingOut,
    ShopOut,
    ShopPage,
    ShopPatch,
    ShopQuery,
    StoredAlternativesOut,
    StoreWriteOut,
    StoreWritePage,
    StoreWriteQuery,
    VariantOut,
    VariantPage,
    VariantPatch,
    VariantQuery,
)
from connector.web.errors import ApiError

Row = TypeVar("Row")


def _page_request(call: Call, resource: str) -> reads.PageRequest:
    query: ListQuery = call.query
    after = None
    if query.cursor is not None:
        after = Cursors(call.runtime.settings.SECRET_KEY).decode(resource, query.cursor)
    return reads.PageRequest(limit=query.limit, after_id=after)


def _paged(
    call: Call, resource: str, rows: Sequence[Row], row_id: Callable[[Row], int]
) -> tuple[list[Row], str | None]:
    limit = call.query.limit
    if len(rows) <= limit:
        return list(rows), None
    kept = list(rows[:limit])
    cursor = Cursors(call.runtime.settings.SECRET_KEY).encode(resource, row_id(kept[-1]))
    return kept, cursor


def _not_found(what: str, ident: int) -> ApiError:
    return ApiError(404, "not_found", f"no {what} with id {ident}")


# ---- shops -------------------------------------------------------------------------------------


def _shop_out(shop: Shop) -> ShopOut:
    return ShopOut.model_validate(shop, from_attributes=True)


@operation(
    "GET",
    "/shops",
    tag="shops",
    summary="Shops this token may see",
    response=ShopPage,
    query=ListQuery,
    errors=(403,),
)
def shops_list(call: Call) -> ShopPage:
    scope = call.principal.scope(call.query.shop_id)
    with call.runtime.db.transaction() as session:
        rows = reads.list_shops(session, scope, _page_request(call, "shops"))
        items, cursor = _paged(call, "shops", rows, lambda shop: shop.id)
        return ShopPage(items=[_shop_out(s) for s in items], next_cursor=cursor)


@operation(
    "GET", "/shops/<int:shop_id>", tag="shops", summary="One shop", response=ShopOut, errors=(404,)
)
def shops_get(call: Call, shop_id: int) -> ShopOut:
    with call.runtime.db.transaction() as session:
        shop = session.get(Shop, shop_id)
        if shop is None or not (call.principal.is_admin or call.principal.shop_id == shop_id):
            raise _not_found("shop", shop_id)
        return _shop_out(shop)


@operation(
    "PATCH",
    "/shops/<int:shop_id>",
    tag="shops",
    summary="Selling on backorder (opt in, maximum promise, cap) and telling customers "
    "(mail kinds, support address, branding, digest)",
    response=ShopOut,
    body=ShopPatch,
    errors=(404, 422),
)
def shops_patch(call: Call, shop_id: int) -> ShopOut:
    body: ShopPatch = call.body
    changes = body.model_dump(include=body.model_fields_set)

    def change(session: Any) -> ShopOut:
        shop = session.get(Shop, shop_id)
        if shop is None or not (call.principal.is_admin or call.principal.shop_id == shop_id):
            raise _not_found("shop", shop_id)
        mail = {k: v for k, v in changes.items() if k in mail_admin.MAIL_SETTINGS}
        planning = {k: v for k, v in changes.items() if k in ("service_level", "review_days")}
        selling = {k: v for k, v in changes.items() if k not in mail and k not in planning}
        if "service_level" in planning:
            shop.service_level = Decimal(str(round(planning["service_level"], 3)))
        if "review_days" in planning:
            shop.review_days = planning["review_days"]
        mail_admin.change_mail_settings(shop, mail)
        if selling:
            change_settings(call.runtime, session, shop, selling)
        session.flush()
        return _shop_out(shop)

    return execute(call.runtime, change)


# ---- variants ----------------------------------------------------------------------------------


def _variant_out(row: reads.VariantRow) -> VariantOut:
    v = row.variant
    return VariantOut(
        id=v.id,
        shop_id=v.shop_id,
        external_id=v.external_id,
        product_external_id=row.product_external_id,
        sku=v.sku,
        title=v.title,
        price=v.price,
        available=row.available,
        incoming=row.incoming,
        inventory_policy=v.inventory_policy,  # type: ignore[arg-type]
        lead_time_days=row.lead_time_days,
        selling_on_backorder=SellingOut(
            policy_by_app=v.policy_by_app,  # type: ignore[arg-type]
            override=v.policy_override,
            reason=v.selling_reason,
        ),
    )


@operation(
    "GET",
    "/variants",
    tag="variants",
    summary="Variants, optionally by SKU",
    response=VariantPage,
    query=VariantQuery,
    errors=(403,),
)
def variants_list(call: Call) -> VariantPage:
    scope = call.principal.scope(call.query.shop_id)
    with call.runtime.db.transaction() as session:
        rows = reads.list_variants(session, scope, _page_request(call, "variants"), call.query.sku)
        items, cursor = _paged(call, "variants", rows, lambda row: row.variant.id)
        return VariantPage(items=[_variant_out(r) for r in items], next_cursor=cursor)


@operation(
    "GET",
    "/variants/<int:variant_id>",
    tag="variants",
    summary="One variant",
    response=VariantOut,
    query=ShopQuery,
    errors=(403, 404),
)
def variants_get(call: Call, variant_id: int) -> VariantOut:
    scope = call.principal.scope(call.query.shop_id)
    with call.runtime.db.transaction() as session:
        row = reads.get_variant(session, scope, variant_id)
        if row is None:
            raise _not_found("variant", variant_id)
        return _variant_out(row)


@operation(
    "PATCH",
    "/variants/<int:variant_id>",
    tag="variants",
    summary="Hand a variant the merchant set by hand back to the selling rules",
    response=VariantOut,
    body=VariantPatch,
    errors=(403, 404),
)
def variants_patch(call: Call, variant_id: int) -> VariantOut:
    body: VariantPatch = call.body
    scope = call.principal.scope(body.shop_id)
    execute(call.runtime, lambda session: hand_back(call.runtime, session, scope, variant_id))
    with call.runtime.db.transaction() as session:
        row = reads.get_variant(session, scope, variant_id)
        if row is None:
            raise _not_found("variant", variant_id)
        return _variant_out(row)


@operation(
    "GET",
    "/variants/<int:variant_id>/alternatives",
    tag="variants",
    summary="In-stock substitutes for a variant, best first, each with its reasons",
    response=AlternativeList,
    query=AlternativesQuery,
    errors=(403, 404),
)
def variants_alternatives(call: Call, variant_id: int) -> AlternativeList:
    q: AlternativesQuery = call.query
    scope = call.principal.scope(q.shop_id)
    found = execute(
        call.runtime,
        lambda session: alternatives_for(
            session, scope, variant_id, quantity=q.quantity, limit=q.limit
        ),
    )
    return AlternativeList(
        items=[
            AlternativeOut(
                variant_id=s.variant_id,
                sku=s.sku,
                title=s.title,
                available=s.available,
                price=s.price,
                score=s.score,
                reasons=list(s.reasons),
            )
            for s in found
        ]
    )


@operation(
    "PUT",
    "/products/<int:product_id>/alternatives",
    tag="variants",
    summary="Pin or exclude alternatives for every variant of a product",
    response=AlternativeRulesOut,
    body=AlternativeRulesIn,
    errors=(403, 404, 422),
)
def products_alternative_rules(call: Call, product_id: int) -> AlternativeRulesOut:
    body: AlternativeRulesIn = call.body
    scope = call.principal.scope(body.shop_id)

    def change(session: Any) -> AlternativeRulesOut:
        rule = set_rules(session, scope, product_id, pinned=body.pinned, excluded=body.excluded)
        return AlternativeRulesOut(
            product_id=rule.product_id, pinned=list(rule.pinned), excluded=list(rule.excluded)
        )

    return execute(call.runtime, change)


# ---- backorders --------------------------------------------------------------------------------


def _backorder_out(row: reads.BackorderRow) -> BackorderOut:
    b = row.backorder
    return BackorderOut(
        id=b.id,
        shop_id=b.shop_id,
        order_external_id=row.order_external_id,
        order_name=row.order_name,
        line_external_id=row.line_external_id,
        variant_id=b.variant_id,
        sku=row.sku,
        quantity=b.quantity,
        status=b.status,  # type: ignore[arg-type]
        queue_position=row.queue_position,
        priority=b.priority,
        eta=b.eta,
        eta_source=b.eta_source,
        created_at=b.created_at,
        eta_history=[
            EtaHistoryOut(eta=h.eta, eta_source=h.eta_source, at=h.at) for h in b.eta_history
        ],
        alternatives=StoredAlternativesOut.model_validate(b.alternatives)
        if b.alternatives
        else None,
    )


@operation(
    "GET",
    "/backorders",
    tag="backorders",
    summary="Backordered lines, filtered by status, SKU or order",
    response=BackorderPage,
    query=BackorderQuery,
    errors=(403,),
)
def backorders_list(call: Call) -> BackorderPage:
    q: BackorderQuery = call.query
    scope = call.principal.scope(q.shop_id)
    with call.runtime.db.transaction() as session:
        rows = reads.list_backorders(
            session,
            scope,
            _page_request(call, "backorders"),
            status=q.status,
            sku=q.sku,
            order=q.order,
        )
        items, cursor = _paged(call, "backorders", rows, lambda row: row.backorder.id)
        return BackorderPage(items=[_backorder_out(r) for r in items], next_cursor=cursor)


@operation(
    "GET",
    "/backorders/<int:backorder_id>",
    tag="backorders",
    summary="One backordered line with its ETA history",
    response=BackorderOut,
    query=ShopQuery,
    errors=(403, 404),
)
def backorders_get(call: Call, backorder_id: int) -> BackorderOut:
    scope = call.principal.scope(call.query.shop_id)
    with call.runtime.db.transaction() as session:
        row = reads.get_backorder(session, scope, backorder_id)
        if row is None:
            raise _not_found("backorder", backorder_id)
        return _backorder_out(row)


@operation(
    "PATCH",
    "/backorders/<int:backorder_id>",
    tag="backorders",
    summary="Set a manual ETA or the queue tier of one line; ETAs are recomputed at once",
    response=BackorderOut,
    body=BackorderPatch,
    errors=(403, 404, 409),
)
def backorders_patch(call: Call, backorder_id: int) -> BackorderOut:
    body: BackorderPatch = call.body
    scope = call.principal.scope(body.shop_id)
    given = body.model_fields_set
    execute(
        call.runtime,
        lambda session: change_backorder(
            session,
            call.runtime.clock,
            scope,
            backorder_id,
            manual_eta=body.eta if "eta" in given else Unset,
            priority=body.priority if "priority" in given else Unset,
        ),
    )
    with call.runtime.db.transaction() as session:
        row = reads.get_backorder(session, scope, backorder_id)
        assert row is not None  # change_backorder raised NotFound otherwise
        return _backorder_out(row)


# ---- incoming stock ----------------------------------------------------------------------------


def _incoming_out(incoming: Any, sku: str) -> IncomingOut:
    return IncomingOut(
        id=incoming.id,
        shop_id=incoming.shop_id,
        variant_id=incoming.variant_id,
        sku=sku,
        quantity=incoming.quantity,
        expected_on=incoming.expected_on,
        reference=incoming.reference,
        source=incoming.source,
        supplier=incoming.supplier,
        ordered_on=incoming.ordered_on,
        received_at=incoming.received_at,
        received_quantity=incoming.received_quantity,
        created_at=incoming.created_at,
    )


@operation(
    "POST",
    "/incoming",
    tag="incoming",
    summary="Record stock on its way (by SKU or variant id)",
    response=IncomingOut,
    body=IncomingIn,
    status=201,
    errors=(403, 404),
)
def incoming_create(call: Call) -> tuple[IncomingOut, dict[str, str]]:
    body: IncomingIn = call.body
    scope = call.principal.scope(body.shop_id)

    def create(session: Any) -> IncomingOut:
        variant = find_variant(session, scope, variant_id=body.variant_id, sku=body.sku)
        incoming = add_incoming(
            session,
            call.runtime.clock,
            variant,
            quantity=body.quantity,
            expected_on=body.expected_on,
            reference=body.reference,
            supplier=body.supplier,
            ordered_on=body.ordered_on,
        )
        return _incoming_out(incoming, variant.sku)

    out = execute(call.runtime, create)
    return out, {"Location": url_for("api_v1.incoming_list", variant_id=out.variant_id)}


@operation(
    "GET",
    "/incoming",
    tag="incoming",
    summary="Incoming stock, open by default",
    response=IncomingPage,
    query=IncomingQuery,
    errors=(403,),
)
def incoming_list(call: Call) -> IncomingPage:
    q: IncomingQuery = call.query
    scope = call.principal.scope(q.shop_id)
    with call.runtime.db.transaction() as session:
        rows = reads.list_incoming(
            session,
            scope,
            _page_request(call, "incoming"),
            variant_id=q.variant_id,
            sku=q.sku,
            status=q.status,
        )
        items, cursor = _paged(call, "incoming", rows, lambda row: row.IncomingStock.id)
        return IncomingPage(
            items=[_incoming_out(r.IncomingStock, r.sku) for r in items], next_cursor=cursor
        )


@operation(
    "POST",
    "/incoming/<int:incoming_id>/receive",
    tag="incoming",
    summary="Mark incoming stock received: it stops counting as incoming, lead times learn",
    response=IncomingOut,
    body=IncomingReceiveIn,
    errors=(403, 404),
)
def incoming_receive(call: Call, incoming_id: int) -> IncomingOut:
    body: IncomingReceiveIn = call.body
    scope = call.principal.scope(None)

    def receive(session: Any) -> IncomingOut:
        incoming = receive_incoming(
            session, call.runtime.clock, scope, incoming_id, quantity=body.quantity
        )
        variant = session.get_one(Variant, incoming.variant_id)
        return _incoming_out(incoming, variant.sku)

    return execute(call.runtime, receive)


# ---- notifications -----------------------------------------------------------------------------


def mask_recipient(recipient: str) -> str:
    """ "jane.doe@example.com" → "j***@e***.com": recognisable to support, useless to a scraper."""
    local, at, domain = recipient.partition("@")
    if not at:
        return (recipient[:1] + "***") if recipient else ""
    host, dot, tld = domain.rpartition(".")
    if not dot:
        host, tld = domain, ""
    return f"{local[:1]}***@{host[:1]}***" + (f".{tld}" if tld else "")


def _notification_out(n: Notification) -> NotificationOut:
    return NotificationOut(
        id=n.id,
        kind=n.kind,
        channel=n.channel,
        recipient=mask_recipient(n.recipient),
        status=n.status,  # type: ignore[arg-type]
        created_at=n.created_at,
        sent_at=n.sent_at,
    )


@operation(
    "GET",
    "/notifications",
    tag="notifications",
    summary="Messages to customers and the merchant, optionally for one order or status",
    response=NotificationPage,
    query=NotificationQuery,
    errors=(403,),
)
def notifications_list(call: Call) -> NotificationPage:
    q: NotificationQuery = call.query
    scope = call.principal.scope(q.shop_id)
    with call.runtime.db.transaction() as session:
        rows = mail_admin.list_notifications(
            session, scope, _page_request(call, "notifications"), order=q.order, status=q.status
        )
        items, cursor = _paged(call, "notifications", rows, lambda n: n.id)
        return NotificationPage(items=[_notification_out(n) for n in items], next_cursor=cursor)


# ---- mail templates ----------------------------------------------------------------------------

TEMPLATE = "/mail-templates/<kind>/<locale>"


def _own_shop(call: Call, session: Any, shop_id: int | None) -> Shop:
    scope = call.principal.scope(shop_id)
    shop = session.get(Shop, scope) if scope is not None else None
    if shop is None:
        raise ApiError(400, "invalid_parameter", "shop_id: name the shop", "shop_id")
    return shop


def _template_out(kind: str, locale: str, parts: dict[str, str]) -> MailTemplateOut:
    return MailTemplateOut(
        kind=kind,
        locale=locale,
        subject=parts.get("subject"),
        text=parts.get("text"),
        html=parts.get("html"),
    )


@operation(
    "PUT",
    TEMPLATE,
    tag="mail-templates",
    summary="The shop's own subject, text or HTML (Jinja2) of a message kind in one language; "
    "checked by rendering a sample first",
    response=MailTemplateOut,
    body=MailTemplateIn,
    errors=(403, 404, 422),
)
def mail_templates_put(call: Call, kind: str, locale: str) -> MailTemplateOut:
    body: MailTemplateIn = call.body
    given = body.model_dump(include=body.model_fields_set - {"shop_id"})

    def change(session: Any) -> MailTemplateOut:
        shop = _own_shop(call, session, body.shop_id)
        parts = mail_admin.put_template(session, shop, kind, locale, given)
        return _template_out(kind, locale.lower().replace("_", "-"), parts)

    return execute(call.runtime, change)


@operation(
    "GET",
    TEMPLATE,
    tag="mail-templates",
    summary="The shop's own template of a message kind in one language",
    response=MailTemplateOut,
    query=ShopQuery,
    errors=(403, 404),
)
def mail_templates_get(call: Call, kind: str, locale: str) -> MailTemplateOut:
    with call.runtime.db.transaction() as session:
        shop = _own_shop(call, session, call.query.shop_id)
        parts = mail_admin.get_template(session, shop.id, kind, locale)
        return _template_out(kind, locale.lower().replace("_", "-"), parts)


@operation(
    "DELETE",
    TEMPLATE,
    tag="mail-templates",
    summary="Back to the built-in template of a message kind in one language",
    response=None,
    status=204,
    query=ShopQuery,
    errors=(403, 404),
)
def mail_templates_delete(call: Call, kind: str, locale: str) -> None:
    def remove(session: Any) -> None:
        shop = _own_shop(call, session, call.query.shop_id)
        mail_admin.delete_template(session, shop.id, kind, locale)

    execute(call.runtime, remove)


@operation(
    "GET",
    TEMPLATE + "/preview",
    tag="mail-templates",
    summary="A message kind rendered with a sample customer, the shop's own parts included",
    response=MailPreviewOut,
    query=ShopQuery,
    errors=(403, 404, 422),
)
def mail_templates_preview(call: Call, kind: str, locale: str) -> MailPreviewOut:
    with call.runtime.db.transaction() as session:
        shop = _own_shop(call, session, call.query.shop_id)
        shown = mail_admin.preview(session, shop, kind, locale)
        return MailPreviewOut(
            kind=kind, locale=shown.locale, subject=shown.subject, text=shown.text, html=shown.html
        )


# ---- store writes ------------------------------------------------------------------------------


@operation(
    "GET",
    "/store-writes",
    tag="store-writes",
    summary="Writes to the store (tags, order and variant data, holds) with their outcome",
    response=StoreWritePage,
    query=StoreWriteQuery,
    errors=(403,),
)
def store_writes_list(call: Call) -> StoreWritePage:
    q: StoreWriteQuery = call.query
    scope = call.principal.scope(q.shop_id)
    with call.runtime.db.transaction() as session:
        rows = list_writes(
            session, scope, _page_request(call, "store-writes"), order=q.order, status=q.status
        )
        items, cursor = _paged(call, "store-writes", rows, lambda w: w.id)
        return StoreWritePage(
            items=[
                StoreWriteOut(
                    id=w.id,
                    kind=w.kind,
                    target=w.target,
                    status=w.status,  # type: ignore[arg-type]
                    attempts=w.attempts,
                    last_error=w.last_error,
                    created_at=w.created_at,
                    done_at=w.done_at,
                    value=w.payload,
                )
                for w in items
            ],
            next_cursor=cursor,
        )
