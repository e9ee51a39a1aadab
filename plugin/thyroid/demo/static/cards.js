/* CDS Hooks cards: rendering, accepting suggestions, dismissing with an override reason. */
import { state } from "./state.js";
import { $, clear, h, s, say, uuid } from "./dom.js";
import { renderMarkdown } from "./markdown.js";
import { sendFeedback } from "./cds.js";
import { renderDrafts } from "./orders.js";

// ---------------------------------------------------------------- cards

var ICONS = {
  info: function () {
    return s("svg", { viewBox: "0 0 24 24", class: "ind-icon", "aria-hidden": "true", focusable: "false" },
      s("circle", { cx: 12, cy: 12, r: 10, fill: "currentColor" }),
      s("rect", { x: 11, y: 10, width: 2, height: 7.5, rx: 1, fill: "#fff" }),
      s("circle", { cx: 12, cy: 7, r: 1.3, fill: "#fff" }));
  },
  warning: function () {
    return s("svg", { viewBox: "0 0 24 24", class: "ind-icon", "aria-hidden": "true", focusable: "false" },
      s("path", { d: "M12 2.5 22.5 21H1.5z", fill: "currentColor", "stroke-linejoin": "round" }),
      s("rect", { x: 11, y: 8.5, width: 2, height: 7, rx: 1, fill: "#1b1b1b" }),
      s("circle", { cx: 12, cy: 18, r: 1.2, fill: "#1b1b1b" }));
  },
  critical: function () {
    return s("svg", { viewBox: "0 0 24 24", class: "ind-icon", "aria-hidden": "true", focusable: "false" },
      s("path", { d: "M7.9 2h8.2L22 7.9v8.2L16.1 22H7.9L2 16.1V7.9z", fill: "currentColor" }),
      s("rect", { x: 11, y: 6, width: 2, height: 8, rx: 1, fill: "#fff" }),
      s("circle", { cx: 12, cy: 17.3, r: 1.3, fill: "#fff" }));
  },
};
var INDICATOR_LABEL = { info: "Info", warning: "Warning", critical: "Critical" };

function sourceIcon() {
  return s("svg", { viewBox: "0 0 24 24", class: "src-icon", "aria-hidden": "true", focusable: "false" },
    s("path", { d: "M5 3h10l4 4v14H5z", fill: "none", stroke: "currentColor", "stroke-width": 1.8, "stroke-linejoin": "round" }),
    s("path", { d: "M8 11h8M8 14.5h8M8 18h5", stroke: "currentColor", "stroke-width": 1.6, "stroke-linecap": "round" }));
}

function safeUrl(url) {
  return typeof url === "string" && /^(https?:\/\/|data:image\/(png|gif|jpeg|svg\+xml);)/i.test(url) ? url : null;
}

export function renderCards(container, cards, serviceId, emptyText) {
  clear(container);
  container.setAttribute("aria-busy", "false");
  if (!cards || !cards.length) {
    container.appendChild(h("p", { class: "placeholder no-cards" }, emptyText));
    return;
  }
  var order = { critical: 0, warning: 1, info: 2 };
  cards.slice().sort(function (a, b) { return order[a.indicator] - order[b.indicator]; }).forEach(function (card) {
    container.appendChild(renderCard(card, serviceId));
  });
}

function renderCard(card, serviceId) {
  var indicator = INDICATOR_LABEL[card.indicator] ? card.indicator : "info";
  var id = "card-" + card.uuid;
  var detail = h("div", { class: "card-detail", id: id + "-detail", hidden: true });
  // renderMarkdown escapes every character of the detail before adding its own tags
  detail.innerHTML = renderMarkdown(card.detail || "");

  var suggestions = (card.suggestions || []).map(function (sug) {
    return h("button", {
      type: "button",
      class: "btn suggestion" + (sug.isRecommended ? " btn-primary" : ""),
      "data-suggestion-uuid": sug.uuid,
      onclick: function () { acceptSuggestion(card, sug); },
    }, h("span", { "aria-hidden": "true", class: "sugg-mark" }, "\u2714 "), sug.label);
  });

  var links = (card.links || []).map(function (link) {
    var url = safeUrl(link.url);
    if (link.type === "smart") {
      return h("li", null, h("button", { type: "button", class: "btn btn-link", disabled: true, title: "A SMART app launch needs an EHR session" }, link.label + " (SMART app)"));
    }
    return h("li", null, url ? h("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, link.label) : link.label);
  });

  var src = card.source || {};
  var srcUrl = safeUrl(src.url);
  var srcIconUrl = safeUrl(src.icon);
  var source = h("footer", { class: "card-source" },
    srcIconUrl ? h("img", { src: srcIconUrl, alt: "", class: "src-img", width: 16, height: 16 }) : sourceIcon(),
    h("span", null, "Source: "),
    srcUrl ? h("a", { href: srcUrl, target: "_blank", rel: "noopener noreferrer" }, src.label) : h("span", null, src.label),
    src.topic && src.topic.display ? h("span", { class: "topic" }, " · " + src.topic.display) : null);

  var el = h("article", {
    class: "card card-" + indicator,
    id: id,
    "data-card-uuid": card.uuid,
    "data-indicator": indicator,
    "data-service": serviceId,
    "aria-labelledby": id + "-summary",
  },
    h("div", { class: "card-head" },
      h("span", { class: "ind", role: "img", "aria-label": INDICATOR_LABEL[indicator] }, ICONS[indicator]()),
      h("h3", { class: "card-summary", id: id + "-summary" }, card.summary),
      h("span", { class: "badge badge-" + indicator }, INDICATOR_LABEL[indicator])),
    card.detail ? h("button", {
      type: "button",
      class: "btn btn-quiet details-toggle",
      "aria-expanded": "false",
      "aria-controls": id + "-detail",
      onclick: function (event) {
        var open = detail.hidden;
        detail.hidden = !open;
        event.currentTarget.setAttribute("aria-expanded", String(open));
        event.currentTarget.textContent = open ? "Hide details" : "Show details";
      },
    }, "Show details") : null,
    card.detail ? detail : null,
    suggestions.length ? h("div", { class: "card-suggestions", role: "group", "aria-label": "Suggestions" }, suggestions) : null,
    links.length ? h("ul", { class: "card-links", "aria-label": "Links" }, links) : null,
    h("div", { class: "card-foot" },
      source,
      h("button", {
        type: "button",
        class: "btn btn-quiet dismiss",
        "aria-label": "Dismiss card: " + card.summary,
        onclick: function () { openOverride(card); },
      }, "Dismiss\u2026")),
    h("p", { class: "card-outcome", hidden: true }));

  state.cards[card.uuid] = { card: card, serviceId: serviceId, element: el };
  return el;
}

function markCard(card, text, cls) {
  var entry = state.cards[card.uuid];
  if (!entry) return;
  var el = entry.element;
  el.classList.add(cls);
  el.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
  var outcome = el.querySelector(".card-outcome");
  outcome.textContent = text;
  outcome.hidden = false;
}

function acceptSuggestion(card, suggestion) {
  var entry = state.cards[card.uuid];
  var changed = applyActions(suggestion.actions || []);
  markCard(card, "Accepted: " + suggestion.label + (changed ? " (" + changed + ")" : ""), "card-accepted");
  renderDrafts();
  sendFeedback(entry.serviceId, {
    card: card.uuid,
    outcome: "accepted",
    acceptedSuggestions: [{ id: suggestion.uuid }],
  }).then(function () {
    say("Suggestion accepted; feedback sent to " + entry.serviceId + ".");
    entry.element.setAttribute("data-feedback", "accepted");
  }).catch(function (err) { say(err.message, true); });
}

/** Apply suggestion actions to the draft orders; returns a short description of the change. */
function applyActions(actions) {
  var notes = [];
  actions.forEach(function (action) {
    if (action.type === "delete") {
      var ids = Array.isArray(action.resourceId) ? action.resourceId : [action.resourceId];
      var before = state.drafts.length;
      state.drafts = state.drafts.filter(function (r) { return ids.indexOf(r.resourceType + "/" + r.id) < 0; });
      if (state.drafts.length < before) notes.push("draft order removed");
    } else if (action.type === "create" && action.resource) {
      var res = JSON.parse(JSON.stringify(action.resource));
      if (!res.id) res.id = uuid();
      state.drafts.push(res);
      notes.push("draft order added");
    } else if (action.type === "update" && action.resource) {
      var idx = state.drafts.findIndex(function (r) { return r.resourceType === action.resource.resourceType && r.id === action.resource.id; });
      if (idx >= 0) {
        state.drafts[idx] = action.resource;
        notes.push("draft order updated");
      }
    }
  });
  return notes.join(", ");
}

function openOverride(card) {
  var dialog = $("override-dialog");
  state.overrideFor = card;
  $("override-card-summary").textContent = card.summary;
  var select = clear($("override-reason"));
  (card.overrideReasons || []).forEach(function (reason, i) {
    select.appendChild(h("option", { value: String(i) }, reason.display));
  });
  select.appendChild(h("option", { value: "" }, "No reason given"));
  $("override-comment").value = "";
  if (typeof dialog.showModal === "function") dialog.showModal();
  else dialog.setAttribute("open", "");
  select.focus();
}

export function closeOverride() {
  var dialog = $("override-dialog");
  if (dialog.open && typeof dialog.close === "function") dialog.close();
  else dialog.removeAttribute("open");
  var card = state.overrideFor;
  state.overrideFor = null;
  return card;
}

export function submitOverride(event) {
  event.preventDefault();
  var card = state.overrideFor;
  if (!card) return;
  var entry = state.cards[card.uuid];
  var choice = $("override-reason").value;
  var comment = $("override-comment").value.trim();
  var item = { card: card.uuid, outcome: "overridden" };
  var reason = choice !== "" ? (card.overrideReasons || [])[Number(choice)] : null;
  if (reason || comment) {
    item.overrideReason = {};
    if (reason) item.overrideReason.reason = reason;
    if (comment) item.overrideReason.userComment = comment;
  }
  closeOverride();
  markCard(card, "Dismissed" + (reason ? ": " + reason.display : "") + (comment ? " \u2014 \u201c" + comment + "\u201d" : ""), "card-dismissed");
  entry.element.querySelector(".card-outcome").focus();
  sendFeedback(entry.serviceId, item).then(function () {
    say("Card dismissed; override feedback sent to " + entry.serviceId + ".");
    entry.element.setAttribute("data-feedback", "overridden");
  }).catch(function (err) { say(err.message, true); });
}

export function renderAssessment(response) {
  var box = $("assessment");
  var ext = response && response.extension && response.extension["rair-cds"];
  var a = ext && ext.assessment;
  clear(box);
  if (!a) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  box.appendChild(h("dl", { class: "kv kv-inline" },
    h("dt", null, "RAIR status"), h("dd", { class: "pill pill-" + String(a.rairStatus).toLowerCase() }, a.rairStatus + (a.rairCriteria && a.rairCriteria.length ? " (" + a.rairCriteria.join(", ") + ")" : "")),
    h("dt", null, "Progression"), h("dd", { class: "pill" }, a.progression),
    h("dt", null, "Next step"), h("dd", { class: "pill" }, String(a.action).replace(/_/g, " ").toLowerCase())));
}
