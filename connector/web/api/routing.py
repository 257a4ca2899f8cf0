"""Declared API operations: one decorator validates input and records the route for OpenAPI.

Every `/api/v1` route is registered through `operation`, which parses and validates the query
string and JSON body with pydantic, authenticates, and keeps a description of the route. The
OpenAPI document is built from those descriptions, so it cannot drift from the code.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import Blueprint, Response, current_app, request
from pydantic import BaseModel, ValidationError

from connector.runtime import Runtime
from connector.web.api.auth import Principal, authenticate
from connector.web.errors import ApiError


@dataclass(frozen=True)
class Call:
    """What a view gets: who is asking, the validated query and body, the runtime."""

    runtime: Runtime
    principal: Principal
    query: Any = None
    body: Any = None


@dataclass(frozen=True)
class Operation:
    method: str
    rule: str
    summary: str
    response: type[BaseModel] | None
    status: int = 200
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    errors: tuple[int, ...] = ()
    tag: str = ""
    # Another media type than JSON (a CSV export): the view returns a flask Response.
    media_type: str | None = None


OPERATIONS: list[Operation] = []


def runtime() -> Runtime:
    return current_app.extensions["backorder"]


def _first_error(exc: ValidationError) -> tuple[str | None, str]:
    error = exc.errors(include_url=False)[0]
    location = ".".join(str(part) for part in error["loc"]) or None
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "is not a known field"
    return location, message


def _describe(name: str | None, message: str) -> str:
    return f"{name}: {message}" if name else message


def _parse_query(model: type[BaseModel]) -> BaseModel:
    raw: dict[str, Any] = {}
    for key in request.args:
        values = request.args.getlist(key)
        raw[key] = values if len(values) > 1 else values[0]
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        name, message = _first_error(exc)
        raise ApiError(400, "invalid_parameter", _describe(name, message), name) from None


def _parse_body(model: type[BaseModel]) -> BaseModel:
    if not request.is_json:
        raise ApiError(
            400, "malformed_body", "send a JSON object with Content-Type: application/json"
        )
    data = request.get_json(silent=True)
    if data is None:
        raise ApiError(400, "malformed_body", "the body is not valid JSON")
    if not isinstance(data, dict):
        raise ApiError(400, "malformed_body", "the body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        name, message = _first_error(exc)
        raise ApiError(422, "validation_error", _describe(name, message), name) from None


api_v1 = Blueprint("api_v1", __name__, url_prefix="/api/v1")


def operation(
    method: str,
    rule: str,
    *,
    tag: str,
    summary: str,
    response: type[BaseModel] | None,
    status: int = 200,
    query: type[BaseModel] | None = None,
    body: type[BaseModel] | None = None,
    errors: tuple[int, ...] = (),
    media_type: str | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def handle(**path: Any) -> Any:
            rt = runtime()
            principal = authenticate(rt)
            call = Call(
                runtime=rt,
                principal=principal,
                query=_parse_query(query) if query else None,
                body=_parse_body(body) if body else None,
            )
            result = view(call, **path)
            if isinstance(result, Response):
                return result
            headers: dict[str, str] = {}
            if isinstance(result, tuple):
                result, headers = result
            if result is None:
                return "", status, headers
            return result.model_dump(mode="json"), status, headers

        api_v1.add_url_rule(rule, view_func=handle, methods=[method])
        OPERATIONS.append(
            Operation(
                method=method.lower(),
                rule=f"{api_v1.url_prefix}{rule}",
                summary=summary,
                response=response,
                status=status,
                query=query,
                body=body,
                errors=errors,
                tag=tag,
                media_type=media_type,
            )
        )
        return handle

    return register


_CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")


def openapi_path(rule: str) -> str:
    return _CONVERTER.sub(lambda m: "{" + m.group(2) + "}", rule)


def path_parameters(rule: str) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 1}
            if converter == "int"
            else {"type": "string"},
        }
        for converter, name in _CONVERTER.findall(rule)
    ]
