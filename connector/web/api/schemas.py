"""The API's request and response shapes; field names are the public contract of PRODUCT.md."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_PAGE = 200
DEFAULT_PAGE = 50

Item = TypeVar("Item", bound=BaseModel)


class Strict(BaseModel):
    """Inputs refuse fields they do not know: a typo is an error, not a silent default."""

    model_config = ConfigDict(extra="forbid")


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class Page(BaseModel, Generic[Item]):
    items: list[Item]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


class ListQuery(Strict):
    limit: Annotated[int, Field(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE
    cursor: Annotated[str | None, Field(max_length=512)] = None
    shop_id: Annotated[int | None, Field(ge=1, description="Admin token only: pick a shop.")] = None


class ShopQuery(Strict):
    shop_id: Annotated[int | None, Field(ge=1, description="Admin token only: pick a shop.")] = None


# ---- shops -------------------------------------------------------------------------------------


MailChannel = Literal["email", "platform", "off"]


class ShopOut(BaseModel):
    id: int
    platform: Literal["shopify", "woocommerce"]
    domain: str
    name: str
    status: Literal["active", "uninstalled"]
    installed_at: datetime
    timezone: str
    currency: str
    sell_on_backorder: bool = Field(
        description="The app may switch out-of-stock variants to selling on backorder."
    )
    max_promise_days: int = Field(description="Longest wait the shop promises when selling on.")
    backorder_cap: int | None = Field(
        description="Most units waiting at once; null: the incoming quantity."
    )
    mail_kinds: dict[str, MailChannel] = Field(
        default_factory=dict,
        description="Per message kind: email (the default), platform (the store tells the "
        "customer: a WooCommerce customer note) or off.",
    )
    support_email: str | None = Field(default=None, description="Reply-To of customer e-mails.")
    brand_color: str = "#1f4e79"
    logo_url: str | None = None
    digest_recipients: str = Field(
        default="", description="Comma-separated addresses of the daily digest."
    )
    digest_wait_days: int = Field(
        default=7, description="Lines waiting longer are listed in the digest."
    )
    service_level: float = Field(default=0.95, description="Reorder points' service level.")
    review_days: int = Field(default=7, description="Days between the merchant's orders.")
    reorder_webhook_url: str | None = Field(
        default=None, description="Where variants newly at their reorder point are posted."
    )


class ShopPatch(Strict):
    sell_on_backorder: bool | None = None
    max_promise_days: Annotated[int | None, Field(ge=0, le=365)] = None
    backorder_cap: Annotated[
        int | None,
        Field(ge=0, le=1_000_000, description="null: the incoming quantity is the cap."),
    ] = None
    mail_kinds: Annotated[dict[str, MailChannel] | None, Field(max_length=50)] = None
    support_email: Annotated[str | None, Field(max_length=320)] = None
    brand_color: Annotated[str | None, Field(max_length=16)] = None
    logo_url: Annotated[str | None, Field(max_length=500)] = None
    digest_recipients: Annotated[str | None, Field(max_length=1000)] = None
    digest_wait_days: Annotated[int | None, Field(ge=1, le=365)] = None
    service_level: Annotated[
        float | None,
        Field(ge=0.5, le=0.999, description="Share of order cycles without a stock-out."),
    ] = None
    review_days: Annotated[
        int | None, Field(ge=0, le=180, description="Days between the merchant's orders.")
    ] = None

    @model_validator(mode="after")
    def _something(self) -> ShopPatch:
        if not self.model_fields_set:
            raise ValueError("give at least one setting")
        for name in ("sell_on_backorder", "max_promise_days", "service_level", "review_days"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} may not be null")
        return self


# ---- variants ----------------------------------------------------------------------------------


class VariantQuery(ListQuery):
    sku: Annotated[str | None, Field(max_length=255)] = None


class SellingOut(BaseModel):
    policy_by_app: Literal["deny", "continue"] | None = Field(
        description="The policy the app last set on the store; null: never managed."
    )
    override: bool = Field(
        description="The merchant changed the policy by hand: the app leaves it alone."
    )
    reason: str | None = Field(description="Why the app decided as it did, last time it looked.")


class VariantOut(BaseModel):
    id: int
    shop_id: int
    external_id: str
    product_external_id: str
    sku: str
    title: str
    price: Decimal
    available: int = Field(description="Sum of available over the variant's locations.")
    incoming: int = Field(description="Units on open incoming-stock records, not yet received.")
    inventory_policy: Literal["deny", "continue"]
    lead_time_days: int = Field(description="The variant's supplier lead time, else the shop's.")
    selling_on_backorder: SellingOut


class VariantPatch(Strict):
    policy_override: Literal[False] = Field(
        description="false hands the variant back to the app's selling rules."
    )
    shop_id: Annotated[int | None, Field(ge=1, description="Admin token only: pick a shop.")] = None


# ---- backorders --------------------------------------------------------------------------------

BackorderStatus = Literal["waiting", "allocated", "ready", "fulfilled", "cancelled"]


class BackorderQuery(ListQuery):
    status: BackorderStatus | None = None
    sku: Annotated[str | None, Field(max_length=255)] = None
    order: Annotated[
        str | None, Field(max_length=64, description="Order name (#1001) or platform id.")
    ] = None


class EtaHistoryOut(BaseModel):
    eta: date | None
    eta_source: str | None
    at: datetime


class StoredAlternativeOut(BaseModel):
    variant_id: int
    sku: str
    title: str
    price: Decimal
    score: float
    reasons: list[str]


class StoredAlternativesOut(BaseModel):
    computed_at: datetime
    quantity: int
    items: list[StoredAlternativeOut]


class BackorderOut(BaseModel):
    id: int
    shop_id: int
    order_external_id: str
    order_name: str
    line_external_id: str
    variant_id: int
    sku: str
    quantity: int = Field(description="The short quantity: what stock could not cover.")
    status: BackorderStatus
    queue_position: int | None = Field(description="1 is served first; null once out of the queue.")
    priority: int
    eta: date | None
    eta_source: str | None
    created_at: datetime
    eta_history: list[EtaHistoryOut]
    alternatives: StoredAlternativesOut | None = Field(
        default=None,
        description="In-stock substitutes ranked when the line became short; null until ranked.",
    )


class BackorderPatch(Strict):
    eta: date | None = Field(
        default=None,
        description="A manual ETA (shop-local date, today or later); null clears it. It wins "
        "over lead-time estimates until stock covers the line earlier.",
    )
    priority: Annotated[
        int, Field(ge=0, le=9, description="Queue tier; higher is served first.")
    ] = 0
    shop_id: Annotated[int | None, Field(ge=1, description="Admin token only: pick a shop.")] = None

    @model_validator(mode="after")
    def _something(self) -> BackorderPatch:
        if not {"eta", "priority"} & self.model_fields_set:
            raise ValueError("give eta, priority or both")
        return self


# ---- alternatives ------------------------------------------------------------------------------

MAX_ALTERNATIVES = 50


class AlternativesQuery(ShopQuery):
    limit: Annotated[int, Field(ge=1, le=MAX_ALTERNATIVES)] = 5
    quantity: Annotated[
        int, Field(ge=1, le=1_000_000, description="Units the shopper needs in stock.")
    ] = 1


class AlternativeOut(BaseModel):
    variant_id: int
    sku: str
    title: str
    available: int = Field(description="Units for sale now (the variant's stock pool).")
    price: Decimal
    score: float = Field(description="0..1; higher is a closer substitute.")
    reasons: list[str]


class AlternativeList(BaseModel):
    items: list[AlternativeOut]


class AlternativeRulesIn(Strict):
    pinned: Annotated[list[Annotated[int, Field(ge=1)]], Field(max_length=50)] = Field(
        default_factory=list, description="Variant ids offered first, in this order, if in stock."
    )
    excluded: Annotated[list[Annotated[int, Field(ge=1)]], Field(max_length=1000)] = Field(
        default_factory=list, description="Variant ids never offered."
    )
    shop_id: Annotated[int | None, Field(ge=1, description="Admin token only: pick a shop.")] = None


class AlternativeRulesOut(BaseModel):
    product_id: int
    pinned: list[int]
    excluded: list[int]


# ---- incoming stock ----------------------------------------------------------------------------


class IncomingIn(Strict):
    sku: Annotated[str | None, Field(min_length=1, max_length=255)] = None
    variant_id: Annotated[int | None, Field(ge=1)] = None
    quantity: Annotated[int, Field(ge=1, le=1_000_000)]
    expected_on: date
    reference: Annotated[str, Field(max_length=255)] = ""
    supplier: Annotated[
        str,
        Field(max_length=255, description="Who ships it; empty: the product's vendor."),
    ] = ""
    ordered_on: Annotated[
        date | None,
        Field(description="When it was ordered (default: today); receipts teach lead times."),
    ] = None
    shop_id: Annotated[int | None, Field(ge=1, description="Admin token only: pick a shop.")] = None

    @model_validator(mode="after")
    def _one_variant(self) -> IncomingIn:
        if (self.sku is None) == (self.variant_id is None):
            raise ValueError("give exactly one of sku and variant_id")
        return self


class IncomingQuery(ListQuery):
    variant_id: Annotated[int | None, Field(ge=1)] = None
    sku: Annotated[str | None, Field(max_length=255)] = None
    status: Literal["open", "received", "all"] = "open"


class IncomingOut(BaseModel):
    id: int
    shop_id: int
    variant_id: int
    sku: str
    quantity: int
    expected_on: date
    reference: str
    source: Literal["platform", "manual", "csv"]
    supplier: str
    ordered_on: date | None
    received_at: datetime | None
    received_quantity: int | None
    created_at: datetime


class IncomingReceiveIn(Strict):
    quantity: Annotated[
        int | None,
        Field(ge=0, le=1_000_000, description="Units that arrived (default: all expected)."),
    ] = None


# ---- notifications -----------------------------------------------------------------------------


NotificationStatus = Literal["pending", "sending", "sent", "failed", "suppressed", "cancelled"]


class NotificationQuery(ListQuery):
    order: Annotated[
        str | None, Field(max_length=64, description="Order name (#1001) or platform id.")
    ] = None
    status: NotificationStatus | None = None


class NotificationOut(BaseModel):
    id: int
    kind: str
    channel: str
    recipient: str = Field(description="Masked: enough to recognise, not to harvest.")
    status: NotificationStatus
    created_at: datetime
    sent_at: datetime | None


# Named subclasses give the OpenAPI document clean schema names.
class ShopPage(Page[ShopOut]):
    pass


class VariantPage(Page[VariantOut]):
    pass


class BackorderPage(Page[BackorderOut]):
    pass


class IncomingPage(Page[IncomingOut]):
    pass


class NotificationPage(Page[NotificationOut]):
    pass


# ---- store writes ------------------------------------------------------------------------------


class StoreWriteQuery(ListQuery):
    order: Annotated[
        str | None, Field(max_length=64, description="Order name (#1001) or platform id.")
    ] = None
    status: Literal["pending", "sending", "sent", "suppressed", "failed", "cancelled"] | None = None


class StoreWriteOut(BaseModel):
    id: int
    kind: str = Field(description="What is written: order_state, variant_state, ...")
    target: str = Field(description="Our id of the order or variant written about.")
    status: Literal["pending", "sending", "sent", "suppressed", "failed", "cancelled"]
    attempts: int
    last_error: str | None
    created_at: datetime
    done_at: datetime | None
    value: dict[str, Any] = Field(description="What the store was (or is being) told.")


class StoreWritePage(Page[StoreWriteOut]):
    pass


# ---- mail templates ----------------------------------------------------------------------------


class MailTemplateIn(Strict):
    subject: Annotated[str | None, Field(max_length=1000)] = None
    text: Annotated[str | None, Field(max_length=100_000)] = None
    html: Annotated[str | None, Field(max_length=200_000)] = None
    shop_id: Annotated[int | None, Field(ge=1, description="Admin token only: pick a shop.")] = None

    @model_validator(mode="after")
    def _something(self) -> MailTemplateIn:
        if not {"subject", "text", "html"} & self.model_fields_set:
            raise ValueError("give subject, text or html (null or empty removes a part)")
        return self


class MailTemplateOut(BaseModel):
    kind: str
    locale: str
    subject: str | None = Field(description="Jinja2; null: the built-in subject.")
    text: str | None = Field(description="Jinja2; null: the built-in text.")
    html: str | None = Field(description="Jinja2, autoescaped; null: the built-in HTML.")


class MailPreviewOut(BaseModel):
    kind: str
    locale: str = Field(description="The language the message was rendered in.")
    subject: str
    text: str
    html: str
