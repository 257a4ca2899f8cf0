"""Every GraphQL document the adapter sends, validated in tests against Shopify's 2025-01 schema.

Page sizes are small on purpose: Shopify refuses a query whose *requested* cost exceeds 1000,
and a connection costs `first` x the cost of one node, nested connections multiplied. A products
page with 10 variants of 4 inventory levels each costs about 175 per product, so 5 products a
page (~870). Products with more variants, variants at more locations and orders with more lines
are completed by the follow-up documents below (`PRODUCT_VARIANTS`, `INVENTORY_LEVELS`,
`ORDER_LINE_ITEMS`). Public upper-case names are whole documents; `_` names are fragments.
"""

from __future__ import annotations

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

SHOP = "query Shop { shop { name myshopifyDomain ianaTimezone currencyCode } }"

PRODUCTS = (
    """
query Products($first: Int!, $after: String, $query: String, $variants: Int!, $levels: Int!) {
  products(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    nodes {
      id title handle description productType vendor tags status updatedAt
      variants(first: $variants) { nodes { ...VariantFields }
      pageInfo { hasNextPage endCursor }
    }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""
    + _VARIANT_FIELDS
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

ORDERS = (
    """
query Orders($first: Int!, $after: String, $query: String, $lines: Int!) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    nodes {
      id name email createdAt updatedAt cancelledAt
      displayFinancialStatus displayFulfillmentStatus
      customer { id email displayName }
      shippingLine { title }
      lineItems(first: $lines) { nodes { ...LineFields }
      pageInfo { hasNextPage endCursor }
    }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""
    + _LINE_FIELDS
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
