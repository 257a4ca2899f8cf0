"""`/status/<token>`: the customer's own page for one order, reached from every e-mail.

No login: the signed link is the capability (`connector.services.status_links`). The page lists
the order's backordered lines with their dates and queue places, and offers per waiting line a
one-click cancel and a switch to each offered alternative still in stock; a click records the
change and the "order_change" job makes it on the store (`connector.services.self_service`).

Refusals, as pages rather than JSON (a customer reads them):
- a forged or mangled link → 404, not 403: a 403 would confirm that something lives at that
  address; a link we never signed is, to us, a page that does not exist;
- an expired link → 410 Gone, naming the shop and its support address so the customer can ask
  for a new one (the signature was good, so the shop it names can be trusted);
- a line not in this order, of another shop, or no longer waiting → 404;
- a form without its value bound to the link → 400; a post from another site's page → 403;
- too many posts from one address → 429.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)

from connector.commands import execute
from connector.runtime import Runtime
from connector.services.errors import Conflict, Invalid, NotFound
from connector.services.self_service import request_change
from connector.services.status_links import LinkExpired, LinkRefused, read_status_token
from connector.web.status.guard import (
    CSRF_FIELD,
    csrf_ok,
    csrf_value,
    limit_posts,
    over_limit,
    same_origin,
    secure,
    style_nonce,
)
from connector.web.status.page import active_shop_of, order_view, shop_view

status = Blueprint("status_page", __name__, url_prefix="/status", template_folder="templates")


class _Refused(Exception):
    """Stop here and answer with this page."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def register_status(app: Flask, runtime: Runtime) -> None:
    app.register_blueprint(status)
    limit_posts(app, runtime.settings)


def _runtime() -> Runtime:
    runtime: Runtime = current_app.extensions["backorder"]
    return runtime


def _page(template: str, code: int, **context: object) -> Response:
    html = render_template(template, nonce=style_nonce(), **context)
    return secure(Response(html, status=code, mimetype="text/html"))


def _not_found() -> _Refused:
    return _Refused(_page("status/refused.html", 404))


def _ids(runtime: Runtime, token: str) -> tuple[int, int]:
    try:
        return read_status_token(runtime.settings, token, clock=runtime.clock)
    except LinkRefused:
        raise _not_found() from None
    except LinkExpired as exc:
        with runtime.db.transaction() as session:
            try:
                shop = shop_view(active_shop_of(session, exc.shop_id))
            except NotFound:
                raise _not_found() from None
        raise _Refused(_page("status/expired.html", 410, shop=shop)) from None


@status.errorhandler(_Refused)
def _refused(exc: _Refused) -> Response:
    return exc.response


@status.after_request
def _headers(response: Response) -> Response:
    return secure(response)


def _render(runtime: Runtime, token: str, code: int = 200, problem: str | None = None) -> Response:
    shop_id, order_id = _ids(runtime, token)
    with runtime.db.transaction() as session:
        try:
            view = order_view(session, runtime, shop_id, order_id)
        except NotFound:
            raise _not_found() from None
        csrf = csrf_value(runtime.settings, token)
        return _page(
            "status/page.html",
            code,
            view=view,
            shop=view.shop,
            token=token,
            csrf=csrf,
            csrf_field=CSRF_FIELD,
            problem=problem,
        )


@status.get("/<token>")
def page(token: str) -> Response:
    return _render(_runtime(), token)


@status.post("/<token>/lines/<int:backorder_id>/cancel")
def cancel(token: str, backorder_id: int) -> Response:
    return _change(token, backorder_id, "cancel", None)


@status.post("/<token>/lines/<int:backorder_id>/switch")
def switch(token: str, backorder_id: int) -> Response:
    raw = request.form.get("variant_id", "")
    if not raw.isdigit():
        return _page("status/problem.html", 400, message="Choose one of the items offered.")
    return _change(token, backorder_id, "switch", int(raw))


def _change(token: str, backorder_id: int, action: str, variant_id: int | None) -> Response:
    runtime = _runtime()
    retry_after = over_limit()
    if retry_after is not None:
        response = _page("status/problem.html", 429, message="Too many clicks: wait a minute.")
        response.headers["Retry-After"] = retry_after
        return response
    if not same_origin(runtime.settings):
        return _page("status/problem.html", 403, message="This form must be sent from its page.")
    shop_id, order_id = _ids(runtime, token)
    if not csrf_ok(runtime.settings, token):
        message = "This form has expired. Open the page again and click once more."
        return _page("status/problem.html", 400, message=message)
    try:
        execute(
            runtime,
            lambda session: (
                request_change(
                    runtime,
                    session,
                    shop_id=shop_id,
                    order_id=order_id,
                    backorder_id=backorder_id,
                    action=action,
                    variant_id=variant_id,
                ).id
            ),
        )
    except NotFound:
        raise _not_found() from None
    except (Invalid, Conflict) as exc:
        code = 409 if isinstance(exc, Conflict) else 422
        return _render(runtime, token, code, problem=exc.message)
    return redirect(url_for(".page", token=token), code=303)  # type: ignore[return-value]


__all__ = ["register_status"]
