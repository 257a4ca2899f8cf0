"""Dates, money and links as a customer reads them, per locale, without a locale library.

Only the languages we ship templates for get their own words; any other locale gets ISO dates
and plain numbers, which every reader understands.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

_MONTHS = {
    "en": [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
    "de": [
        "Januar",
        "Februar",
        "März",
        "April",
        "Mai",
        "Juni",
        "Juli",
        "August",
        "September",
        "Oktober",
        "November",
        "Dezember",
    ],
}
# Symbols written before the amount in English ("€12.50") and after it in German ("12,50 €").
_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥"}
_COLOR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
DEFAULT_COLOR = "#1f4e79"


def language(locale: str | None) -> str:
    """The primary language of a tag: "de-DE", "de_DE" and "DE" all read "de"."""
    return normalise_locale(locale).split("-")[0]


def normalise_locale(locale: str | None) -> str:
    return (locale or "").strip().replace("_", "-").lower()


def as_date(value: Any) -> date | None:
    """A date from what a caller may hand over: a date, a datetime, an ISO string or nothing."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def date_long(value: Any, locale: str | None) -> str:
    """ "27 November 2026" / "27. November 2026"; ISO for other languages; "" for no date."""
    day = as_date(value)
    if day is None:
        return "" if value is None else str(value)
    lang = language(locale)
    months = _MONTHS.get(lang)
    if months is None:
        return day.isoformat()
    if lang == "de":
        return f"{day.day}. {months[day.month - 1]} {day.year}"
    return f"{day.day} {months[day.month - 1]} {day.year}"


def money(amount: Any, currency: str | None, locale: str | None) -> str:
    """ "€1,234.50" / "1.234,50 €"; an amount that is not a number is shown as given."""
    if amount is None or amount == "":
        return ""
    try:
        value = Decimal(str(amount)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return str(amount)
    code = (currency or "").upper()
    symbol = _SYMBOLS.get(code)
    digits = f"{abs(value):,.2f}"
    sign = "-" if value < 0 else ""
    if language(locale) == "de":
        digits = digits.replace(",", " ").replace(".", ",").replace(" ", ".")
        return f"{sign}{digits} {symbol or code}".rstrip()
    if symbol:
        return f"{sign}{symbol}{digits}"
    return f"{sign}{code} {digits}".strip()


def css_color(value: Any) -> str:
    """The shop's brand colour if it is a plain hex colour: it is written into a style attribute,
    where anything else could restyle or hide the message."""
    text = str(value or "").strip()
    return text if _COLOR.fullmatch(text) else DEFAULT_COLOR


def web_url(value: Any) -> str:
    """A link only if it is http(s): a merchant's or a catalogue's javascript: URL never reaches
    a customer's mail client."""
    text = str(value or "").strip()
    return text if text.lower().startswith(("https://", "http://")) else ""
