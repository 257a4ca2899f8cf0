"""Collection parameters of WordPress/WooCommerce REST lists: paging, date windows, ordering.

Sources: WP_REST_Controller::get_collection_params (per_page 1-100, default 10; page ≥ 1),
WC_REST_CRUD_Controller::get_items (X-WP-Total, X-WP-TotalPages, Link rel prev/next; a page
past the end is an empty list) and the `after/before/modified_after/modified_before/
dates_are_gmt` arguments added in WooCommerce 5.x (default: site-local time).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from .store import invalid_param

T = TypeVar("T")
DATE_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}(:?\d{2})?)?$"
)
TRUE = ("1", "true", "yes", "on")


def page_args(args: Mapping[str, str]) -> tuple[int, int]:
    """(page, per_page), validated as WordPress validates them."""
    try:
        per_page = int(args.get("per_page", "10"))
    except ValueError:
        raise invalid_param("per_page", "per_page is not of type integer.") from None
    if not 1 <= per_page <= 100:
        raise invalid_param(
            "per_page", "per_page must be between 1 (inclusive) and 100 (inclusive)"
        )
    try:
        page = int(args.get("page", "1"))
    except ValueError:
        raise invalid_param("page", "page is not of type integer.") from None
    if page < 1:
        raise invalid_param("page", "page must be greater than or equal to 1")
    return page, per_page


def paginate(
    items: Sequence[T], args: Mapping[str, str], base_url: str
) -> tuple[Sequence[T], dict[str, str]]:
    """One page of `items` and the headers WooCommerce sends with it."""
    page, per_page = page_args(args)
    offset = int(args["offset"]) if args.get("offset", "").isdigit() else (page - 1) * per_page
    total = len(items)
    pages = math.ceil(total / per_page) if total else 0
    headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}
    kept = {
        k: v for k, v in args.items() if not k.startswith(("oauth_", "consumer_")) and k != "page"
    }
    link = []
    if page > 1:
        prev = min(page - 1, pages) if pages else 1
        link.append(f'<{base_url}?{urlencode({**kept, "page": prev})}>; rel="prev"')
    if page < pages:
        link.append(f'<{base_url}?{urlencode({**kept, "page": page + 1})}>; rel="next"')
    if link:
        headers["Link"] = ", ".join(link)
    return items[offset : offset + per_page], headers


def parse_date(name: str, value: str, gmt: bool, timezone: str) -> datetime:
    """A date filter value; naive means GMT if `dates_are_gmt`, else the site's local time."""
    if not DATE_RE.match(value):
        raise invalid_param(name, f"Invalid date. {name} must be a valid RFC3339 date.")
    parsed = datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC if gmt else ZoneInfo(timezone))
    return parsed.astimezone(UTC)


def date_filter(args: Mapping[str, str], timezone: str) -> Callable[[datetime, datetime], bool]:
    """Predicate over (created, modified) for after/before/modified_after/modified_before."""
    gmt = args.get("dates_are_gmt", "false").lower() in TRUE
    bounds = {
        name: parse_date(name, args[name], gmt, timezone)
        for name in ("after", "before", "modified_after", "modified_before")
        if args.get(name)
    }

    def keep(created: datetime, modified: datetime) -> bool:
        return not (
            ("after" in bounds and created <= bounds["after"])
            or ("before" in bounds and created >= bounds["before"])
            or ("modified_after" in bounds and modified <= bounds["modified_after"])
            or ("modified_before" in bounds and modified >= bounds["modified_before"])
        )

    return keep


def order_items(
    items: list[T], args: Mapping[str, str], keys: Mapping[str, Callable[[T], Any]]
) -> list[T]:
    """Sort by `orderby` (default date) and `order` (default desc), id as tie-breaker."""
    orderby = args.get("orderby", "date")
    if orderby not in keys:
        raise invalid_param("orderby", f"orderby is not one of {', '.join(keys)}.")
    order = args.get("order", "desc")
    if order not in ("asc", "desc"):
        raise invalid_param("order", "order is not one of asc and desc.")
    key = keys[orderby]
    return sorted(items, key=lambda x: (key(x), keys["id"](x)), reverse=order == "desc")


def id_list(value: str) -> set[int]:
    """A comma-separated list of ids (include/exclude)."""
    return {int(v) for v in value.split(",") if v.strip().isdigit()}
