from __future__ import annotations

import pytest

from connector.config import Settings
from tests.conftest import test_settings
from tests.webhooks.support import SHOPIFY_PREVIOUS_SECRET, SHOPIFY_SECRET


@pytest.fixture
def settings(database_url: str) -> Settings:
    """The app's Shopify secrets, the previous one too (a rotation is under way)."""
    return test_settings(
        database_url,
        SHOPIFY_API_KEY="test-api-key",
        SHOPIFY_API_SECRET=SHOPIFY_SECRET,
        SHOPIFY_API_SECRET_PREVIOUS=SHOPIFY_PREVIOUS_SECRET,
    )
