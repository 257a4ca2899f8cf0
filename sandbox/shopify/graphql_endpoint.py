"""POST /admin/api/<version>/graphql.json: auth, faults, cost, throttle, execute.

Error shapes follow what Shopify answers: 401 with a string `errors` for a bad token, HTTP 200
with `errors[].extensions.code` for invalid documents, MAX_COST_EXCEEDED and THROTTLED, and
`extensions.cost` on every GraphQL answer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from graphql import (
    GraphQLError,
    OperationDefinitionNode,
    execute,
    get_operation_ast,
    parse,
    validate,
)

from sandbox.shopify.cost import MAX_SINGLE_QUERY_COST, CostCalculator

blueprint = Blueprint("shopify_graphql", __name__)
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"  # noqa: S105


@dataclass
class RequestContext:
    """What resolvers see as `info.context`."""

    store: Any
    api_version: str
    base_url: str
    bulk_runner: Any
    bulk: bool = False


def _code(error: GraphQLError) -> str:
    message = error.message
    if message.startswith("Syntax Error"):
        return "PARSE_ERROR"
    if message.startswith("Cannot query field"):
        return "undefinedField"
    if message.startswith("Unknown argument"):
        return "argumentNotAccepted"
    if "required" in message and "argument" in message:
        return "missingRequiredArguments"
    return "GRAPHQL_VALIDATION_FAILED"


def _format(error: GraphQLError, code: str | None = None) -> dict[str, Any]:
    out = error.formatted
    extensions = dict(out.get("extensions") or {})
    if code:
        extensions.setdefault("code", code)
    if extensions:
        out["extensions"] = extensions
    return out


@blueprint.post("/admin/api/<version>/graphql.json")
def graphql_endpoint(version: str) -> Response | tuple[Response, int]:
    state = current_app.extensions["shopify_sandbox"]
    store = state.store
    token = request.headers.get("X-Shopify-Access-Token")
    if not store.installed or not state.tokens.valid(token, store.clock()):
        return jsonify({"errors": INVALID_TOKEN}), 401
    if store.faults.slow_seconds:
        time.sleep(store.faults.slow_seconds)
    failure = store.faults.take_failure()
    if failure is not None:
        return jsonify({"errors": "Internal Server Error"}), failure
    if store.faults.take_storm():
        state.bucket.drain_all()
    body = request.get_json(silent=True) or {}
    query = body.get("query")
    if not isinstance(query, str) or not query.strip():
        return jsonify({"errors": {"query": "Required parameter missing or invalid"}}), 400
    variables = body.get("variables") or {}
    try:
        document = parse(query)
    except GraphQLError as exc:
        return jsonify({"errors": [_format(exc, "PARSE_ERROR")]})
    errors = validate(state.schema, document)
    if errors:
        return jsonify({"errors": [_format(e, _code(e)) for e in errors]})
    operation = get_operation_ast(document, body.get("operationName"))
    if not isinstance(operation, OperationDefinitionNode):
        return jsonify({"errors": [{"message": "No operation named in the document"}]})
    calculator = CostCalculator(state.schema, document, variables)
    requested = calculator.operation(operation)
    bucket = state.bucket
    if requested > state.max_query_cost:
        return jsonify(
            {
                "errors": [
                    {
                        "message": f"Query cost is {requested}, which exceeds the single query "
                        f"max cost limit ({state.max_query_cost}).",
                        "extensions": {
                            "code": "MAX_COST_EXCEEDED",
                            "cost": requested,
                            "maxCost": state.max_query_cost,
                        },
                    }
                ]
            }
        )
    if not bucket.take(token, requested):
        return jsonify(
            {
                "errors": [
                    {
                        "message": "Throttled",
                        "extensions": {
                            "code": "THROTTLED",
                            "documentation": "https://shopify.dev/api/usage/rate-limits",
                        },
                    }
                ],
                "extensions": {"cost": _cost(requested, None, bucket.status(token))},
            }
        )
    context = RequestContext(store, version, request.host_url.rstrip("/"), state.bulk)
    with store.lock:
        result = execute(
            state.schema,
            document,
            context_value=context,
            variable_values=variables,
            operation_name=body.get("operationName"),
        )
    actual = calculator.operation(operation, result.data, actual=True)
    if operation.operation.value == "mutation":
        actual = requested
    bucket.refund(token, max(requested - actual, 0))
    answer: dict[str, Any] = {}
    if result.errors:
        answer["errors"] = [_format(e) for e in result.errors]
    answer["data"] = result.data
    answer["extensions"] = {"cost": _cost(requested, actual, bucket.status(token))}
    return jsonify(answer)


def _cost(requested: int, actual: int | None, status: dict[str, float]) -> dict[str, Any]:
    return {"requestedQueryCost": requested, "actualQueryCost": actual, "throttleStatus": status}


__all__ = ["MAX_SINGLE_QUERY_COST", "RequestContext", "blueprint"]
