"""Platform clients behind one StoreAdapter protocol: all Shopify and WooCommerce knowledge."""
