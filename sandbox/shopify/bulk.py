"""bulkOperationRunQuery: run a query over the whole shop in the background, write JSONL.

As Shopify documents (shopify.dev/docs/api/usage/bulk-operations/queries): connections are
unpaginated, each node is one JSON line, nodes of nested connections are lines of their own
carrying `__parentId`, the status goes CREATED → RUNNING → COMPLETED, the file is exposed at
`url`, and `bulk_operations/finish` is announced. One bulk query runs at a time per shop.

bulkOperationRunMutation (shopify.dev/docs/api/usage/bulk-operations/imports): the variables file
was posted to a staged upload (`staged_uploads.py`); the mutation runs once per line, through the
same executor and store methods as the live endpoint (real effects, real webhooks), without
charging the rate-limit bucket per line (the run itself costs 10 points at the endpoint). Each
line's answer is written as `{"data": ..., "__lineNumber": i}` (with `"errors"` when GraphQL
refused the line). One bulk mutation runs at a time per shop, independently of bulk queries.

Scenario knobs for clients' tests: `fail_next(code)` ends the next operations FAILED with a
`BulkOperationErrorCode` (ACCESS_DENIED, INTERNAL_SERVER_ERROR, TIMEOUT); `fail_mutation_after(n)`
ends the next bulk mutation FAILED after `n` lines, its answers so far at `partialDataUrl`;
`hold()` keeps new operations RUNNING (the store stays usable meanwhile, as on Shopify) until
`release()`.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    execute,
    get_named_type,
    parse,
    validate,
    visit,
)

from sandbox.shopify import payloads
from sandbox.shopify.errors import SandboxError
from sandbox.shopify.models import BulkOperation
from sandbox.shopify.staged_uploads import StagedUploads
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
        self.failures: list[str] = []  # error codes the next operations fail with
        self.gate = threading.Event()  # cleared: operations stay RUNNING until released
        self.gate.set()
        self.uploads = StagedUploads(store.shop.number)
        self.current_mutation: int | None = None  # currentBulkOperation(type: MUTATION)
        self.partial_failures: list[tuple[int, str]] = []  # (lines done, code), next mutations

    def fail_next(self, code: str = "INTERNAL_SERVER_ERROR", n: int = 1) -> None:
        with self.store.lock:
            self.failures.extend([code] * n)

    def fail_mutation_after(self, lines: int, code: str = "INTERNAL_SERVER_ERROR") -> None:
        with self.store.lock:
            self.partial_failures.append((lines, code))

    def hold(self) -> None:
        self.gate.clear()

    def release(self) -> None:
        self.gate.set()

    def start(self, query: str, base_url: str) -> BulkOperation:
        try:
            document = parse(query)
        except Exception as exc:
            raise SandboxError(f"Invalid bulk query: {exc}", field=["query"]) from exc
        errors = validate(self.schema, document)
        if errors:
            raise SandboxError(f"Invalid bulk query: {errors[0].message}", field=["query"])
        refusal = _beyond_limits(self.schema, document)
        if refusal:
            raise SandboxError(f"Invalid bulk query: {refusal}", code="INVALID", field=["query"])
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
        self.gate.wait()
        with store.lock:
            failure = self.failures.pop(0) if self.failures else None
            context = BulkContext(store, self.api_version)
            result = None if failure else execute(self.schema, document, context_value=context)
            rows: list[dict[str, Any]] = []
            roots = 0
            if result is None:
                operation.status, operation.errorCode = "FAILED", failure
            elif result.errors or not result.data:
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

    # ------------------------------------------------------------------ mutations
    def start_mutation(self, mutation: str, path: str, context: Any) -> BulkOperation:
        """Start `mutation` over the file staged at `path`; `context` is the live request's
        GraphQL context (its store, version and base URL serve every line)."""
        document = self._mutation_document(mutation)
        body = self.uploads.file(path)
        if body is None:
            raise SandboxError(
                "The JSONL file could not be found. Try uploading the file again, and check "
                "that you've entered the URL correctly for the stagedUploadPath mutation argument.",
                code="NO_SUCH_FILE",
                field=["stagedUploadPath"],
            )
        store = self.store
        with store.lock:
            current = store.bulk_operations.get(self.current_mutation or -1)
            if current is not None and current.status in ("CREATED", "RUNNING"):
                raise SandboxError(
                    "A bulk mutation operation for this app and shop is already in progress: "
                    f"{current.id}.",
                    code="OPERATION_IN_PROGRESS",
                    field=None,
                )
            operation = BulkOperation(store.ids.next(), mutation, "CREATED", store.clock())
            operation.type = "MUTATION"
            store.bulk_operations[operation.number] = operation
            self.current_mutation = operation.number
        thread = threading.Thread(
            target=self._run_mutation, args=(operation, document, body, context), daemon=True
        )
        thread.start()
        return operation

    def _mutation_document(self, mutation: str) -> Any:
        """The parsed document, if it is one valid mutation with exactly one top-level field."""
        try:
            document = parse(mutation)
        except GraphQLError as exc:
            raise _invalid(f"Failed to parse the mutation - {exc.message}") from exc
        errors = validate(self.schema, document)
        if errors:
            raise _invalid(f"Failed to parse the mutation - {errors[0].message}")
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if len(operations) != 1 or operations[0].operation.value != "mutation":
            raise _invalid("Bulk mutations must contain exactly one mutation operation")
        fields = operations[0].selection_set.selections
        if len(fields) != 1 or not isinstance(fields[0], FieldNode):
            raise _invalid("Bulk mutations must contain exactly one top-level mutation field")
        if fields[0].name.value.startswith(("bulkOperation", "stagedUploads")):
            raise _invalid(f"You must use an allowed mutation name, not {fields[0].name.value}")
        return document

    def _run_mutation(
        self, operation: BulkOperation, document: Any, body: bytes, context: Any
    ) -> None:
        store = self.store
        with store.lock:
            operation.status = "RUNNING"
        self.gate.wait()
        with store.lock:
            failure = self.failures.pop(0) if self.failures else None
            stop, late = self.partial_failures.pop(0) if self.partial_failures else (None, None)
        rows: list[str] = []
        if failure is None:
            for number, raw in enumerate(body.decode().splitlines()):
                if stop is not None and number >= stop:
                    failure = late
                    break
                with store.lock:  # a line at a time: the shop stays usable meanwhile
                    rows.append(_answer(self.schema, document, raw, number, context))
        with store.lock:
            data = "".join(row + "\n" for row in rows).encode()
            url = f"{context.base_url.rstrip('/')}/_sandbox/bulk/{operation.number}.jsonl"
            if rows:
                self.files[operation.number] = data
            if failure is None:
                operation.status = "COMPLETED"
                operation.url = url if rows else None
            else:
                operation.status, operation.errorCode = "FAILED", failure
                operation.partialDataUrl = url if rows else None
            operation.objectCount = operation.rootObjectCount = len(rows)
            operation.fileSize = len(data)
            operation.completedAt = store.clock()
            store.announce("bulk_operations/finish", payloads.bulk_finish(store, operation))


def _invalid(message: str) -> SandboxError:
    return SandboxError(message, code="INVALID_MUTATION", field=["mutation"])


def _answer(schema: GraphQLSchema, document: Any, raw: str, number: int, context: Any) -> str:
    """One result line: the mutation run with this line's variables."""
    answer: dict[str, Any]
    try:
        variables = json.loads(raw)
    except json.JSONDecodeError as exc:
        answer = {"errors": [{"message": f"Invalid JSON on line {number + 1}: {exc.msg}"}]}
    else:
        if not isinstance(variables, dict):
            answer = {"errors": [{"message": f"Line {number + 1} is not a JSON object"}]}
        else:
            result = execute(schema, document, context_value=context, variable_values=variables)
            answer = {"data": result.data}
            if result.errors:
                answer["errors"] = [e.formatted for e in result.errors]
    answer["__lineNumber"] = number
    return json.dumps(answer, separators=(",", ":"), default=str)


MAX_CONNECTIONS = 5
MAX_NESTING = 2


def _beyond_limits(schema: GraphQLSchema, document: Any) -> str | None:
    """The documented limits: at least one and at most five connections, nested at most two
    deep, and no top-level `node` / `nodes` (shopify.dev/docs/api/usage/bulk-operations/queries).
    """
    type_info = TypeInfo(schema)
    stack: list[bool] = []  # per open field: is it a connection?
    found = {"connections": 0, "deepest": 0, "root_node": False}

    class Limits(Visitor):
        def enter_field(self, node: FieldNode, *_: Any) -> None:
            kind = type_info.get_type()
            is_connection = kind is not None and get_named_type(kind).name.endswith("Connection")
            if not stack and node.name.value in ("node", "nodes"):
                found["root_node"] = True
            if is_connection:
                found["connections"] += 1
                found["deepest"] = max(found["deepest"], sum(stack))
            stack.append(is_connection)

        def leave_field(self, *_: Any) -> None:
            stack.pop()

    visit(document, TypeInfoVisitor(type_info, Limits()))
    if found["root_node"]:
        return "the top-level `node` and `nodes` fields can't be used in bulk queries"
    if found["connections"] == 0:
        return "a bulk query must contain at least one connection"
    if found["connections"] > MAX_CONNECTIONS:
        return f"a bulk query may contain at most {MAX_CONNECTIONS} connections"
    if found["deepest"] > MAX_NESTING:
        return f"connections may be nested at most {MAX_NESTING} levels deep"
    return None


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
