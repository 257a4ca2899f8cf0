"""The sandbox stores on the product's clock, as the store-push tests run them."""

from tests.storefront_push.conftest import runtime as runtime
from tests.storefront_push.conftest import shopify as shopify
from tests.storefront_push.conftest import woo as woo
