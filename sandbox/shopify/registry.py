"""Which GraphQL fields the sandbox answers, and how.

Resolvers register here per (type, field). A field without a resolver is read from the source
record's attribute or dict key of the same name; anything else is a clear GraphQL error, so a
client never mistakes "the sandbox does not know this field" for a null from Shopify.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import GraphQLError, GraphQLResolveInfo

Resolver = Callable[..., Any]
RESOLVERS: dict[tuple[str, str], Resolver] = {}


def field(type_name: str, *field_names: str) -> Callable[[Resolver], Resolver]:
    """Register a resolver `(source, info, **args)` for each of `field_names` on `type_name`."""

    def register(fn: Resolver) -> Resolver:
        for name in field_names:
            RESOLVERS[(type_name, name)] = fn
        return fn

    return register


def not_emulated(type_name: str, field_name: str) -> GraphQLError:
    return GraphQLError(
        f"Field '{field_name}' on type '{type_name}' is not emulated by the sandbox"
    )


def make_resolver(type_name: str, field_name: str) -> Resolver:
    """The resolver installed on every schema field: registry, then attribute, then error."""
    key = (type_name, field_name)

    def resolve(source: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
        fn = RESOLVERS.get(key)
        if fn is not None:
            return fn(source, info, **args)
        if isinstance(source, dict):
            if field_name in source:
                return source[field_name]
        elif not args and hasattr(source, field_name):
            return getattr(source, field_name)
        raise not_emulated(type_name, field_name)

    return resolve


def resolve_type(value: Any, _info: GraphQLResolveInfo, _abstract: Any) -> str | None:
    """Concrete type of a record returned for an interface or union (node, owner, endpoint)."""
    if isinstance(value, dict):
        return value.get("__typename")
    return getattr(value, "typename", None)
