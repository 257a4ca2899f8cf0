"""Bulk mutations: one mutation run by Shopify over a JSONL file of variables.

Why: each mutation costs 10 points against a bucket that refills 100 points a second on the
Standard plan, so releasing and tagging 1,000 orders one call at a time takes minutes of pure
throttling. A bulk import (shopify.dev/docs/api/usage/bulk-operations/imports) is charged once
(`stagedUploadsCreate` and `bulkOperationRunMutation`, about 10 points each) however many lines
the file has; Shopify runs the lines in the background. How this module uses it:

- stage: `stagedUploadsCreate(BULK_MUTATION_VARIABLES)` gives a signed storage URL and form
  fields; the file (one JSON object of variables per line) is POSTed there as multipart form
  data, fields first, file last, through the adapter's session but without the Admin token (the
  storage host is not the Admin API). The `key` field is the `stagedUploadPath` of the run.
- start: one bulk *mutation* runs at a time per app and shop (API 2025-01; a bulk query may run
  beside it). OPERATION_IN_PROGRESS means another caller's runs: we wait for it
  (`currentBulkOperation(type: MUTATION)`), then start ours. We never adopt nor cancel it.
- wait: poll `node(id:)` as the export does (`BulkExport.wait`: 1 s first, growing 1.5x to 15 s).
- read: the result file has one line per input line, `{"data": ..., "__lineNumber": n}`, in no
  promised order; results are handed back in the order of the rows.
- size: Shopify caps the variables file at 100 MB; we also cap a run at `MAX_ROWS` lines so a
  failure costs little to redo, and run the chunks one after another.
- fail: a row refused by the mutation (its `userErrors`) is that row's result, not an error. An
  operation that ends FAILED, CANCELED or EXPIRED, a row with GraphQL errors or a row missing
  from the file raises `BulkMutationError`, which carries the rows' results as far as known (a
  failed run's `partialDataUrl` is read first): the caller sees which rows took effect.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import requests

from adapters.base import StoreError
from adapters.shopify import queries
from adapters.shopify.bulk import (
    ACTIVE,
    DOWNLOAD_ATTEMPTS,
    DOWNLOAD_HEADERS,
    POLL_FIRST,
    START_ATTEMPTS,
    BulkExport,
    Operation,
    Run,
)
from adapters.shopify.transport import TIMEOUT

log = logging.getLogger(__name__)

FILENAME = "bulk_op_vars.jsonl"
MIME_TYPE = "text/jsonl"
MAX_ROWS = 10_000  # lines per operation
MAX_FILE_BYTES = 100 * 1000 * 1000  # Shopify's cap on the variables file (100 MB)
# Storage is not the Admin API: the same headers as the export's download (no token).
STORAGE_HEADERS = DOWNLOAD_HEADERS


class BulkMutationError(StoreError):
    """Some rows have no clean result; `results[i]` is row i's `data` where one is known."""

    def __init__(self, message: str, results: list[dict[str, Any] | None]) -> None:
        super().__init__(message)
        self.results = results


class BulkMutations:
    """Run one mutation over many rows of variables as Shopify bulk operations."""

    def __init__(
        self,
        run: Run,
        session: requests.Session,
        sleep: Callable[[float], None],
        *,
        poll_first: float = POLL_FIRST,
    ) -> None:
        self.run_graphql = run
        self.session = session
        self.sleep = sleep
        self.poll_first = poll_first
        # Polling and reading the result file are the export's: one way to wait, one to download.
        self.export = BulkExport(run, session, sleep, poll_first=poll_first)

    def run(self, mutation: str, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Run `mutation` once per row of variables; each row's result `data` (the mutation's
        payload dict, e.g. {"tagsAdd": {...}}), in the order of `rows`. Raises StoreError when the
        operation fails as a whole (BulkMutationError when rows lack a clean result)."""
        results: list[dict[str, Any]] = []
        for start, body, size in _chunks(rows):
            try:
                results.extend(self._run_chunk(mutation, body, size, start))
            except BulkMutationError as exc:
                done: list[dict[str, Any] | None] = list(results)
                rest = [None] * (len(rows) - start - size)
                raise BulkMutationError(str(exc), done + exc.results + rest) from exc
        return results

    # ------------------------------------------------------------------ one operation
    def _run_chunk(self, mutation: str, body: bytes, size: int, first: int) -> list[dict[str, Any]]:
        """One operation over `size` rows, the first of which is row `first` of the caller's."""
        path = self._stage(body)
        operation = self._start(mutation, path)
        if operation.status in ACTIVE:
            operation = self.export.wait(operation.id)
        found: dict[int, dict[str, Any]] = {}
        if operation.status != "COMPLETED":
            partial = self._partial_url(operation.id)
            if partial:
                found = self._read(partial)
            code = f" ({operation.error_code})" if operation.error_code else ""
            raise BulkMutationError(
                f"bulk mutation {operation.id} ended {operation.status}{code} after "
                f"{len(found)} of its {size} rows (from row {first})",
                [_data(found[i]) if i in found else None for i in range(size)],
            )
        if operation.url:
            found = self._read(operation.url)
        return _in_order(found, size, first, operation.id)

    def _stage(self, body: bytes) -> str:
        """Upload the variables file; its `key`, the run's `stagedUploadPath`."""
        payload = self.run_graphql(
            queries.STAGED_UPLOADS_CREATE,
            input=[
                {
                    "resource": "BULK_MUTATION_VARIABLES",
                    "filename": FILENAME,
                    "mimeType": MIME_TYPE,
                    "httpMethod": "POST",
                }
            ],
        )["stagedUploadsCreate"]
        _refused(payload)
        target = (payload.get("stagedTargets") or [None])[0]
        if not target or not target.get("url"):
            raise StoreError("stagedUploadsCreate gave no upload target")
        fields = [(p["name"], p["value"]) for p in target["parameters"]]
        key = next((value for name, value in fields if name == "key"), None)
        if key is None:
            raise StoreError("stagedUploadsCreate gave no `key` parameter")
        for attempt in range(1, DOWNLOAD_ATTEMPTS + 1):
            try:
                response = self.session.post(
                    target["url"],
                    data=fields,
                    files=[("file", (FILENAME, body, MIME_TYPE))],
                    headers=STORAGE_HEADERS,
                    timeout=TIMEOUT,
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                if attempt == DOWNLOAD_ATTEMPTS:
                    raise StoreError(f"bulk variables upload kept failing: {exc}") from exc
                self.sleep(self.poll_first * 2**attempt)
                continue
            if not 200 <= response.status_code < 300:
                raise StoreError(f"bulk variables upload answered {response.status_code}")
            return key
        raise AssertionError("unreachable")

    def _start(self, mutation: str, path: str) -> Operation:
        for _ in range(START_ATTEMPTS):
            payload = self.run_graphql(
                queries.BULK_OPERATION_RUN_MUTATION, mutation=mutation, path=path
            )["bulkOperationRunMutation"]
            errors = payload.get("userErrors") or []
            if not errors:
                return Operation.of(payload["bulkOperation"])
            if not any(e.get("code") == "OPERATION_IN_PROGRESS" for e in errors):
                _refused(payload)
            node = self.run_graphql(queries.CURRENT_BULK_MUTATION).get("currentBulkOperation")
            current = Operation.of(node) if node else None
            if current is None or current.status not in ACTIVE:
                self.sleep(self.poll_first)  # it ended between the two answers: start again
            else:
                log.info("bulk mutation %s (another caller's) is running: waiting", current.id)
                self.export.wait(current.id)
        raise StoreError("could not start a bulk mutation: another one kept running")

    def _partial_url(self, operation_id: str) -> str | None:
        node = self.run_graphql(queries.BULK_OPERATION_PARTIAL_DATA, id=operation_id).get("node")
        return (node or {}).get("partialDataUrl")

    def _read(self, url: str) -> dict[int, dict[str, Any]]:
        """Result lines by input line number (a broken download is read again, whole)."""
        for attempt in range(1, DOWNLOAD_ATTEMPTS + 1):
            try:
                return {int(line["__lineNumber"]): line for line in self.export.lines(url)}
            except (requests.ConnectionError, requests.Timeout) as exc:
                if attempt == DOWNLOAD_ATTEMPTS:
                    raise StoreError(f"bulk result download kept failing: {exc}") from exc
                log.warning("bulk result download broke (%s); again", exc)
                self.sleep(self.poll_first * 2**attempt)
        raise AssertionError("unreachable")


def _chunks(rows: Sequence[dict[str, Any]]) -> Iterator[tuple[int, bytes, int]]:
    """(index of the first row, JSONL body, row count) per operation: ≤ MAX_ROWS, ≤ 100 MB."""
    lines: list[bytes] = []
    start, size = 0, 0
    for index, row in enumerate(rows):
        line = json.dumps(row, separators=(",", ":"), default=str).encode() + b"\n"
        if len(line) > MAX_FILE_BYTES:
            raise StoreError(f"row {index} alone is larger than a bulk variables file may be")
        if lines and (len(lines) == MAX_ROWS or size + len(line) > MAX_FILE_BYTES):
            yield start, b"".join(lines), len(lines)
            lines, start, size = [], index, 0
        lines.append(line)
        size += len(line)
    if lines:
        yield start, b"".join(lines), len(lines)


def _in_order(
    found: dict[int, dict[str, Any]], size: int, first: int, operation_id: str
) -> list[Any]:
    """Each row's `data` by line number; rows missing or with GraphQL errors raise."""
    broken = {i: line["errors"] for i, line in found.items() if line.get("errors")}
    results = [_data(found[i]) if i in found and i not in broken else None for i in range(size)]
    missing = [first + i for i in range(size) if i not in found]
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (" …" if len(missing) > 10 else "")
        raise BulkMutationError(
            f"bulk mutation {operation_id} gave no result for rows {shown}", results
        )
    if broken:
        row = min(broken)
        message = "; ".join(str(e.get("message")) for e in broken[row])
        raise BulkMutationError(
            f"bulk mutation {operation_id}: {len(broken)} rows had GraphQL errors "
            f"(row {first + row}: {message})",
            results,
        )
    return results


def _data(line: dict[str, Any]) -> dict[str, Any]:
    return line.get("data") or {}


def _refused(payload: dict[str, Any]) -> None:
    errors = payload.get("userErrors") or []
    if errors:
        raise StoreError("; ".join(str(e.get("message")) for e in errors))
