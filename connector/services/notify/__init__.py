"""Telling the customer (and the merchant): one outbox of messages, each sent once.

The engine's events are turned into outbox rows (`record`) in the transaction that hands the
events over, set-based, keyed so that a retry, a replay or a duplicate webhook finds the row it
already made. A job per row (`send`) builds the message from the database when it runs, checks
the rule again, renders the shop's template and hands it to SMTP or to the store (a WooCommerce
customer note), retrying with backoff. The hourly late check and the daily merchant digest are
in `periodic`; the merchant's settings and own templates in `settings`.

A package rather than one module: recording, sending, the message's content and the periodic
checks are each a few hundred lines with one job.
"""

from connector.services.notify.record import register, subscribe, tell_customer, tell_merchant

__all__ = ["register", "subscribe", "tell_customer", "tell_merchant"]
