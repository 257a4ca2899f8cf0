"""Staged uploads: the signed storage a bulk mutation's variables file is posted to.

On Shopify, `stagedUploadsCreate(resource: BULK_MUTATION_VARIABLES)` answers a storage URL and
form parameters (a `key`, a signed `policy`, `Content-Type`, `success_action_status`, `acl`); the
client POSTs them as multipart/form-data with the file last, to the storage host, which is not
the Admin API and must never see the Admin token. `bulkOperationRunMutation` then names the file
by its `key` (shopify.dev/docs/api/usage/bulk-operations/imports).

Here the "storage" is a route on the sandbox server that behaves like S3's POST upload: 201 with
a small XML body when `success_action_status` is 201, 403 for a key it never issued or a forged
policy, and 400 for a request carrying `X-Shopify-Access-Token`, so a client that leaks the token
to storage fails its tests.
"""

from __future__ import annotations

import secrets
import threading
import uuid
from dataclasses import dataclass

from flask import Blueprint, Response, current_app, request

UPLOAD_PATH = "/_storage/staged-uploads"
MIME_TYPE = "text/jsonl"
blueprint = Blueprint("shopify_staged_uploads", __name__)


@dataclass(frozen=True)
class StagedTarget:
    """One issued upload slot: where to post and the form fields to post with the file."""

    url: str
    key: str
    policy: str

    @property
    def parameters(self) -> list[dict[str, str]]:
        fields = {
            "Content-Type": MIME_TYPE,
            "success_action_status": "201",
            "acl": "private",
            "key": self.key,
            "policy": self.policy,
        }
        return [{"name": name, "value": value} for name, value in fields.items()]

    @property
    def resource_url(self) -> str:
        return f"{self.url}/{self.key}"


class StagedUploads:
    """Issued targets and the files posted to them, by key."""

    def __init__(self, shop_number: int) -> None:
        self.shop_number = shop_number
        self.targets: dict[str, StagedTarget] = {}
        self.files: dict[str, bytes] = {}
        self.lock = threading.Lock()

    def issue(self, base_url: str, filename: str) -> StagedTarget:
        key = f"tmp/{self.shop_number}/bulk/{uuid.uuid4()}/{filename}"
        target = StagedTarget(base_url.rstrip("/") + UPLOAD_PATH, key, secrets.token_urlsafe(24))
        with self.lock:
            self.targets[key] = target
        return target

    def receive(self, key: str, policy: str, body: bytes) -> bool:
        """Keep the file if `key` was issued with this `policy`; False (refused) otherwise."""
        with self.lock:
            target = self.targets.get(key)
            if target is None or not secrets.compare_digest(target.policy, policy):
                return False
            self.files[key] = body
            return True

    def file(self, key: str) -> bytes | None:
        with self.lock:
            return self.files.get(key)


def _xml_error(code: str, message: str, status: int) -> tuple[Response, int]:
    body = f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>{message}"
    return Response(body + "</Message></Error>", mimetype="application/xml"), status


@blueprint.post(UPLOAD_PATH)
def upload() -> Response | tuple[Response, int]:
    if "X-Shopify-Access-Token" in request.headers:
        return _xml_error("InvalidArgument", "Unexpected header X-Shopify-Access-Token", 400)
    uploads: StagedUploads = current_app.extensions["shopify_sandbox"].bulk.uploads
    key, policy = request.form.get("key", ""), request.form.get("policy", "")
    posted = request.files.get("file")
    if posted is None:
        return _xml_error("InvalidArgument", "POST requires exactly one file upload", 400)
    if not uploads.receive(key, policy, posted.read()):
        return _xml_error("AccessDenied", "Invalid according to Policy", 403)
    if request.form.get("success_action_status") != "201":
        return Response(status=204)
    location = f"{request.base_url}/{key}"
    body = (
        "<?xml version='1.0' encoding='UTF-8'?><PostResponse>"
        f"<Location>{location}</Location><Key>{key}</Key></PostResponse>"
    )
    return Response(body, status=201, mimetype="application/xml")
