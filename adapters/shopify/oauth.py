"""The authorization-code grant's one store call: trade the callback's code for a token.

Adapters are the only code that talks to stores, so the install service asks this function
instead of holding an HTTP client of its own.
"""

from __future__ import annotations

from typing import Any

import requests

from adapters.base import StoreError

TIMEOUT = 15.0


def exchange_code(
    authorize_host: str,
    api_key: str,
    api_secret: str,
    code: str,
    *,
    session: requests.Session | None = None,
) -> dict[str, Any]:
    """POST the code to `{authorize_host}/admin/oauth/access_token`; the answer as Shopify gave it.

    Not retried: a code is single-use, and a retry after a lost answer would only be refused.
    """
    http = session or requests.Session()
    try:
        answer = http.post(
            f"{authorize_host.rstrip('/')}/admin/oauth/access_token",
            json={"client_id": api_key, "client_secret": api_secret, "code": code},
            timeout=TIMEOUT,
        )
    except requests.RequestException as exc:
        raise StoreError(f"the code exchange did not reach the store: {exc}") from exc
    if answer.status_code != 200:
        raise StoreError(f"the store refused the code exchange ({answer.status_code})")
    try:
        data = answer.json()
    except ValueError as exc:
        raise StoreError("the code exchange answered with something other than JSON") from exc
    if not isinstance(data, dict) or not data.get("access_token"):
        raise StoreError("the code exchange answered without an access token")
    return data
