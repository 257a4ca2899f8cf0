"""Calculated query cost and the leaky bucket, after Shopify's documented model.

Source: shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits ("Cost calculation") and
help.shopify.com/en/api/graphql-admin-api/call-limit. Model used here:
- scalars and enums cost 0, an object 1, a connection 2 + (first|last) x the cost of one node
  (1 + its nested fields); each mutation root field costs 10;
- the requested cost is computed before execution and must fit in the bucket; the actual cost
  uses the number of nodes actually returned, and the difference is refunded;
- a single query may not request more than 1000;
- the bucket holds `maximumAvailable` (Standard plan: 2000) and refills `restoreRate` (100/s).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    is_leaf_type,
    value_from_ast_untyped,
)

MUTATION_COST = 10
MAX_SINGLE_QUERY_COST = 1000


class CostCalculator:
    """Requested (data=None) or actual (data=result) cost of one operation."""

    def __init__(
        self, schema: GraphQLSchema, document: DocumentNode, variables: dict[str, Any] | None
    ) -> None:
        self.schema = schema
        self.variables = variables or {}
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }

    def operation(self, op: OperationDefinitionNode, data: Any = None, actual: bool = False) -> int:
        if op.operation.value == "mutation":
            return MUTATION_COST * sum(
                1 for s in op.selection_set.selections if isinstance(s, FieldNode)
            )
        root = self.schema.query_type
        return self._selections(op.selection_set, root, data, actual)

    def _selections(
        self, selection_set: SelectionSetNode | None, parent: Any, data: Any, actual: bool
    ) -> int:
        if selection_set is None:
            return 0
        total = 0
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode):
                total += self._field(sel, parent, data, actual)
            elif isinstance(sel, InlineFragmentNode):
                kind = (
                    self.schema.get_type(sel.type_condition.name.value)
                    if sel.type_condition
                    else parent
                )
                total += self._selections(sel.selection_set, kind, data, actual)
            elif isinstance(sel, FragmentSpreadNode):
                frag = self.fragments.get(sel.name.value)
                if frag:
                    kind = self.schema.get_type(frag.type_condition.name.value)
                    total += self._selections(frag.selection_set, kind, data, actual)
        return total

    def _field(self, node: FieldNode, parent: Any, data: Any, actual: bool) -> int:
        name = node.name.value
        fields = getattr(parent, "fields", None)
        if name.startswith("__") or not fields or name not in fields:
            return 0
        kind = get_named_type(fields[name].type)
        if is_leaf_type(kind):
            return 0
        key = node.alias.value if node.alias else name
        value = data.get(key) if isinstance(data, dict) else None
        if actual and value is None:
            return 0
        if _is_connection(kind):
            return self._connection(node, kind, value, actual)
        if actual and isinstance(value, list):
            return 1 + max(
                (self._selections(node.selection_set, kind, v, True) for v in value), default=0
            )
        return 1 + self._selections(node.selection_set, kind, value, actual)

    def _connection(
        self, node: FieldNode, kind: GraphQLObjectType, value: Any, actual: bool
    ) -> int:
        node_type = get_named_type(kind.fields["nodes"].type) if "nodes" in kind.fields else None
        node_selections = []
        for sel in node.selection_set.selections if node.selection_set else []:
            if isinstance(sel, FieldNode) and sel.name.value == "nodes":
                node_selections.append((sel.selection_set, "nodes", None))
            elif isinstance(sel, FieldNode) and sel.name.value == "edges" and sel.selection_set:
                for inner in sel.selection_set.selections:
                    if isinstance(inner, FieldNode) and inner.name.value == "node":
                        node_selections.append((inner.selection_set, "edges", inner))
        if actual:
            rows = value.get("nodes") or [e.get("node") for e in value.get("edges") or []]
            per = [
                max(
                    (
                        1 + self._selections(ss, node_type, row, True)
                        for ss, _, _ in node_selections
                    ),
                    default=1,
                )
                for row in rows
                if row is not None
            ]
            return 2 + sum(per)
        count = self._arg(node, "first") or self._arg(node, "last") or 0
        per_node = max(
            (1 + self._selections(ss, node_type, None, False) for ss, _, _ in node_selections),
            default=1,
        )
        return 2 + int(count) * per_node

    def _arg(self, node: FieldNode, name: str) -> Any:
        for arg in node.arguments or ():
            if arg.name.value == name:
                return value_from_ast_untyped(arg.value, self.variables)
        return None


def _is_connection(kind: Any) -> bool:
    fields = getattr(kind, "fields", None)
    return bool(kind.name.endswith("Connection") and fields and "pageInfo" in fields)


class LeakyBucket:
    """Per-access-token budget: `maximum` points, refilled at `restore_rate` points per second."""

    def __init__(
        self,
        maximum: float = 2000,
        restore_rate: float = 100,
        ticker: Callable[[], float] = time.monotonic,
    ) -> None:
        self.maximum = maximum
        self.restore_rate = restore_rate
        self.ticker = ticker
        self._levels: dict[str, tuple[float, float]] = {}
        self._drained_at: float | None = None  # a token first seen after a storm starts empty
        self._lock = threading.Lock()

    def _current(self, token: str) -> float:
        now = self.ticker()
        fresh = (self.maximum, now) if self._drained_at is None else (0.0, self._drained_at)
        available, at = self._levels.get(token, fresh)
        available = min(self.maximum, available + (now - at) * self.restore_rate)
        self._levels[token] = (available, now)
        return available

    def available(self, token: str) -> float:
        with self._lock:
            return self._current(token)

    def take(self, token: str, cost: float) -> bool:
        """Deduct `cost` if it fits; False (and nothing deducted) when throttled."""
        with self._lock:
            available = self._current(token)
            if cost > available:
                return False
            self._levels[token] = (available - cost, self.ticker())
            return True

    def refund(self, token: str, amount: float) -> None:
        with self._lock:
            available = self._current(token)
            self._levels[token] = (min(self.maximum, available + amount), self.ticker())

    def drain_all(self) -> None:
        """Empty every bucket (throttle storm)."""
        with self._lock:
            now = self.ticker()
            self._levels = {token: (0.0, now) for token in self._levels}
            self._drained_at = now

    def status(self, token: str) -> dict[str, float]:
        return {
            "maximumAvailable": float(self.maximum),
            "currentlyAvailable": float(int(self.available(token))),
            "restoreRate": float(self.restore_rate),
        }
