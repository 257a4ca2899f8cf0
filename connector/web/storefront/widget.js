/*
 * Backorder Connector storefront widget: "Ships by <date>" and in-stock alternatives on a
 * product page. No dependencies; every piece of data is inserted as text (textContent), never
 * as markup, so a product title cannot inject anything into the page.
 *
 * Place on the product page:
 *   <div data-backorder-widget data-endpoint="/apps/backorder" data-variant="123"></div>
 *   <script src="/apps/backorder/widget.js" defer></script>
 * data-endpoint: the App Proxy path (Shopify) or {APP_URL}/storefront/v1/shops/<shop id>
 * (WooCommerce). data-quantity (optional) defaults to 1.
 *
 * The widget follows the variant selection: a `change` on a variant field named `id` (Shopify)
 * or `variation_id` (WooCommerce), WooCommerce's `found_variation` (when jQuery is on the page),
 * or a `backorder:variant` event with `detail.variant` dispatched on the document.
 */
(function () {
  "use strict";

  var VARIANT_FIELDS = ["id", "variation_id"];
  var serial = 0;

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function safeLink(url) {
    // Only http(s) links, resolved against the page: never javascript: or data: URLs.
    if (typeof url !== "string" || !url) return null;
    try {
      var parsed = new URL(url, window.location.href);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch (error) {
      return null;
    }
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function render(container, quote) {
    clear(container);
    var box = element("div", "backorder-widget");
    var status = element("p", "backorder-status", quote.message);
    status.setAttribute("data-in-stock", quote.in_stock ? "true" : "false");
    box.appendChild(status);
    var offers = quote.alternatives || [];
    if (!quote.in_stock && offers.length) {
      box.appendChild(element("p", "backorder-alternatives-title", "Available now instead:"));
      var list = element("ul", "backorder-alternatives");
      offers.forEach(function (offer) {
        var item = element("li", "backorder-alternative");
        var link = safeLink(offer.url);
        var name = element(link ? "a" : "span", "backorder-alternative-title", offer.title);
        if (link) name.setAttribute("href", link);
        item.appendChild(name);
        if (offer.price) item.appendChild(element("span", "backorder-alternative-price", " " + offer.price));
        list.appendChild(item);
      });
      box.appendChild(list);
    }
    container.appendChild(box);
  }

  function update(container, variant) {
    if (variant) container.setAttribute("data-variant", String(variant));
    var current = container.getAttribute("data-variant");
    var endpoint = (container.getAttribute("data-endpoint") || "").replace(/\/+$/, "");
    if (!current || !endpoint) return;
    var quantity = parseInt(container.getAttribute("data-quantity") || "1", 10) || 1;
    var ticket = ++serial;
    container.setAttribute("data-backorder-ticket", String(ticket));
    var url = endpoint + "/variants/" + encodeURIComponent(current) + "?quantity=" + quantity;
    fetch(url, { credentials: "omit", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("quote failed: " + response.status);
        return response.json();
      })
      .then(function (quote) {
        // A newer selection may have answered first: only the latest request renders.
        if (container.getAttribute("data-backorder-ticket") === String(ticket)) render(container, quote);
      })
      .catch(function () {
        if (container.getAttribute("data-backorder-ticket") === String(ticket)) clear(container);
      });
  }

  function containers() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-backorder-widget]"));
  }

  function updateAll(variant) {
    containers().forEach(function (container) {
      update(container, variant);
    });
  }

  function start() {
    updateAll(null);
    document.addEventListener("change", function (event) {
      var field = event.target;
      if (field && VARIANT_FIELDS.indexOf(field.name) !== -1 && field.value) updateAll(field.value);
    });
    document.addEventListener("backorder:variant", function (event) {
      if (event.detail && event.detail.variant) updateAll(event.detail.variant);
    });
    if (window.jQuery) {
      // WooCommerce sets `variation_id` from script and tells jQuery listeners only.
      window.jQuery(document).on("found_variation", "form.variations_form", function (event, found) {
        if (found && found.variation_id) updateAll(found.variation_id);
      });
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
