"""Encryption at rest for store credentials.

Access tokens and consumer secrets are stored only as Fernet ciphertext. `TOKEN_ENCRYPTION_KEY`
may list several keys: the first encrypts, every one decrypts, so an operator rotates by putting
a new key first and re-encrypting (`backorder keys rotate`) before dropping the old one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class VaultError(Exception):
    """The ciphertext cannot be read with any configured key."""


class CredentialVault:
    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is required")
        self._fernet = MultiFernet([Fernet(k) for k in keys])

    def seal(self, credentials: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(credentials, sort_keys=True).encode()).decode()

    def open(self, ciphertext: str) -> dict[str, Any]:
        try:
            return json.loads(self._fernet.decrypt(ciphertext.encode()))
        except InvalidToken:
            raise VaultError(
                "stored credentials cannot be decrypted with TOKEN_ENCRYPTION_KEY"
            ) from None

    def reseal(self, ciphertext: str) -> str:
        """Re-encrypt under the first (newest) key."""
        try:
            return self._fernet.rotate(ciphertext.encode()).decode()
        except InvalidToken:
            raise VaultError(
                "stored credentials cannot be decrypted with TOKEN_ENCRYPTION_KEY"
            ) from None
