"""The `query:` argument of connections: Shopify's search syntax, the subset the product uses.

Supported: space-separated terms (AND), `-term` negation, `field:value`, comparisons
`field:>=value` / `>` / `<` / `<=` on dates and ids, quoted values, and bare words matched
against the title/name/sku. Dates without an offset are read in the shop's timezone, as
Shopify does (shopify.dev/docs/api/usage/search-syntax). Unknown fields are refused with an
error rather than ignored, so a typo in the client shows up in its tests.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from graphql import GraphQLError

Predicate = Callable[[Any], bool]
Getter = Callable[[Any], Any]
TERM = re.compile(r"^(?P<neg>-)?(?:(?P<field>[a-z_]+):(?P<op>>=|<=|>|<|=)?)?(?P<value>.*)$")


def compile_query(query: str | None, fields: dict[str, Getter], tz: str) -> Predicate:
    """Build a predicate from a search string; `fields` maps search field → value getter."""
    if not query or not query.strip():
        return lambda _record: True
    try:
        tokens = shlex.split(query)
    except ValueError as exc:
        raise GraphQLError(f"Invalid search query: {exc}") from exc
    checks = [_term(token, fields, tz) for token in tokens if token.upper() not in ("AND",)]
    return lambda record: all(check(record) for check in checks)


def _term(token: str, fields: dict[str, Getter], tz: str) -> Predicate:
    match = TERM.match(token)
    assert match is not None  # the pattern matches every string
    negate = bool(match["neg"])
    name, op, raw = match["field"], match["op"] or "=", match["value"]
    if name is None:
        text = raw.lower()
        words = fields.get("default")

        def free(record: Any) -> bool:
            return any(text in str(w).lower() for w in (words(record) if words else []))

        return (lambda r: not free(r)) if negate else free
    getter = fields.get(name)
    if getter is None:
        raise GraphQLError(f"Search field '{name}' is not emulated by the sandbox")
    wanted = _coerce(name, raw, tz)

    def check(record: Any) -> bool:
        value = getter(record)
        if isinstance(value, list):
            return any(str(v).lower() == str(wanted).lower() for v in value)
        if value is None:
            return False
        if op == "=":
            return (
                (value == wanted)
                if not isinstance(wanted, str)
                else (str(value).lower() == wanted.lower())
            )
        return _compare(value, op, wanted)

    return (lambda r: not check(r)) if negate else check


def _compare(value: Any, op: str, wanted: Any) -> bool:
    if op == ">=":
        return value >= wanted
    if op == ">":
        return value > wanted
    if op == "<=":
        return value <= wanted
    return value < wanted


def _coerce(name: str, raw: str, tz: str) -> Any:
    if name.endswith("_at"):
        try:
            moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError as exc:
            raise GraphQLError(f"Invalid date in search query: {raw}") from exc
        return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(tz))
    if name == "id":
        return int(raw.rsplit("/", 1)[-1])
    return raw
