"""Every built-in message kind renders in each of its languages with the facts a customer needs;
a shop's own templates replace only the parts it wrote."""

from __future__ import annotations

import pytest

from connector.mail import (
    CUSTOMER_KINDS,
    MERCHANT_KINDS,
    TemplateError,
    TemplateMissing,
    builtin_locales,
    check_override,
    known_kinds,
    render,
)
from tests.mail.contexts import context_for, customer, digest, line

ALL = [(kind, locale) for kind in known_kinds() for locale in builtin_locales(kind)]
ETA_KINDS = ("placed", "eta_later", "eta_earlier", "late")
DATES = {"en": "27 November 2026", "de": "27. November 2026"}


def test_every_customer_kind_exists_in_english_and_german_and_merchant_kinds_in_english() -> None:
    assert set(known_kinds()) == set(CUSTOMER_KINDS) | set(MERCHANT_KINDS)
    for kind in CUSTOMER_KINDS:
        assert builtin_locales(kind) == ["de", "en"], kind
    for kind in MERCHANT_KINDS:
        assert builtin_locales(kind) == ["en"], kind


@pytest.mark.parametrize(("kind", "locale"), ALL)
def test_builtin_template_renders_every_field_it_names(kind: str, locale: str) -> None:
    rendered = render(kind, context_for(kind), locales=[locale], strict=True)

    assert rendered.locale == locale
    assert rendered.subject and "\n" not in rendered.subject
    assert "#1042" in rendered.subject or "Kaffeerösterei Nord" in rendered.subject
    assert rendered.text.strip() and "\n\n\n" not in rendered.text
    assert rendered.html.lstrip().startswith("<!DOCTYPE html>")
    assert f'<html lang="{locale}">' in rendered.html
    assert "#8a3b12" in rendered.html  # the shop's brand colour
    assert "Kaffeerösterei Nord" in rendered.html


@pytest.mark.parametrize(("kind", "locale"), [(k, loc) for k in ETA_KINDS for loc in ("en", "de")])
def test_the_date_and_what_it_is_based_on_are_in_both_parts(kind: str, locale: str) -> None:
    rendered = render(kind, customer(), locales=[locale], strict=True)

    for body in (rendered.text, rendered.html):
        assert DATES[locale] in body
        assert "PO-17" in body  # the shipment the date rests on
    assert DATES[locale] in rendered.subject or kind == "placed"


@pytest.mark.parametrize("locale", ["en", "de"])
def test_placed_lists_alternatives_with_links_and_how_to_cancel(locale: str) -> None:
    rendered = render("placed", customer(), locales=[locale], strict=True)

    for body in (rendered.text, rendered.html):
        assert "Espresso grinder Specialita" in body
        assert "Hand grinder Comandante" in body  # an alternative without a link still shows
        assert "https://shop.example/products/specialita" in body
        assert "https://app.example/status/tok3n" in body
    assert '<a href="https://shop.example/products/specialita">' in rendered.html
    assert ("cancel" if locale == "en" else "stornieren") in rendered.text


@pytest.mark.parametrize(
    ("source", "en", "de"),
    [
        ("lead_time", "supplier's usual lead time", "üblichen Lieferzeit"),
        ("manual", "set by our team", "von unserem Team festgelegt"),
        ("in_stock", "in stock now", "jetzt auf Lager"),
    ],
)
def test_the_basis_of_the_date_is_said_in_plain_words(source: str, en: str, de: str) -> None:
    context = customer(lines=[line(eta_source_kind=source, incoming_reference=None)])

    assert en in render("placed", context, locales=["en"], strict=True).text
    assert de in render("placed", context, locales=["de"], strict=True).text


def test_a_line_without_a_date_says_so_instead_of_an_empty_date() -> None:
    rendered = render("placed", customer(lines=[line(eta=None)]), locales=["en"], strict=True)

    assert "no date yet" in rendered.text
    assert "by ," not in rendered.text and "by  " not in rendered.text


@pytest.mark.parametrize("kind", ["late", "eta_later"])
@pytest.mark.parametrize("locale", ["en", "de"])
def test_late_and_later_offer_the_right_to_cancel(kind: str, locale: str) -> None:
    rendered = render(kind, customer(), locales=[locale], strict=True)

    assert DATES[locale] in rendered.text  # the revised date
    assert "20" in rendered.text and "November 2026" in rendered.text  # the old date
    assert ("cancel" if locale == "en" else "stornieren") in rendered.text
    assert "https://app.example/status/tok3n" in rendered.html


def test_expedited_names_the_wait_and_confirmations_the_refund() -> None:
    assert "23 days" in render("expedited", customer(), locales=["en"], strict=True).text
    assert "23 Tagen" in render("expedited", customer(), locales=["de"], strict=True).text
    for kind in ("cancel_confirmed", "switch_confirmed"):
        rendered = render(kind, customer(), locales=["en"], strict=True)
        assert "We refunded €449.00 to your card." in rendered.text
        assert "We refunded €449.00 to your card." in rendered.html
    switch = render("switch_confirmed", customer(), locales=["de"], strict=True)
    assert "Espresso grinder Specialita" in switch.subject


def test_change_needs_merchant_tells_the_truth_about_a_cancel_and_a_switch() -> None:
    cancel = render("change_needs_merchant", customer(alternative_title=None), locales=["en"])
    switch = render("change_needs_merchant", customer(), locales=["en"])

    assert "cancel Espresso grinder Mignon" in cancel.text
    assert "by hand" in cancel.text
    assert "switch Espresso grinder Mignon to Espresso grinder Specialita" in switch.text


def test_digest_counts_and_lists_each_section_and_says_none_when_empty() -> None:
    full = render("digest", digest(), locales=["en"], strict=True)
    empty = render(
        "digest",
        digest(new_backorders=[], late_incoming=[], long_waits=[], reorder=[]),
        locales=["en"],
    )

    assert "1 new, 1 late shipments, 1 waiting over 7 days" in full.subject
    assert "PO-9" in full.text and "2 November 2026" in full.text
    assert "Gooseneck kettle" in full.html and "12 days" in full.html
    assert "0 new, 0 late shipments, 0 waiting over 7 days" in empty.subject
    assert "Paper filters (SKU FL-FILTER)" in full.text and "order 60" in full.html
    assert empty.text.count("- none") == 4
    assert empty.html.count("None.") == 4


def test_a_script_in_a_product_title_is_escaped_in_html_and_plain_in_text() -> None:
    evil = "<script>alert(1)</script>"
    context = customer(lines=[line(title=evil)], customer_name="<b>Anna</b>")

    rendered = render("placed", context, locales=["en"], strict=True)

    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered.html
    assert "&lt;b&gt;Anna&lt;/b&gt;" in rendered.html
    assert evil in rendered.text  # text is shown as text by every client


def test_unsafe_links_and_colours_never_reach_the_html() -> None:
    shop = {
        **customer()["shop"],
        "brand_color": "red;background:url(x)",
        "logo_url": "javascript:x",
    }
    context = customer(
        shop=shop,
        lines=[line(alternatives=[{"title": "A", "sku": "A", "url": "javascript:alert(1)"}])],
        status_url="javascript:alert(2)",
    )

    rendered = render("placed", context, locales=["en"])

    assert "javascript:" not in rendered.html and "javascript:" not in rendered.text
    assert "red;background" not in rendered.html
    assert "#1f4e79" in rendered.html  # the default colour instead


def test_money_and_dates_follow_the_locale() -> None:
    source = {
        ("placed", "de"): {"subject": "{{ 1234.5|money('EUR') }} bis {{ new_eta|date_long }}"}
    }
    english = {
        ("placed", "en"): {"subject": "{{ 1234.5|money('EUR') }} by {{ new_eta|date_long }}"}
    }

    assert render("placed", customer(), locales=["de"], overrides=source).subject == (
        "1.234,50 € bis 27. November 2026"
    )
    assert render("placed", customer(), locales=["en"], overrides=english).subject == (
        "€1,234.50 by 27 November 2026"
    )


def test_locale_falls_back_from_the_order_to_the_shop_to_english() -> None:
    assert render("placed", customer(), locales=["fr", "de", "en"]).locale == "de"
    assert render("placed", customer(), locales=["fr", "en", "de"]).locale == "en"
    assert render("digest", digest(), locales=["de", "en"]).locale == "en"  # merchant kinds: en


def test_a_locale_with_no_template_anywhere_raises_template_missing() -> None:
    with pytest.raises(TemplateMissing):
        render("placed", customer(), locales=["fr", "it"])
    with pytest.raises(TemplateMissing):
        render("no_such_kind", customer(), locales=["en"])


@pytest.mark.parametrize("tag", ["de-DE", "de_DE", "DE", "de-AT"])
def test_regional_tags_match_the_language(tag: str) -> None:
    rendered = render("ready", customer(), locales=[tag, "en"])

    assert rendered.locale == "de"
    assert "versandbereit" in rendered.subject


def test_a_shop_override_of_one_part_is_used_and_the_others_fall_back() -> None:
    overrides = {("ready", "en"): {"subject": "{{ shop.name }}: {{ order_name }} is on its way!"}}

    rendered = render("ready", customer(), locales=["en"], overrides=overrides)
    builtin = render("ready", customer(), locales=["en"])

    assert rendered.subject == "Kaffeerösterei Nord: #1042 is on its way!"
    assert rendered.text == builtin.text
    assert rendered.html == builtin.html


def test_a_shop_override_in_a_language_we_do_not_ship_is_used_for_that_customer() -> None:
    overrides = {
        ("ready", "fr-FR"): {
            "subject": "Commande {{ order_name }} prête",
            "text": "Bonjour {{ customer_name }}, {{ lines[0].title }} est prêt.",
        }
    }

    rendered = render("ready", customer(), locales=["fr", "de"], overrides=overrides)

    assert rendered.locale == "fr"
    assert rendered.subject == "Commande #1042 prête"
    assert "Bonjour Anna Weber" in rendered.text
    assert "Bonjour Anna Weber" in rendered.html  # the text, wrapped in the shop's layout
    assert "#8a3b12" in rendered.html


def test_a_merchant_html_override_is_escaped_and_may_use_the_layout() -> None:
    source = (
        '{% extends "en/_layout.html" %}{% block content %}<p>Hi {{ customer_name }}: '
        "{{ lines[0].title }}</p>{% endblock %}"
    )
    context = customer(lines=[line(title="<script>x</script>")])

    rendered = render(
        "ready", context, locales=["en"], overrides={("ready", "en"): {"html": source}}
    )

    assert "<p>Hi Anna Weber: &lt;script&gt;x&lt;/script&gt;</p>" in rendered.html
    assert "Questions? Reply to this e-mail" in rendered.html


def test_a_merchant_typo_renders_empty_instead_of_failing() -> None:
    overrides = {("ready", "en"): {"subject": "Hi {{ custmer_name }}{{ shop.nmae.x }}, ready"}}

    assert render("ready", customer(), locales=["en"], overrides=overrides).subject == "Hi , ready"


@pytest.mark.parametrize(
    "source",
    [
        "{% if order_name %}unclosed",
        "{{ order_name.__class__.__mro__[1].__subclasses__() }}",
        "{{ 1 / 0 }}",
    ],
)
def test_a_broken_or_unsafe_merchant_template_raises_template_error(source: str) -> None:
    overrides = {("ready", "en"): {"text": source}}

    with pytest.raises(TemplateError) as raised:
        render("ready", customer(), locales=["en"], overrides=overrides)

    assert "ready/en/text" in str(raised.value)
    # the caller falls back to the built-in template
    assert render("ready", customer(), locales=["en"]).text


def test_check_override_reports_the_line_of_a_syntax_error() -> None:
    check_override("ready", "subject", "Order {{ order_name }}")
    with pytest.raises(TemplateError, match="line 2"):
        check_override("ready", "html", "<p>\n{% for x in %}</p>")
    with pytest.raises(TemplateError):
        check_override("ready", "footer", "x")
