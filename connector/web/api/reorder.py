"""The reorder list in the JSON API, its CSV export, and the merchant's reorder webhook.

Both the list and the CSV read the rows the last reorder run stored (the daily job, or
`backorder reorder`), in the same order: revenue at risk, highest first. The CSV has every row;
the list is paged by position in that order (the rows only change when a run replaces them).
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from flask import Response
from pydantic import BaseModel, Field
from sqlalchemy import Select, select

from connector.commands import execute
from connector.models import ReorderPoint, Shop, Variant
from connector.services.notify import hooks
from connector.web.api.pagination import Cursors
from connector.web.api.routing import Call, operation
from connector.web.api.schemas import ListQuery, Page, ShopQuery, Strict
from connector.web.errors import ApiError

# ---- schemas -----------------------------------------------------------------------------------


class ReorderQuery(ListQuery):
    at_or_below: bool | None = Field(
        default=None, description="true: only variants at or below their reorder point."
    )
    sku: Annotated[str | None, Field(max_length=255)] = None


class ReorderCsvQuery(ShopQuery):
    at_or_below: bool | None = None
    sku: Annotated[str | None, Field(max_length=255)] = None


class ForecastOut(BaseModel):
    method: Literal["new", "croston", "ses", "holt", "holt_winters"] = Field(
        description="new: its product type's average; croston: intermittent demand; ses: short "
        "history; holt: trend; holt_winters: trend and weekly pattern."
    )
    daily_demand: float
    next_days: list[float] = Field(description="The forecast for each of the next 28 days.")
    sigma_daily: float = Field(description="Standard deviation of one day's forecast error.")
    forecast_lead_time: float = Field(description="Units expected over the lead time.")
    safety_stock: float
    service_level: float
    lead_time_days: float
    lead_time_std_days: float
    lead_time_source: Literal["variant", "learned", "supplier", "shop"]
    review_days: int
    observed_days: int
    censored_days: int = Field(description="Out-of-stock days not counted as zero demand.")


class ReorderOut(BaseModel):
    variant_id: int
    shop_id: int
    sku: str
    title: str
    on_hand: int
    incoming: int
    waiting: int
    daily_demand: float
    reorder_point: float
    suggested_quantity: int
    at_or_below: bool
    revenue_at_risk: Decimal
    reached_at: datetime | None
    computed_at: datetime
    reason: str
    forecast: ForecastOut


class ReorderPage(Page[ReorderOut]):
    pass


class ReorderWebhookIn(Strict):
    url: Annotated[str, Field(min_length=8, max_length=500)]
    shop_id: Annotated[int | None, Field(ge=1, description="Admin token only: pick a shop.")] = None


class ReorderWebhookOut(BaseModel):
    url: str
    secret: str = Field(
        description="Shown once: checks X-Backorder-Hmac-Sha256, the base64 HMAC-SHA256 of "
        "each post's raw body. Setting the URL again issues a new one."
    )


# ---- reading -----------------------------------------------------------------------------------


def _query(scope: int | None, at_or_below: bool | None, sku: str | None) -> Select[Any]:
    statement = select(ReorderPoint, Variant.sku, Variant.title).join(
        Variant, Variant.id == ReorderPoint.variant_id
    )
    if scope is not None:
        statement = statement.where(ReorderPoint.shop_id == scope)
    if at_or_below is not None:
        statement = statement.where(ReorderPoint.at_or_below.is_(at_or_below))
    if sku:
        statement = statement.where(Variant.sku == sku)
    return statement.order_by(ReorderPoint.revenue_at_risk.desc(), ReorderPoint.variant_id)


def _out(point: ReorderPoint, sku: str, title: str) -> ReorderOut:
    details = point.details or {}
    return ReorderOut(
        variant_id=point.variant_id,
        shop_id=point.shop_id,
        sku=sku,
        title=title,
        on_hand=point.on_hand,
        incoming=point.incoming,
        waiting=point.waiting,
        daily_demand=round(point.daily_demand, 4),
        reorder_point=round(point.reorder_point, 2),
        suggested_quantity=point.suggested_quantity,
        at_or_below=point.at_or_below,
        revenue_at_risk=point.revenue_at_risk,
        reached_at=point.reached_at,
        computed_at=point.computed_at,
        reason=point.reason,
        forecast=ForecastOut(
            method=point.method,  # type: ignore[arg-type]
            daily_demand=round(point.daily_demand, 4),
            next_days=details.get("next_days", []),
            sigma_daily=details.get("sigma_daily", 0.0),
            forecast_lead_time=round(point.forecast_lead_time, 2),
            safety_stock=round(point.safety_stock, 2),
            service_level=details.get("service_level", 0.95),
            lead_time_days=point.lead_time_days,
            lead_time_std_days=details.get("lead_time_std_days", 0.0),
            lead_time_source=point.lead_time_source,  # type: ignore[arg-type]
            review_days=details.get("review_days", 0),
            observed_days=details.get("observed_days", 0),
            censored_days=details.get("censored_days", 0),
        ),
    )


@operation(
    "GET",
    "/reorder",
    tag="reorder",
    summary="What to reorder: each variant's forecast, reorder point and suggested quantity, "
    "by revenue at risk",
    response=ReorderPage,
    query=ReorderQuery,
    errors=(403,),
)
def reorder_list(call: Call) -> ReorderPage:
    q: ReorderQuery = call.query
    scope = call.principal.scope(q.shop_id)
    cursors = Cursors(call.runtime.settings.SECRET_KEY)
    offset = cursors.decode("reorder", q.cursor) if q.cursor else 0
    with call.runtime.db.transaction() as session:
        rows = session.execute(
            _query(scope, q.at_or_below, q.sku).offset(offset).limit(q.limit + 1)
        ).all()
        items = [_out(*row) for row in rows[: q.limit]]
    more = len(rows) > q.limit
    return ReorderPage(
        items=items, next_cursor=cursors.encode("reorder", offset + q.limit) if more else None
    )


CSV_FIELDS = (
    "variant_id",
    "sku",
    "title",
    "on_hand",
    "incoming",
    "waiting",
    "daily_demand",
    "reorder_point",
    "suggested_quantity",
    "at_or_below",
    "revenue_at_risk",
    "method",
    "safety_stock",
    "lead_time_days",
    "lead_time_source",
    "reason",
)


@operation(
    "GET",
    "/reorder.csv",
    tag="reorder",
    summary="The reorder list as CSV (every row, the list's order and figures)",
    response=None,
    query=ReorderCsvQuery,
    errors=(403,),
    media_type="text/csv",
)
def reorder_csv(call: Call) -> Response:
    q: ReorderCsvQuery = call.query
    scope = call.principal.scope(q.shop_id)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_FIELDS)
    with call.runtime.db.transaction() as session:
        for point, sku, title in session.execute(_query(scope, q.at_or_below, q.sku)):
            out = _out(point, sku, title)
            values = out.model_dump(mode="json")
            values.update(
                method=out.forecast.method,
                safety_stock=out.forecast.safety_stock,
                lead_time_days=out.forecast.lead_time_days,
                lead_time_source=out.forecast.lead_time_source,
            )
            writer.writerow([values[name] for name in CSV_FIELDS])
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="reorder.csv"'},
    )


# ---- the merchant's webhook --------------------------------------------------------------------


def _shop(call: Call, session: Any, shop_id: int | None) -> Shop:
    scope = call.principal.scope(shop_id)
    if scope is None:
        raise ApiError(400, "invalid_parameter", "shop_id is required with the admin token")
    shop = session.get(Shop, scope)
    if shop is None:
        raise ApiError(404, "not_found", f"no shop with id {scope}")
    return shop


@operation(
    "PUT",
    "/reorder/webhook",
    tag="reorder",
    summary="Post variants newly at their reorder point to this URL (signed); a new secret",
    response=ReorderWebhookOut,
    body=ReorderWebhookIn,
    errors=(403, 404, 422),
)
def reorder_webhook_put(call: Call) -> ReorderWebhookOut:
    body: ReorderWebhookIn = call.body
    runtime = call.runtime
    url = hooks.checked_url(body.url, runtime.settings.ALLOW_PRIVATE_STORE_URLS)
    secret = hooks.new_secret()

    def change(session: Any) -> None:
        shop = _shop(call, session, body.shop_id)
        shop.reorder_webhook_url = url
        shop.reorder_webhook_secret = runtime.vault.seal({"secret": secret})

    execute(runtime, change)
    return ReorderWebhookOut(url=url, secret=secret)


@operation(
    "DELETE",
    "/reorder/webhook",
    tag="reorder",
    summary="Stop posting reorder alerts",
    response=None,
    status=204,
    query=ShopQuery,
    errors=(403, 404),
)
def reorder_webhook_delete(call: Call) -> None:
    def change(session: Any) -> None:
        shop = _shop(call, session, call.query.shop_id)
        shop.reorder_webhook_url = None
        shop.reorder_webhook_secret = None

    execute(call.runtime, change)
