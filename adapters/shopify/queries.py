"""Every GraphQL document the adapter sends, validated in tests against Shopify's 2025-01 schema.

Page sizes are small on purpose: Shopify refuses a query whose *requested* cost exceeds 1000,
and a connection costs `first` x the cost of one node, nested connections multiplied. A products
page with 10 variants of 4 inventory levels each costs about 175 per product, so 5 products a
page (~870). Products with more variants, variants at more locations and orders with more lines
are completed by the follow-up documents below (`PRODUCT_VARIANTS`, `INVENTORY_LEVELS`,
`ORDER_LINE_ITEMS`). Public upper-case names are whole documents; `_` names are fragments.
"""

from __future__ import annotations

import json

API_VERSION = "2025-01"
PRODUCTS_PER_PAGE = 5
VARIANTS_PER_PRODUCT = 10
LEVELS_PER_VARIANT = 4
ORDERS_PER_PAGE = 10
LINES_PER_ORDER = 20
FOLLOW_UP_PAGE = 25
FULFILLMENT_ORDERS_PER_ORDER = 10
LINES_PER_FULFILLMENT_ORDER = 40
QUANTITY_NAMES = ("available", "on_hand", "committed", "incoming")

_LEVEL_FIELDS = """
fragment LevelFields on InventoryLevel {
  updatedAt
  location { id name }
  quantities(names: ["available", "on_hand", "committed", "incoming"]) { name quantity }
}
"""

_VARIANT_FIELDS = (
    """
fragment VariantFields on ProductVariant {
  id sku title price inventoryPolicy updatedAt
  selectedOptions { name value }
  inventoryItem {
    id tracked
    inventoryLevels(first: $levels) { nodes { ...LevelFields }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""
    + _LEVEL_FIELDS
)

# The catalogue's and order book's sizes come along (a few points) so that deciding between a bulk
# export and the paged walk costs no request of its own; `$limit` caps the counting.
SHOP = """
query Shop($limit: Int) {
  shop { name myshopifyDomain ianaTimezone currencyCode }
  productsCount(limit: $limit) { count }
  ordersCount(limit: $limit) { count }
}
"""

# One product as every product read selects it (listing, webhook follow-ups).
_PRODUCT_FIELDS = (
    """
fragment ProductFields on Product {
  id title handle description productType vendor tags status updatedAt
  variants(first: $variants) { nodes { ...VariantFields }
    pageInfo { hasNextPage endCursor }
  }
}
"""
    + _VARIANT_FIELDS
)

PRODUCTS = (
    """
query Products($first: Int!, $after: String, $query: String, $variants: Int!, $levels: Int!) {
  products(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    nodes { ...ProductFields }
    pageInfo { hasNextPage endCursor }
  }
}
"""
    + _PRODUCT_FIELDS
)

PRODUCT_VARIANTS = (
    """
query ProductVariants($id: ID!, $first: Int!, $after: String, $levels: Int!) {
  product(id: $id) {
    variants(first: $first, after: $after) { nodes { ...VariantFields }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""
    + _VARIANT_FIELDS
)

INVENTORY_LEVELS = (
    """
query InventoryLevels($id: ID!, $first: Int!, $after: String) {
  inventoryItem(id: $id) {
    inventoryLevels(first: $first, after: $after) { nodes { ...LevelFields }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""
    + _LEVEL_FIELDS
)

_LINE_FIELDS = """
fragment LineFields on LineItem {
  id sku title quantity currentQuantity unfulfilledQuantity
  variant { id }
  originalUnitPriceSet { shopMoney { amount } }
}
"""

# One order as every order read selects it (listing, `ORDER`).
_ORDER_FIELDS = (
    """
fragment OrderFields on Order {
  id name email createdAt updatedAt cancelledAt customerLocale
  displayFinancialStatus displayFulfillmentStatus
  customer { id email displayName }
  shippingLine { title }
  lineItems(first: $lines) { nodes { ...LineFields }
    pageInfo { hasNextPage endCursor }
  }
}
"""
    + _LINE_FIELDS
)

ORDERS = (
    """
query Orders($first: Int!, $after: String, $query: String, $lines: Int!) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    nodes { ...OrderFields }
    pageInfo { hasNextPage endCursor }
  }
}
"""
    + _ORDER_FIELDS
)

ORDER_LINE_ITEMS = (
    """
query OrderLineItems($id: ID!, $first: Int!, $after: String) {
  order(id: $id) {
    lineItems(first: $first, after: $after) { nodes { ...LineFields }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""
    + _LINE_FIELDS
)

# ---- webhook follow-ups (ShopifyAdapter.read_webhook): a body that is not enough is completed
# by reading the one resource it names, with the same fields as the listings.
ORDER = (
    """
query Order($id: ID!, $lines: Int!) {
  order(id: $id) { ...OrderFields }
}
"""
    + _ORDER_FIELDS
)

INVENTORY_ITEM_LEVELS = (
    """
query InventoryItemLevels($id: ID!, $first: Int!) {
  inventoryItem(id: $id) {
    id
    variant { id }
    inventoryLevels(first: $first) { nodes { ...LevelFields }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""
    + _LEVEL_FIELDS
)

VARIANT_LEVELS = (
    """
query VariantLevels($id: ID!, $first: Int!) {
  productVariant(id: $id) {
    id
    inventoryItem {
      id
      inventoryLevels(first: $first) { nodes { ...LevelFields }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
}
"""
    + _LEVEL_FIELDS
)

INVENTORY_ITEM_PRODUCT = (
    """
query InventoryItemProduct($id: ID!, $variants: Int!, $levels: Int!) {
  inventoryItem(id: $id) { variant { product { ...ProductFields } } }
}
"""
    + _PRODUCT_FIELDS
)

TAGS_ADD = """
mutation TagsAdd($id: ID!, $tags: [String!]!) {
  tagsAdd(id: $id, tags: $tags) { userErrors { field message } }
}
"""

TAGS_REMOVE = """
mutation TagsRemove($id: ID!, $tags: [String!]!) {
  tagsRemove(id: $id, tags: $tags) { userErrors { field message } }
}
"""

METAFIELDS_SET = """
mutation MetafieldsSet($metafields: [MetafieldsSetInput!]!) {
  metafieldsSet(metafields: $metafields) {
    metafields { id namespace key }
    userErrors { field message code }
  }
}
"""

PRODUCT_VARIANTS_BULK_UPDATE = """
mutation ProductVariantsBulkUpdate($productId: ID!, $variants: [ProductVariantsBulkInput!]!) {
  productVariantsBulkUpdate(productId: $productId, variants: $variants) {
    productVariants { id inventoryPolicy }
    userErrors { field message }
  }
}
"""

ORDER_FULFILLMENT_ORDERS = """
query OrderFulfillmentOrders($id: ID!, $first: Int!, $lines: Int!) {
  order(id: $id) {
    fulfillmentOrders(first: $first) {
      nodes {
        id status
        fulfillmentHolds { id handle reason }
        lineItems(first: $lines) { nodes { id remainingQuantity lineItem { id } } }
      }
    }
  }
}
"""

# Releasing needs the holds only: without the line items the requested cost is ~20 points, not
# ~800, so a restock releasing a thousand orders is not paced by points it never spends.
ORDER_FULFILLMENT_HOLDS = """
query OrderFulfillmentHolds($id: ID!, $first: Int!) {
  order(id: $id) {
    fulfillmentOrders(first: $first) {
      nodes { id status fulfillmentHolds { id handle } }
    }
  }
}
"""

# The same for many orders in one request (a batch of pushes): ORDERS_PER_HOLDS_QUERY orders of
# up to FULFILLMENT_ORDERS_PER_ORDER fulfillment orders keep the requested cost near 500 points.
ORDERS_PER_HOLDS_QUERY = 25
ORDERS_FULFILLMENT_HOLDS = """
query OrdersFulfillmentHolds($ids: [ID!]!, $first: Int!) {
  nodes(ids: $ids) {
    ... on Order {
      id
      fulfillmentOrders(first: $first) {
        nodes { id status fulfillmentHolds { id handle } }
      }
    }
  }
}
"""

FULFILLMENT_ORDER_HOLD = """
mutation FulfillmentOrderHold($id: ID!, $hold: FulfillmentOrderHoldInput!) {
  fulfillmentOrderHold(id: $id, fulfillmentHold: $hold) {
    fulfillmentOrder { id status }
    remainingFulfillmentOrder { id }
    userErrors { field message }
  }
}
"""

FULFILLMENT_ORDER_RELEASE_HOLD = """
mutation FulfillmentOrderReleaseHold($id: ID!, $holdIds: [ID!]) {
  fulfillmentOrderReleaseHold(id: $id, holdIds: $holdIds) {
    fulfillmentOrder { id status }
    userErrors { field message }
  }
}
"""

_WEBHOOK_FIELDS = """
fragment WebhookFields on WebhookSubscription {
  id topic
  endpoint { __typename ... on WebhookHttpEndpoint { callbackUrl } }
}
"""

WEBHOOK_SUBSCRIPTION_CREATE = (
    """
mutation WebhookSubscriptionCreate(
  $topic: WebhookSubscriptionTopic!, $subscription: WebhookSubscriptionInput!
) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $subscription) {
    webhookSubscription { ...WebhookFields }
    userErrors { field message }
  }
}
"""
    + _WEBHOOK_FIELDS
)

WEBHOOK_SUBSCRIPTIONS = (
    """
query WebhookSubscriptions($first: Int!, $after: String) {
  webhookSubscriptions(first: $first, after: $after) { nodes { ...WebhookFields }
      pageInfo { hasNextPage endCursor }
    }
}
"""
    + _WEBHOOK_FIELDS
)

# ---- bulk operations (adapters/shopify/bulk.py) -------------------------------------------------
# A full walk of a large store runs as one bulkOperationRunQuery instead of thousands of pages.
# Bulk documents take no variables and no page sizes (connections are unpaginated), at most five
# connections nested at most two deep; nested nodes come back as JSONL lines of their own carrying
# `__parentId`. They select exactly what PRODUCTS / ORDERS select (a test compares them), so the
# same `parse` functions read both. `bulk_products(search)` / `bulk_orders(search)` fill in the
# `updated_at` window of the walk as a string literal.
BULK_RECORDS_PER_PAGE = 250  # products or orders per `Page` read from a bulk file
BULK_THRESHOLD = 500  # a full walk of at least this many products / orders goes through bulk

PRODUCTS_COUNT = """
query ProductsCount($query: String, $limit: Int) {
  productsCount(query: $query, limit: $limit) { count precision }
}
"""

ORDERS_COUNT = """
query OrdersCount($query: String, $limit: Int) {
  ordersCount(query: $query, limit: $limit) { count precision }
}
"""

_BULK_OPERATION_FIELDS = """
fragment BulkOperationFields on BulkOperation {
  id status errorCode objectCount rootObjectCount fileSize url query createdAt completedAt
}
"""

BULK_OPERATION_RUN_QUERY = (
    """
mutation BulkOperationRunQuery($query: String!) {
  bulkOperationRunQuery(query: $query) {
    bulkOperation { ...BulkOperationFields }
    userErrors { field message code }
  }
}
"""
    + _BULK_OPERATION_FIELDS
)

BULK_OPERATION = (
    """
query BulkOperation($id: ID!) {
  node(id: $id) { ...BulkOperationFields }
}
"""
    + _BULK_OPERATION_FIELDS
)

CURRENT_BULK_OPERATION = (
    """
query CurrentBulkOperation {
  currentBulkOperation(type: QUERY) { ...BulkOperationFields }
}
"""
    + _BULK_OPERATION_FIELDS
)

_BULK_PRODUCTS = """
{
  products%s {
    edges { node {
      id title handle description productType vendor tags status updatedAt
      variants { edges { node {
        id sku title price inventoryPolicy updatedAt
        selectedOptions { name value }
        inventoryItem {
          id tracked
          inventoryLevels { edges { node {
            updatedAt
            location { id name }
            quantities(names: ["available", "on_hand", "committed", "incoming"]) { name quantity }
          } } }
        }
      } } }
    } }
  }
}
"""

_BULK_ORDERS = """
{
  orders%s {
    edges { node {
      id name email createdAt updatedAt cancelledAt customerLocale
      displayFinancialStatus displayFulfillmentStatus
      customer { id email displayName }
      shippingLine { title }
      lineItems { edges { node {
        id sku title quantity currentQuantity unfulfilledQuantity
        variant { id }
        originalUnitPriceSet { shopMoney { amount } }
      } } }
    } }
  }
}
"""


def _search_argument(search: str | None) -> str:
    """`(query: "…")` as a GraphQL string literal (JSON's escaping is GraphQL's), or nothing."""
    return f"(query: {json.dumps(search)})" if search else ""


def bulk_products(search: str | None) -> str:
    """The bulk document for every product (with variants and levels) matching `search`."""
    return _BULK_PRODUCTS % _search_argument(search)


def bulk_orders(search: str | None) -> str:
    """The bulk document for every order (with its lines) matching `search`."""
    return _BULK_ORDERS % _search_argument(search)


# ---- order edits (adapters/shopify/order_edits.py) ----------------------------------------------
# One edit is begin → set quantity (→ add variant) → commit. A CalculatedLineItem carries the
# numeric id of the LineItem it stands for (`gid://shopify/CalculatedLineItem/<n>` for
# `gid://shopify/LineItem/<n>`); CalculatedOrder.lineItems lists the order's lines as the edit
# sees them, at most `CALCULATED_LINES` of them in one answer.
CALCULATED_LINES = 250

ORDER_EDIT_BEGIN = """
mutation OrderEditBegin($id: ID!, $lines: Int!) {
  orderEditBegin(id: $id) {
    calculatedOrder {
      id
      lineItems(first: $lines) {
        nodes { id quantity editableQuantity variant { id } }
        pageInfo { hasNextPage endCursor }
      }
    }
    userErrors { field message }
  }
}
"""

ORDER_EDIT_SET_QUANTITY = """
mutation OrderEditSetQuantity($id: ID!, $lineItemId: ID!, $quantity: Int!, $restock: Boolean) {
  orderEditSetQuantity(id: $id, lineItemId: $lineItemId, quantity: $quantity, restock: $restock) {
    calculatedLineItem { id quantity }
    userErrors { field message }
  }
}
"""

ORDER_EDIT_ADD_VARIANT = """
mutation OrderEditAddVariant(
  $id: ID!, $variantId: ID!, $quantity: Int!, $allowDuplicates: Boolean
) {
  orderEditAddVariant(
    id: $id, variantId: $variantId, quantity: $quantity, allowDuplicates: $allowDuplicates
  ) {
    calculatedLineItem { id quantity }
    userErrors { field message }
  }
}
"""

ORDER_EDIT_COMMIT = """
mutation OrderEditCommit($id: ID!, $notifyCustomer: Boolean, $staffNote: String) {
  orderEditCommit(id: $id, notifyCustomer: $notifyCustomer, staffNote: $staffNote) {
    order { id }
    userErrors { field message }
  }
}
"""

# 2025-01: `refund: Boolean!` (later versions replace it by `refundMethod`).
ORDER_CANCEL = """
mutation OrderCancel(
  $orderId: ID!, $refund: Boolean!, $restock: Boolean!, $reason: OrderCancelReason!,
  $notifyCustomer: Boolean, $staffNote: String
) {
  orderCancel(
    orderId: $orderId, refund: $refund, restock: $restock, reason: $reason,
    notifyCustomer: $notifyCustomer, staffNote: $staffNote
  ) {
    job { id done }
    orderCancelUserErrors { field message code }
  }
}
"""

# orderCancel runs as a job: polled until done before the order is read back.
JOB = """
query Job($id: ID!) {
  job(id: $id) { id done }
}
"""

# ---- bulk mutations (adapters/shopify/bulk_mutations.py) ----------------------------------------
# One mutation run over a staged JSONL file of variables: the variables file is staged first, the
# run costs 10 points however many lines it has, and the answers come back as a JSONL file.
STAGED_UPLOADS_CREATE = """
mutation StagedUploadsCreate($input: [StagedUploadInput!]!) {
  stagedUploadsCreate(input: $input) {
    stagedTargets { url resourceUrl parameters { name value } }
    userErrors { field message }
  }
}
"""

BULK_OPERATION_RUN_MUTATION = (
    """
mutation BulkOperationRunMutation($mutation: String!, $path: String!) {
  bulkOperationRunMutation(mutation: $mutation, stagedUploadPath: $path) {
    bulkOperation { ...BulkOperationFields }
    userErrors { field message code }
  }
}
"""
    + _BULK_OPERATION_FIELDS
)

CURRENT_BULK_MUTATION = (
    """
query CurrentBulkMutation {
  currentBulkOperation(type: MUTATION) { ...BulkOperationFields }
}
"""
    + _BULK_OPERATION_FIELDS
)

# A failed run's answers so far (`partialDataUrl` is not in the shared fragment).
BULK_OPERATION_PARTIAL_DATA = """
query BulkOperationPartialData($id: ID!) {
  node(id: $id) { ... on BulkOperation { id status errorCode partialDataUrl } }
}
"""
