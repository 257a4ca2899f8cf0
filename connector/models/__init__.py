"""The common model: every table of the product, each row owned by one shop."""

from connector.models.alternatives import (
    AlternativeFeatures,
    AlternativeIndex,
    AlternativeRule,
    CoPurchase,
)
from connector.models.backorders import BACKORDER_STATUSES, QUEUED_STATUSES, Backorder, EtaChange
from connector.models.base import Base, UTCDateTime
from connector.models.catalog import INVENTORY_POLICIES, InventoryLevel, Product, Variant
from connector.models.demand import LeadTimeStat, ReorderPoint, StockOut
from connector.models.events import DomainEvent
from connector.models.inbox import DataRequest, WebhookEvent
from connector.models.incoming import INCOMING_SOURCES, IncomingStock
from connector.models.install import InstallNonce
from connector.models.orders import Order, OrderLine
from connector.models.outbox import Notification, StoreWrite
from connector.models.service import MailTemplate, MerchantTask, OrderChange
from connector.models.shops import PLATFORMS, ApiToken, Shop
from connector.models.sync import SyncCursor
from connector.models.users import ROLES, User

__all__ = [
    "BACKORDER_STATUSES",
    "INCOMING_SOURCES",
    "INVENTORY_POLICIES",
    "PLATFORMS",
    "QUEUED_STATUSES",
    "ROLES",
    "AlternativeFeatures",
    "AlternativeIndex",
    "AlternativeRule",
    "ApiToken",
    "Backorder",
    "Base",
    "CoPurchase",
    "DataRequest",
    "DomainEvent",
    "EtaChange",
    "IncomingStock",
    "InstallNonce",
    "InventoryLevel",
    "LeadTimeStat",
    "MailTemplate",
    "MerchantTask",
    "Notification",
    "Order",
    "OrderChange",
    "OrderLine",
    "Product",
    "ReorderPoint",
    "Shop",
    "StockOut",
    "StoreWrite",
    "SyncCursor",
    "UTCDateTime",
    "User",
    "Variant",
    "WebhookEvent",
]
