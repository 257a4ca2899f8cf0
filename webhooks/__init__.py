"""Webhook intake: verify, record in the inbox, acknowledge, dispatch to the core."""
