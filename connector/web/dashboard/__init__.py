"""`/app/`: the support dashboard, server-rendered (Flask + Jinja2, no scripts).

An agent signs in, finds a customer's order by what the customer says (order number, e-mail,
name, SKU), and sees every line's state, queue place, ETA and what it rests on, the ETA's
history, each message sent and each write to the store. An owner can also set a manual ETA or
a line's priority; the engine re-plans at once and the customer is told through the outbox as
for any other change. Routes are thin: the read model is connector/services/dashboard.py.
"""

from __future__ import annotations

from datetime import date

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from connector.clock import shop_today
from connector.commands import execute
from connector.models import Backorder, Shop
from connector.runtime import Runtime
from connector.services import dashboard as board
from connector.services.backorders import Unset, change_backorder
from connector.services.errors import ServiceError
from connector.services.users import sign_in
from connector.web.dashboard import guard
from connector.web.dashboard.chart import bars, demand
from webhooks.process import replay

dashboard = Blueprint("dashboard", __name__, url_prefix="/app", template_folder="templates")


def register_dashboard(app: Flask, runtime: Runtime) -> None:
    guard.configure(app, runtime)
    app.register_blueprint(dashboard)


@dashboard.before_request
def _forms_carry_their_token() -> None:
    if request.method == "POST":
        guard.check_csrf()


@dashboard.after_request
def _headers(response: Response) -> Response:
    return guard.secure(response)


@dashboard.app_template_global("csrf_token")
def _csrf_token() -> str:
    return guard.csrf_token()


@dashboard.app_template_global("style_nonce")
def _style_nonce() -> str:
    return guard.nonce()


def _shop() -> Shop:
    with guard.runtime().db.transaction() as db:
        shop = db.get_one(Shop, g.user.shop_id)
        db.expunge(shop)
        return shop


def _page(template: str, **context: object) -> str:
    return render_template(template, user=g.get("user"), shop=g.get("shop"), **context)


# ---- signing in --------------------------------------------------------------------------------


@dashboard.route("/login", methods=["GET", "POST"])
def login() -> Response | str:
    problem = None
    if request.method == "POST":
        if not guard.login_allowed():
            abort(429, "too many sign-in attempts: wait a minute")
        runtime = guard.runtime()
        with runtime.db.transaction() as db:
            user = sign_in(
                db, runtime.clock, request.form.get("email", ""), request.form.get("password", "")
            )
            user_id = user.id if user is not None else None
        if user_id is not None:
            session.clear()  # a new session for the signed-in user: no fixation
            session["user_id"] = user_id
            return redirect(guard.safe_next(request.args.get("next")))  # type: ignore[return-value]
        problem = "That e-mail and password do not match an account."
    return render_template("dashboard/login.html", problem=problem, user=None, shop=None)


@dashboard.post("/logout")
def logout() -> Response:
    session.clear()
    return redirect(url_for("dashboard.login"))  # type: ignore[return-value]


# ---- pages -------------------------------------------------------------------------------------


@dashboard.get("/")
@guard.signed_in
def overview() -> str:
    runtime = guard.runtime()
    g.shop = _shop()
    with runtime.db.transaction() as db:
        today = shop_today(runtime.clock, g.shop.timezone)
        figures = board.overview(db, g.shop.id, runtime.clock.now(), today)
    chart = bars(figures.opened, figures.resolved, figures.chart_start)
    return _page("dashboard/overview.html", figures=figures, chart=chart)


@dashboard.get("/backorders")
@guard.signed_in
def backorders() -> str:
    runtime = guard.runtime()
    g.shop = _shop()
    search = request.args.get("q", "")[:200]
    status = request.args.get("status", "waiting")
    if status not in ("", "waiting", "allocated", "ready", "fulfilled", "cancelled"):
        abort(400, "unknown status")
    page = max(1, min(request.args.get("page", 1, type=int) or 1, 10_000))
    late = request.args.get("late") == "1"
    with runtime.db.transaction() as db:
        today = shop_today(runtime.clock, g.shop.timezone)
        rows, more = board.find_backorders(
            db,
            g.shop.id,
            search=search,
            status=status or None,
            late_before=today if late else None,
            page=page,
        )
        listed = [
            {
                "backorder": b,
                "order": o,
                "line": line,
                "sku": sku,
                "late": bool(b.eta and b.eta < today),
            }
            for b, o, line, sku in rows
        ]
    return _page(
        "dashboard/backorders.html",
        rows=listed,
        more=more,
        page=page,
        search=search,
        status=status,
        late=late,
    )


@dashboard.get("/orders/<int:order_id>")
@guard.signed_in
def order(order_id: int) -> str:
    runtime = guard.runtime()
    g.shop = _shop()
    with runtime.db.transaction() as db:
        view = board.order_view(db, g.shop.id, order_id)
        if view is None:
            abort(404)
        today = shop_today(runtime.clock, g.shop.timezone)
        return _page("dashboard/order.html", view=view, today=today)


@dashboard.get("/reorder")
@guard.signed_in
def reorder() -> str:
    g.shop = _shop()
    with guard.runtime().db.transaction() as db:
        rows = board.reorder_rows(db, g.shop.id)
        return _page("dashboard/reorder.html", rows=rows)


@dashboard.get("/reorder/<int:variant_id>")
@guard.signed_in
def reorder_variant(variant_id: int) -> str:
    runtime = guard.runtime()
    g.shop = _shop()
    with runtime.db.transaction() as db:
        today = shop_today(runtime.clock, g.shop.timezone)
        found = board.demand_of(db, g.shop, variant_id, today)
        if found is None:
            abort(404)
        chart = demand(found.history, found.censored, found.forecast, found.start)
        return _page("dashboard/reorder_variant.html", found=found, chart=chart)


@dashboard.get("/inbox")
@guard.signed_in
def inbox() -> str:
    g.shop = _shop()
    with guard.runtime().db.transaction() as db:
        return _page("dashboard/inbox.html", found=board.troubles(db, g.shop.id))


@dashboard.post("/inbox/<int:inbox_id>/replay")
@guard.signed_in
@guard.owner
def replay_delivery(inbox_id: int) -> Response:
    queued = replay(guard.runtime(), shop_id=g.user.shop_id, inbox_id=inbox_id)
    if queued:
        flash(f"Delivery {inbox_id} queued again; it is processed in a moment.", "ok")
    else:
        flash(f"Delivery {inbox_id} is not one that can be replayed.", "problem")
    return redirect(url_for("dashboard.inbox"))  # type: ignore[return-value]


@dashboard.post("/backorders/<int:backorder_id>")
@guard.signed_in
@guard.owner
def change(backorder_id: int) -> Response:
    runtime = guard.runtime()
    shop_id = g.user.shop_id
    with runtime.db.transaction() as db:
        backorder = db.get(Backorder, backorder_id)
        if backorder is None or backorder.shop_id != shop_id:
            abort(404)
        order_id = backorder.line.order_id
    eta_text = request.form.get("eta")
    priority_text = request.form.get("priority")
    try:
        manual_eta = (
            Unset
            if eta_text is None
            else (date.fromisoformat(eta_text) if eta_text.strip() else None)
        )
        priority = Unset if priority_text is None else int(priority_text)
        if priority is not Unset and not 0 <= priority <= 9:  # type: ignore[operator]
            raise ValueError("priority must be 0 to 9")
        execute(
            runtime,
            lambda db: change_backorder(
                db,
                runtime.clock,
                shop_id,
                backorder_id,
                manual_eta=manual_eta,
                priority=priority,
            ),
        )
        flash("Saved. The queue and the customer's dates are updated.", "ok")
    except (ValueError, ServiceError) as exc:
        flash(f"Not saved: {exc}", "problem")
    return redirect(url_for("dashboard.order", order_id=order_id))  # type: ignore[return-value]
