"""Mutation resolvers: the writes the product makes back to Shopify.

Refusals come back as `userErrors` in the payload, as Shopify reports them; only input that
breaks a documented hard limit (metafieldsSet > 25 inputs) is a top-level GraphQL error.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError, GraphQLResolveInfo

from sandbox.shopify.errors import SandboxError
from sandbox.shopify.registry import field
from sandbox.shopify.store import MetafieldError, ShopifyStore

Info = GraphQLResolveInfo
MAX_METAFIELDS = 25


def _store(info: Info) -> ShopifyStore:
    return info.context.store


def _user_error(exc: SandboxError, *, with_code: bool = True) -> dict[str, Any]:
    error: dict[str, Any] = {"field": exc.field, "message": exc.message}
    if with_code:
        error["code"] = exc.code
    return error


@field("Mutation", "tagsAdd", "tagsRemove")
def tags_change(_src: Any, info: Info, id: str, tags: list[str]) -> dict[str, Any]:
    store = _store(info)
    try:
        if info.field_name == "tagsAdd":
            node = store.tags_add(id, tags)
        else:
            node = store.tags_remove(id, tags)
    except SandboxError as exc:
        return {"node": None, "userErrors": [_user_error(exc, with_code=False)]}
    return {"node": node, "userErrors": []}


@field("Mutation", "metafieldsSet")
def metafields_set(_src: Any, info: Info, metafields: list[dict[str, Any]]) -> dict[str, Any]:
    # metafieldsSet takes at most 25 inputs per call and is atomic (shopify.dev/docs/api/
    # admin-graphql/2025-01/mutations/metafieldsSet); past 25 Shopify refuses the whole request.
    if len(metafields) > MAX_METAFIELDS:
        raise GraphQLError(
            f"The input array size of {len(metafields)} is greater than the maximum allowed of "
            f"{MAX_METAFIELDS}.",
            extensions={"code": "MAX_INPUT_SIZE_EXCEEDED"},
        )
    try:
        written = _store(info).metafields_set(metafields)
    except MetafieldError as exc:
        return {"metafields": [], "userErrors": [{**_user_error(exc), "elementIndex": exc.index}]}
    except SandboxError as exc:
        return {"metafields": [], "userErrors": [{**_user_error(exc), "elementIndex": None}]}
    return {"metafields": written, "userErrors": []}


@field("Mutation", "fulfillmentOrderHold")
def fulfillment_order_hold(
    _src: Any,
    info: Info,
    id: str,
    fulfillmentHold: dict[str, Any],
) -> dict[str, Any]:
    lines = fulfillmentHold.get("fulfillmentOrderLineItems")
    try:
        hold, fo, remaining = _store(info).hold_fulfillment_order(
            id,
            fulfillmentHold["reason"],
            reason_notes=fulfillmentHold.get("reasonNotes"),
            handle=fulfillmentHold.get("handle"),
            lines=[(li["id"], li["quantity"]) for li in lines] if lines else None,
        )
    except SandboxError as exc:
        return {
            "fulfillmentHold": None,
            "fulfillmentOrder": None,
            "remainingFulfillmentOrder": None,
            "userErrors": [_user_error(exc)],
        }
    return {
        "fulfillmentHold": hold,
        "fulfillmentOrder": fo,
        "remainingFulfillmentOrder": remaining,
        "userErrors": [],
    }


@field("Mutation", "fulfillmentOrderReleaseHold")
def fulfillment_order_release_hold(
    _src: Any,
    info: Info,
    id: str,
    holdIds: list[str] | None = None,
    externalId: str | None = None,
) -> dict[str, Any]:
    try:
        fo = _store(info).release_hold(id, holdIds)
    except SandboxError as exc:
        return {"fulfillmentOrder": None, "userErrors": [_user_error(exc)]}
    return {"fulfillmentOrder": fo, "userErrors": []}


@field("Mutation", "productVariantsBulkUpdate")
def product_variants_bulk_update(
    _src: Any, info: Info, productId: str, variants: list[dict[str, Any]], **_options: Any
) -> dict[str, Any]:
    try:
        product = _store(info).require(productId, "Product")
        updated = _store(info).update_variants(productId, variants)
    except SandboxError as exc:
        return {"product": None, "productVariants": None, "userErrors": [_user_error(exc)]}
    return {"product": product, "productVariants": updated, "userErrors": []}


@field("Mutation", "webhookSubscriptionCreate")
def webhook_subscription_create(
    _src: Any, info: Info, topic: str, webhookSubscription: dict[str, Any]
) -> dict[str, Any]:
    try:
        sub = _store(info).subscribe(topic, webhookSubscription.get("callbackUrl") or "")
    except SandboxError as exc:
        return {"webhookSubscription": None, "userErrors": [_user_error(exc, with_code=False)]}
    return {"webhookSubscription": sub, "userErrors": []}


@field("Mutation", "webhookSubscriptionDelete")
def webhook_subscription_delete(_src: Any, info: Info, id: str) -> dict[str, Any]:
    try:
        _store(info).unsubscribe(id)
    except SandboxError as exc:
        return {
            "deletedWebhookSubscriptionId": None,
            "userErrors": [_user_error(exc, with_code=False)],
        }
    return {"deletedWebhookSubscriptionId": id, "userErrors": []}


@field("Mutation", "bulkOperationRunQuery")
def bulk_operation_run_query(_src: Any, info: Info, query: str) -> dict[str, Any]:
    try:
        operation = info.context.bulk_runner.start(query, info.context.base_url)
    except SandboxError as exc:
        return {"bulkOperation": None, "userErrors": [_user_error(exc)]}
    return {"bulkOperation": operation, "userErrors": []}


@field("Mutation", "bulkOperationRunMutation")
def bulk_operation_run_mutation(
    _src: Any, info: Info, mutation: str, stagedUploadPath: str, clientIdentifier: str | None = None
) -> dict[str, Any]:
    try:
        operation = info.context.bulk_runner.start_mutation(
            mutation, stagedUploadPath, info.context
        )
    except SandboxError as exc:
        return {"bulkOperation": None, "userErrors": [_user_error(exc)]}
    return {"bulkOperation": operation, "userErrors": []}


@field("Mutation", "stagedUploadsCreate")
def staged_uploads_create(_src: Any, info: Info, input: list[dict[str, Any]]) -> dict[str, Any]:
    # Only the bulk mutation variables file is emulated: any other resource is a clear error,
    # not a target that would accept an image no later mutation can use.
    targets = []
    for staged in input:
        if staged["resource"] != "BULK_MUTATION_VARIABLES" or staged.get("httpMethod") != "POST":
            raise GraphQLError(
                "The sandbox emulates staged uploads for BULK_MUTATION_VARIABLES over POST only"
            )
        target = info.context.bulk_runner.uploads.issue(info.context.base_url, staged["filename"])
        targets.append(
            {
                "url": target.url,
                "resourceUrl": target.resource_url,
                "parameters": target.parameters,
            }
        )
    return {"stagedTargets": targets, "userErrors": []}
