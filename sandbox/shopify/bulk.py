"""bulkOperationRunQuery: run a query over the whole shop in the background, write JSONL.

As Shopify documents (shopify.dev/docs/api/usage/bulk-operations/queries): connections are
unpaginated, each node is one JSON line, nodes of nested connections are lines of their own
carrying `__parentId`, the status goes CREATED → RUNNING → COMPLETED, the file is exposed at
`url`, and `bulk_operations/finish` is announced. One bulk query runs at a time per shop.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLSchema, execute, parse, validate

from sandbox.shopify import payloads
from sandbox.shopify.errors import SandboxError
from sandbox.shopify.models import BulkOperation
from sandbox.shopify.store import ShopifyStore


@dataclass
class BulkContext:
    """GraphQL context for bulk runs: connections ignore page sizes."""

    store: ShopifyStore
    api_version: str
    bulk: bool = True
    base_url: str = ""
    bulk_runner: Any = None


class BulkRunner:
    """Starts bulk operations and keeps their JSONL results for download."""

    def __init__(self, store: ShopifyStore, schema: GraphQLSchema, api_version: str) -> None:
        self.store = store
        self.schema = schema
        self.api_version = api_version
        self.files: dict[int, bytes] = {}

    def start(self, query: str, base_url: str) -> BulkOperation:
        try:
            document = parse(query)
        except Exception as exc:
            raise SandboxError(f"Invalid bulk query: {exc}", field=["query"]) from exc
        errors = validate(self.schema, document)
        if errors:
            raise SandboxError(f"Invalid bulk query: {errors[0].message}", field=["query"])
        store = self.store
        with store.lock:
            current = store.bulk_operations.get(store.current_bulk or -1)
            if current is not None and current.status in ("CREATED", "RUNNING"):
                raise SandboxError(
                    "A bulk query operation for this app and shop is already in progress: "
                    f"{current.id}.",
                    code="OPERATION_IN_PROGRESS",
                    field=None,
                )
            operation = BulkOperation(store.ids.next(), query, "CREATED", store.clock())
            store.bulk_operations[operation.number] = operation
            store.current_bulk = operation.number
        thread = threading.Thread(
            target=self._run, args=(operation, document, base_url), daemon=True
        )
        thread.start()
        return operation

    def _run(self, operation: BulkOperation, document: Any, base_url: str) -> None:
        store = self.store
        with store.lock:
            operation.status = "RUNNING"
            context = BulkContext(store, self.api_version)
            result = execute(self.schema, document, context_value=context)
            rows: list[dict[str, Any]] = []
            roots = 0
            if result.errors or not result.data:
                operation.status, operation.errorCode = "FAILED", "INTERNAL_SERVER_ERROR"
            else:
                for value in result.data.values():
                    roots += flatten(value, None, rows)
                body = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in rows).encode()
                self.files[operation.number] = body
                operation.status = "COMPLETED"
                operation.objectCount, operation.rootObjectCount = len(rows), roots
                operation.fileSize = len(body)
                if rows:
                    operation.url = f"{base_url.rstrip('/')}/_sandbox/bulk/{operation.number}.jsonl"
            operation.completedAt = store.clock()
            store.announce("bulk_operations/finish", payloads.bulk_finish(store, operation))


def _is_connection(value: Any) -> bool:
    return isinstance(value, dict) and (
        isinstance(value.get("edges"), list) or isinstance(value.get("nodes"), list)
    )


def _nodes(value: dict[str, Any]) -> list[Any]:
    if isinstance(value.get("nodes"), list):
        return value["nodes"]
    return [edge.get("node") for edge in value.get("edges") or []]


def flatten(connection: Any, parent_id: str | None, rows: list[dict[str, Any]]) -> int:
    """Append one line per node (children after their parent); return the node count."""
    if not _is_connection(connection):
        return 0
    count = 0
    for node in _nodes(connection):
        if not isinstance(node, dict):
            continue
        count += 1
        children: list[Any] = []
        row = _strip(node, children)
        if parent_id is not None:
            row["__parentId"] = parent_id
        rows.append(row)
        for child in children:
            flatten(child, node.get("id"), rows)
    return count


def _strip(obj: dict[str, Any], children: list[Any]) -> dict[str, Any]:
    """Copy `obj` without nested connections (collected into `children`)."""
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if _is_connection(value):
            children.append(value)
        elif isinstance(value, dict):
            out[key] = _strip(value, children)
        else:
            out[key] = value
    return out
