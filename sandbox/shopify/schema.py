"""Loads Shopify's real Admin schema once per process and wires the sandbox's resolvers in.

The introspection file is large (about 0.3 s to build), so it is cached per path; resolvers are
installed on the cached schema once, which makes it this process's sandbox schema.
"""

from __future__ import annotations

import gzip
import json
import os
import threading
from pathlib import Path

from graphql import (
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    build_client_schema,
)

from sandbox.shopify import (  # noqa: F401  (they register their resolvers)
    mutations,
    order_edit_mutations,
    resolvers,
)
from sandbox.shopify.registry import make_resolver, resolve_type

SCHEMA_ENV = "SANDBOX_SHOPIFY_SCHEMA"
_CACHE: dict[Path, GraphQLSchema] = {}
_LOCK = threading.Lock()


def default_schema_path() -> Path:
    """`$SANDBOX_SHOPIFY_SCHEMA`, else the shared reference copy next to the repository."""
    configured = os.environ.get(SCHEMA_ENV)
    if configured:
        return Path(configured)
    root = Path(__file__).resolve().parents[2].parent
    return root / "shared/reference/shopify/admin_schema_2025-01.json.gz"


def load_schema(path: str | Path | None = None) -> GraphQLSchema:
    """The executable sandbox schema for `path` (default: `default_schema_path()`)."""
    resolved = Path(path or default_schema_path()).resolve()
    with _LOCK:
        schema = _CACHE.get(resolved)
        if schema is None:
            with gzip.open(resolved, "rt", encoding="utf-8") as handle:
                schema = build_client_schema(json.load(handle)["data"])
            _install(schema)
            _CACHE[resolved] = schema
        return schema


def _install(schema: GraphQLSchema) -> None:
    # graphql-core 3.3 rejects Shopify's published schema on a deprecation-consistency rule
    # (e.g. "Interface field Node.id is not deprecated, so implementation field
    # DiscountAutomaticBxgy.id must not be deprecated"). Shopify serves it as is, so the
    # sandbox accepts it: mark it validated; documents are still validated against it.
    schema._validation_errors = []
    for name, named in schema.type_map.items():
        if name.startswith("__"):
            continue
        if isinstance(named, GraphQLObjectType):
            for field_name, field_def in named.fields.items():
                field_def.resolve = make_resolver(name, field_name)
        elif isinstance(named, GraphQLInterfaceType | GraphQLUnionType):
            named.resolve_type = resolve_type
