"""Message kind + context + locale preference → subject, text and HTML.

Built-in templates live in `templates/<locale>/<kind>/{subject.txt,body.txt,body.html}` and are
rendered by a normal environment; a merchant's own parts (the `mail_templates` rows) by a sandboxed
one, so a template typed into the dashboard can read the context but call nothing unsafe. Both use
a forgiving undefined: a merchant's typo renders empty instead of failing the e-mail (the built-in
templates are tested strictly, see `strict=`). HTML is autoescaped; subjects and text are not.

A merchant's HTML may extend the built-in layout: `{% extends "en/_layout.html" %}` with a
`{% block content %}`. A locale the merchant wrote subject and text for, but no HTML and which has
no built-in HTML, gets the text wrapped in the layout. Locale tags match loosely ("de-DE",
"de_DE" → "de"); a shop's regional override ("fr-FR") also serves its bare language ("fr").
`status_url` and `dashboard_url` that are not http(s) are dropped before rendering. The context
each kind reads is listed in tests/mail/contexts.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import (
    ChainableUndefined,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Template,
    Undefined,
    pass_context,
)
from jinja2 import TemplateError as JinjaTemplateError
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

from connector.mail import formats
from connector.mail.errors import TemplateError, TemplateMissing

TEMPLATES = Path(__file__).parent / "templates"
HTML_ALIAS = "+html"
_LINKS = ("status_url", "dashboard_url")
PARTS = {"subject": "subject.txt", "text": "body.txt", "html": "body.html"}
CUSTOMER_KINDS = (
    "placed",
    "eta_later",
    "eta_earlier",
    "ready",
    "late",
    "expedited",
    "cancel_confirmed",
    "switch_confirmed",
    "change_needs_merchant",
)
MERCHANT_KINDS = ("merchant_change", "digest")
_BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")

Overrides = Mapping[tuple[str, str], Mapping[str, str]]


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    locale: str


def known_kinds() -> list[str]:
    """Every kind with a built-in template in at least one locale."""
    return sorted({kind for kind, _ in _builtin_index()})


def builtin_locales(kind: str) -> list[str]:
    """The locales a kind has built-in templates for, e.g. ["de", "en"]."""
    return sorted(locale for k, locale in _builtin_index() if k == kind)


def render(
    kind: str,
    context: Mapping[str, Any],
    *,
    locales: Sequence[str],
    overrides: Overrides | None = None,
    strict: bool = False,
) -> Rendered:
    """Render `kind` in the first usable locale of `locales` (see the module docstring).

    `strict=True` makes an unknown name in a built-in template an error: for the tests that prove
    every built-in template renders every field it names.
    Raises TemplateMissing (no locale has the kind) or TemplateError (a merchant part is broken;
    render again without `overrides` to fall back to the built-in).
    """
    own = _normalised(overrides)
    locale = _choose_locale(kind, locales, own)
    if locale is None:
        raise TemplateMissing(f"no template for kind {kind!r} in locales {list(locales)!r}")
    values = {**context, "locale": locale, "kind": kind}
    for link in _LINKS:  # a javascript: link must not reach even a text part
        if link in values:
            values[link] = formats.web_url(values[link]) or None
    mine = own.get((kind, locale), {})
    parts: dict[str, str] = {}
    for part, filename in PARTS.items():
        if mine.get(part):
            parts[part] = _render_override(kind, locale, part, mine[part], values)
        elif (kind, locale) in _builtin_index():
            name = f"{locale}/{kind}/{filename}"
            parts[part] = _builtin_environment(strict).get_template(name).render(values)
        else:  # only html can be missing here: _usable demands subject and text
            body = parts["text"]
            parts[part] = (
                _builtin_environment(strict)
                .get_template("_text.html")
                .render({**values, "body": body})
            )
    return Rendered(
        subject=" ".join(parts["subject"].split()),
        text=_BLANK_LINES.sub("\n\n", parts["text"]).strip() + "\n",
        html=parts["html"],
        locale=locale,
    )


def check_override(kind: str, part: str, source: str) -> None:
    """Compile a merchant's part before it is saved; raises TemplateError with the line."""
    if part not in PARTS:
        raise TemplateError(f"unknown template part {part!r}; one of {sorted(PARTS)}")
    _compiled_override(kind, "-", part, source)


def _choose_locale(
    kind: str, locales: Sequence[str], own: dict[tuple[str, str], dict[str, str]]
) -> str | None:
    for tag in locales:
        for candidate in dict.fromkeys((formats.normalise_locale(tag), formats.language(tag))):
            if candidate and _usable(kind, candidate, own):
                return candidate
    return None


def _usable(kind: str, locale: str, own: dict[tuple[str, str], dict[str, str]]) -> bool:
    if (kind, locale) in _builtin_index():
        return True
    mine = own.get((kind, locale), {})
    return bool(mine.get("subject")) and bool(mine.get("text"))


def _normalised(overrides: Overrides | None) -> dict[tuple[str, str], dict[str, str]]:
    """Keys as normalised tags; a regional override ("fr-FR") also answers for its language
    ("fr") unless the shop wrote one for the language itself."""
    result: dict[tuple[str, str], dict[str, str]] = {}
    for (kind, locale), parts in (overrides or {}).items():
        key = (kind, formats.normalise_locale(locale))
        result.setdefault(key, {}).update({p: s for p, s in parts.items() if s and s.strip()})
    for (kind, locale), parts in list(result.items()):
        result.setdefault((kind, formats.language(locale)), parts)
    return result


def _render_override(
    kind: str, locale: str, part: str, source: str, values: Mapping[str, Any]
) -> str:
    template = _compiled_override(kind, locale, part, source)
    try:
        return template.render(values)
    except JinjaTemplateError as exc:
        raise TemplateError(f"shop template {kind}/{locale}/{part} failed: {exc}") from None
    except Exception as exc:  # a merchant's expression may divide by zero or add str to int
        raise TemplateError(
            f"shop template {kind}/{locale}/{part} failed: {type(exc).__name__}"
        ) from None


def _compiled_override(kind: str, locale: str, part: str, source: str) -> Template:
    try:
        return _compile_sandboxed(part == "html", source)
    except JinjaTemplateError as exc:
        line = getattr(exc, "lineno", None)
        where = f" line {line}" if line else ""
        raise TemplateError(f"shop template {kind}/{locale}/{part}{where}: {exc}") from None


@lru_cache(maxsize=512)
def _compile_sandboxed(html: bool, source: str) -> Template:
    """Compiled once per distinct source: 1,000 e-mails of one shop compile its template once."""
    return _sandbox(html).from_string(source)


@lru_cache(maxsize=2)
def _sandbox(html: bool) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=_Loader(TEMPLATES),
        autoescape=html,
        undefined=ChainableUndefined,
        keep_trailing_newline=True,
    )
    _install_filters(env)
    return env


class _Loader(FileSystemLoader):
    """Templates from `templates/`, plus each text template under a second name ending in
    `+html`: the same words compiled with autoescaping, for use inside HTML. (A macro from a text
    template would hand its output to HTML unescaped.)"""

    def get_source(self, environment: Environment, template: str) -> tuple[str, str | None, Any]:
        return super().get_source(environment, template.removesuffix(HTML_ALIAS))


def _autoescaped(name: str | None) -> bool:
    return name is not None and name.endswith((".html", HTML_ALIAS))


@lru_cache(maxsize=2)
def _builtin_environment(strict: bool) -> Environment:
    undefined: type[Undefined] = StrictUndefined if strict else ChainableUndefined
    env = Environment(
        loader=_Loader(TEMPLATES),
        autoescape=_autoescaped,  # noqa: S701  (HTML and "+html" names: escaped)
        undefined=undefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    _install_filters(env)
    return env


@lru_cache(maxsize=1)
def _builtin_index() -> frozenset[tuple[str, str]]:
    """(kind, locale) pairs whose three parts all exist on disk."""
    found = set()
    for directory in TEMPLATES.glob("*/*"):
        if directory.is_dir() and all((directory / f).is_file() for f in PARTS.values()):
            found.add((directory.name, directory.parent.name))
    return frozenset(found)


def _install_filters(env: Environment) -> None:
    env.filters.update(
        date_long=_date_long,
        money=_money,
        css_color=formats.css_color,
        web_url=formats.web_url,
    )


@pass_context
def _date_long(context: Context, value: Any, locale: str | None = None) -> str:
    return formats.date_long(value, locale or _locale_of(context))


@pass_context
def _money(context: Context, amount: Any, currency: str | None = None) -> str:
    return formats.money(amount, currency, _locale_of(context))


def _locale_of(context: Context) -> str:
    locale = context.get("locale")
    return locale if isinstance(locale, str) else ""


__all__ = [
    "CUSTOMER_KINDS",
    "MERCHANT_KINDS",
    "Rendered",
    "TemplateMissing",
    "builtin_locales",
    "check_override",
    "known_kinds",
    "render",
]
