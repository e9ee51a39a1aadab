/*
 * rair-cds demo page: a tiny stand-in EHR.
 *
 * It calls this server's CDS Hooks endpoints exactly as an EHR would: discovery
 * (GET ../cds-services) to learn each service's prefetch keys, then POST ../cds-services/{id}
 * with hook, hookInstance, context and the prefetch built from the sample patient's Bundle, and
 * POST ../cds-services/{id}/feedback when a card is accepted or dismissed.
 * Plain ES2020, no libraries, nothing loaded from the network beyond this server.
 */
(function () {
  "use strict";

  var CDS_BASE = "../cds-services";
  var API_BASE = "api";
  var USER_ID = "Practitioner/demo-clinician";
  var SERVICES = {
    patientView: "rair-patient-view",
    orderSelect: "rair-order-select",
    orderSign: "rair-order-sign",
  };
  var SNOMED = "http://snomed.info/sct";
  var RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm";
  var UCUM = "http://unitsofmeasure.org";

  var state = {
    discovery: null, // {serviceId: definition}
    patient: null, // the /api/patients/<name> answer
    drafts: [], // MedicationRequest resources, status draft
    signed: [],
    cards: {}, // card uuid -> {card, serviceId, element}
    signPending: false,
    overrideFor: null,
  };

  // ---------------------------------------------------------------- small DOM helpers

  function $(id) {
    return document.getElementById(id);
  }

  /** Build an element: h("p", {class: "x"}, "text", child, ...). Text is never parsed as HTML. */
  function h(tag, attrs) {
    var el = document.createElement(tag);
    setAttrs(el, attrs);
    for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }

  var SVGNS = "http://www.w3.org/2000/svg";
  function s(tag, attrs) {
    var el = document.createElementNS(SVGNS, tag);
    setAttrs(el, attrs);
    for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }

  function setAttrs(el, attrs) {
    if (!attrs) return;
    Object.keys(attrs).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) return;
      if (key === "text") el.textContent = value;
      else if (key.slice(0, 2) === "on") el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, value === true ? "" : String(value));
    });
  }

  function append(el, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) child.forEach(function (c) { append(el, c); });
    else if (typeof child === "string" || typeof child === "number") el.appendChild(document.createTextNode(String(child)));
    else el.appendChild(child);
  }

  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
    return el;
  }

  function uuid() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
    // randomUUID needs a secure context; getRandomValues does not (e.g. http://<lan-host>:8080)
    var b = new Uint8Array(16);
    window.crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" + hex.slice(16, 20) + "-" + hex.slice(20);
  }

  function fmtInt(n) {
    return n === null || n === undefined ? "unknown" : Number(n).toLocaleString("en-US");
  }

  // why an administration is not counted as the rules see it (to_facts_rai.rai_activity)
  function raiNote(a) {
    if (a.afterEvaluationDate) return " (after the evaluation date; not counted)";
    if (a.intentConflict) return " (coded " + a.recordedIntent + " but of therapeutic size)";
    if (a.sameDayAs) return " (same day as " + a.sameDayAs + "; counted once)";
    return "";
  }

  function fmtNum(n, digits) {
    if (n === null || n === undefined) return "unknown";
    return Number(n).toLocaleString("en-US", { maximumFractionDigits: digits === undefined ? 1 : digits });
  }

  // the JS-v threshold the rules used (thresholds.yaml, via the record summary): never a literal
  function thresholdText(mbq) {
    return fmtInt(mbq) + " MBq (" + fmtNum(mbq / 37) + " mCi)";
  }

  function thresholdGbq(mbq) {
    return fmtNum(mbq / 1000, 3) + " GBq";
  }

  function say(message, isError) {
    var el = $("status");
    el.textContent = message;
    el.classList.toggle("status-error", !!isError);
  }

  // ---------------------------------------------------------------- tiny safe markdown

  function escapeHtml(text) {
    return String(text)
      .replace(/&/g, "&amp;")
      .replace(/</g, "&lt;")
      .replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;")
      .replace(/'/g, "&#39;");
  }

  /** Inline markdown on already-escaped text: code, links (http/https/mailto only), bold, italics. */
  function inline(escaped) {
    var codes = [];
    var out = escaped.replace(/`([^`]+)`/g, function (_, code) {
      codes.push("<code>" + code + "</code>");
      return "\u0000" + (codes.length - 1) + "\u0000";
    });
    out = out.replace(/\[([^\]]+)\]\(([^)\s]+)\)/g, function (whole, label, url) {
      // the URL is escaped already (no quotes can close the attribute); only safe schemes link
      if (!/^(https?:\/\/|mailto:)/i.test(url)) return label;
      return '<a href="' + url + '" target="_blank" rel="noopener noreferrer">' + label + "</a>";
    });
    out = out
      .replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>")
      .replace(/__([^_]+)__/g, "<strong>$1</strong>")
      .replace(/(^|[^*\w])\*([^*\s][^*]*?)\*(?!\*)/g, "$1<em>$2</em>")
      .replace(/(^|[^_\w])_([^_\s][^_]*?)_(?![_\w])/g, "$1<em>$2</em>");
    return out.replace(/\u0000(\d+)\u0000/g, function (_, i) { return codes[Number(i)]; });
  }

  /** Render CDS Hooks card detail (GitHub-flavoured markdown, a safe subset) to HTML. */
  function renderMarkdown(source) {
    var lines = escapeHtml(source || "").replace(/\u0000/g, "").split(/\r?\n/);
    var html = [];
    var para = [];
    var list = null; // {tag, items}

    function flushPara() {
      if (para.length) html.push("<p>" + inline(para.join(" ")) + "</p>");
      para = [];
    }
    function flushList() {
      if (list) {
        html.push("<" + list.tag + ">" + list.items.map(function (i) { return "<li>" + inline(i) + "</li>"; }).join("") + "</" + list.tag + ">");
      }
      list = null;
    }

    lines.forEach(function (line) {
      var bullet = /^\s*[-*+]\s+(.*)$/.exec(line);
      var number = /^\s*\d+[.)]\s+(.*)$/.exec(line);
      var heading = /^\s*#{1,6}\s+(.*)$/.exec(line);
      if (!line.trim()) {
        flushPara();
        flushList();
      } else if (bullet || number) {
        flushPara();
        var tag = bullet ? "ul" : "ol";
        if (list && list.tag !== tag) flushList();
        if (!list) list = { tag: tag, items: [] };
        list.items.push((bullet || number)[1]);
      } else if (heading) {
        flushPara();
        flushList();
        html.push('<p class="md-heading"><strong>' + inline(heading[1]) + "</strong></p>");
      } else if (list && /^\s{2,}\S/.test(line)) {
        list.items[list.items.length - 1] += " " + line.trim(); // continuation of a list item
      } else {
        flushList();
        para.push(line.trim());
      }
    });
    flushPara();
    flushList();
    return html.join("");
  }

  // ---------------------------------------------------------------- HTTP

  function getJson(url) {
    return fetch(url, { headers: { Accept: "application/json" } }).then(function (r) {
      if (!r.ok) throw new Error("GET " + url + " failed: HTTP " + r.status);
      return r.json();
    });
  }

  function postJson(url, body) {
    return fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
    }).then(function (r) {
      return r.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        if (!r.ok) {
          var why = data && data.issue && data.issue[0] && (data.issue[0].diagnostics || data.issue[0].details && data.issue[0].details.text);
          var hint = r.status === 401 ? " The service requires CDS client JWTs; run the demo on a local instance with RAIR_CDS_AUTH_MODE=off (docs/DEMO.md)." : "";
          throw new Error("POST " + url + " failed: HTTP " + r.status + (why ? " (" + why + ")" : "") + "." + hint);
        }
        return data;
      });
    });
  }

  // ---------------------------------------------------------------- prefetch, as an EHR builds it

  function resources() {
    var bundle = state.patient && state.patient.bundle;
    return ((bundle && bundle.entry) || []).map(function (e) { return e.resource; }).filter(Boolean);
  }

  /**
   * Fill each discovery prefetch template from the record Bundle: "Type/id" gives that resource
   * (or null), "Type?params" a searchset Bundle of every resource of that type (only _id is
   * applied; the service reads codes itself, a real EHR would also filter on the parameters).
   */
  function buildPrefetch(serviceId) {
    var def = state.discovery && state.discovery[serviceId];
    var templates = (def && def.prefetch) || {};
    var all = resources();
    var out = {};
    Object.keys(templates).forEach(function (key) {
      var query = templates[key]
        .replace(/\{\{\s*context\.patientId\s*\}\}/g, state.patient.patientId || "")
        .replace(/\{\{\s*context\.userId\s*\}\}/g, USER_ID)
        .replace(/\{\{\s*userPractitionerId\s*\}\}/g, USER_ID.split("/")[1]);
      var parts = query.split("?");
      var path = parts[0].replace(/^\/+/, "");
      var segments = path.split("/");
      var type = segments[0];
      if (segments.length >= 2 && !parts[1]) {
        out[key] = all.find(function (r) { return r.resourceType === type && r.id === segments[1]; }) || null;
        return;
      }
      var params = new URLSearchParams(parts[1] || "");
      var ids = params.get("_id") ? params.get("_id").split(",") : null;
      var matches = all.filter(function (r) {
        return r.resourceType === type && (!ids || ids.indexOf(r.id) >= 0);
      });
      out[key] = {
        resourceType: "Bundle",
        type: "searchset",
        total: matches.length,
        entry: matches.map(function (r) { return { fullUrl: type + "/" + r.id, resource: r }; }),
      };
    });
    return out;
  }

  function callService(serviceId, hook, extraContext) {
    if (!state.discovery || !state.discovery[serviceId]) {
      return Promise.reject(new Error("service " + serviceId + " is not in discovery"));
    }
    var context = { userId: USER_ID, patientId: state.patient.patientId };
    Object.keys(extraContext || {}).forEach(function (k) { context[k] = extraContext[k]; });
    var body = {
      hook: hook,
      hookInstance: uuid(),
      context: context,
      prefetch: buildPrefetch(serviceId),
    };
    return postJson(CDS_BASE + "/" + encodeURIComponent(serviceId), body);
  }

  function sendFeedback(serviceId, item) {
    item.outcomeTimestamp = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
    return postJson(CDS_BASE + "/" + encodeURIComponent(serviceId) + "/feedback", { feedback: [item] });
  }

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

  function renderCards(container, cards, serviceId, emptyText) {
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

  function closeOverride() {
    var dialog = $("override-dialog");
    if (dialog.open && typeof dialog.close === "function") dialog.close();
    else dialog.removeAttribute("open");
    var card = state.overrideFor;
    state.overrideFor = null;
    return card;
  }

  function submitOverride(event) {
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

  function renderAssessment(response) {
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

  // ---------------------------------------------------------------- orders

  function medication(system, code, display) {
    return { coding: [{ system: system, code: code, display: display }], text: display };
  }

  var PRESETS = {
    i131: function () {
      return {
        medicationCodeableConcept: { coding: [{ system: SNOMED, code: "111160004", display: "Sodium iodide (131-I)" }], text: "Sodium iodide I-131" },
        dosageInstruction: [{
          text: "150 mCi (5,550 MBq) orally, once",
          route: { text: "oral" },
          doseAndRate: [{ doseQuantity: { value: 150, unit: "mCi", system: UCUM, code: "mCi" } }],
        }],
      };
    },
    selpercatinib: function () {
      return drugOrder("2370147", "selpercatinib", "160 mg orally twice daily", 160);
    },
    cabozantinib: function () {
      return drugOrder("1363268", "cabozantinib", "60 mg orally once daily", 60);
    },
    lenvatinib: function () {
      return drugOrder("1603296", "lenvatinib", "24 mg orally once daily", 24);
    },
  };

  function drugOrder(code, name, text, mg) {
    var concept = medication(RXNORM, code, name);
    concept.text = name.charAt(0).toUpperCase() + name.slice(1);
    return {
      medicationCodeableConcept: concept,
      dosageInstruction: [{ text: text, doseAndRate: [{ doseQuantity: { value: mg, unit: "mg", system: UCUM, code: "mg" } }] }],
    };
  }

  function newDraft(presetKey) {
    var p = PRESETS[presetKey]();
    return {
      resourceType: "MedicationRequest",
      id: "draft-" + uuid(),
      status: "draft",
      intent: "order",
      medicationCodeableConcept: p.medicationCodeableConcept,
      subject: { reference: "Patient/" + state.patient.patientId },
      authoredOn: state.patient.evaluationDate,
      requester: { reference: USER_ID },
      dosageInstruction: p.dosageInstruction,
    };
  }

  function draftLabel(r) {
    var med = r.medicationCodeableConcept || r.code || {};
    var name = med.text || (med.coding && med.coding[0] && med.coding[0].display) || r.resourceType;
    var dose = r.dosageInstruction && r.dosageInstruction[0] && r.dosageInstruction[0].text;
    return name + (dose ? " \u2014 " + dose : "");
  }

  function draftBundle() {
    return {
      resourceType: "Bundle",
      type: "collection",
      entry: state.drafts.map(function (r) { return { resource: r }; }),
    };
  }

  function renderDrafts() {
    var list = clear($("draft-orders"));
    if (!state.drafts.length) list.appendChild(h("li", { class: "placeholder" }, "No draft orders."));
    state.drafts.forEach(function (r) {
      list.appendChild(h("li", { class: "draft", "data-resource-id": r.resourceType + "/" + r.id },
        h("span", { class: "draft-badge" }, "draft"),
        h("span", { class: "draft-text" }, draftLabel(r)),
        h("button", {
          type: "button",
          class: "btn btn-quiet",
          "aria-label": "Remove draft order " + draftLabel(r),
          onclick: function () {
            state.drafts = state.drafts.filter(function (d) { return d !== r; });
            renderDrafts();
            say("Draft order removed.");
          },
        }, "Remove")));
    });
    var signed = clear($("signed-orders"));
    if (!state.signed.length) signed.appendChild(h("li", { class: "placeholder" }, "None signed in this session."));
    state.signed.forEach(function (r) {
      signed.appendChild(h("li", { class: "draft signed" }, h("span", { class: "draft-badge badge-signed" }, "signed"), h("span", { class: "draft-text" }, draftLabel(r))));
    });
    $("sign-orders").disabled = !state.drafts.length;
    $("sign-orders").textContent = state.signPending ? "Sign anyway" : "Sign orders";
  }

  function addOrder(event) {
    event.preventDefault();
    if (!state.patient) return;
    var draft = newDraft($("order-preset").value);
    state.drafts.push(draft);
    state.signPending = false;
    renderDrafts();
    var container = $("order-cards");
    container.setAttribute("aria-busy", "true");
    say("Draft order added; calling order-select\u2026");
    callService(SERVICES.orderSelect, "order-select", {
      selections: [draft.resourceType + "/" + draft.id],
      draftOrders: draftBundle(),
    }).then(function (response) {
      renderCards(container, response.cards, SERVICES.orderSelect, "order-select: no cards for this order.");
      say("order-select returned " + response.cards.length + " card(s).");
    }).catch(function (err) {
      container.setAttribute("aria-busy", "false");
      say(err.message, true);
    });
  }

  function signOrders() {
    if (!state.drafts.length) return;
    if (state.signPending) {
      finishSigning();
      return;
    }
    var container = $("order-cards");
    container.setAttribute("aria-busy", "true");
    say("Calling order-sign\u2026");
    callService(SERVICES.orderSign, "order-sign", { draftOrders: draftBundle() }).then(function (response) {
      renderCards(container, response.cards, SERVICES.orderSign, "order-sign: no cards; orders signed.");
      if (!response.cards.length) finishSigning();
      else {
        state.signPending = true;
        renderDrafts();
        say("order-sign returned " + response.cards.length + " card(s). Review them, or choose \u201cSign anyway\u201d.");
      }
    }).catch(function (err) {
      container.setAttribute("aria-busy", "false");
      say(err.message, true);
    });
  }

  function finishSigning() {
    state.drafts.forEach(function (r) {
      r.status = "active";
      state.signed.push(r);
    });
    state.drafts = [];
    state.signPending = false;
    renderDrafts();
    say("Orders signed (demo only: nothing is sent anywhere).");
  }

  // ---------------------------------------------------------------- record summary

  function section(title, body) {
    return h("section", { class: "rec-section" }, h("h3", null, title), body);
  }

  function table(caption, headers, rows, extraClass) {
    return h("table", { class: "tbl" + (extraClass ? " " + extraClass : "") },
      h("caption", { class: "sr-only" }, caption),
      h("thead", null, h("tr", null, headers.map(function (x) { return h("th", { scope: "col" }, x); }))),
      h("tbody", null, rows));
  }

  function none(text) {
    return h("p", { class: "none" }, text);
  }

  function renderRecord(summary) {
    var root = clear($("record"));
    var p = summary.patient || {};
    var age = p.age === null || p.age === undefined ? "age unknown" : p.age + " years";
    root.appendChild(h("p", { class: "patient-line" },
      h("strong", null, state.patient.title),
      h("span", { class: "muted" }, " \u00b7 " + [p.sex || "sex unknown", age, "born " + (p.birthDate || "unknown"),
        "Patient/" + (state.patient.patientId || "?")].join(" \u00b7 "))));

    // diagnosis
    root.appendChild(section("Diagnosis", summary.diagnoses.length
      ? h("ul", { class: "plain" }, summary.diagnoses.map(function (d) {
        return h("li", null, h("strong", null, d.label), d.histology ? " (" + d.histology + ")" : "",
          d.onset ? ", diagnosed " + d.onset : "", d.evidence ? h("span", { class: "muted" }, " \u00b7 " + d.evidence) : null);
      }))
      : none("No thyroid-cancer diagnosis in the record.")));

    // RAI
    var rai = summary.rai;
    var THRESHOLD_MBQ = rai.thresholdMBq;
    var raiBody = h("div");
    if (rai.administrations.length) {
      raiBody.appendChild(table("Radioiodine administrations", ["Date", "Activity", "Intent", "Cumulative (therapeutic)"],
        rai.administrations.map(function (a) {
          return h("tr", null,
            h("td", null, a.date || "undated"),
            h("td", null, a.activityMBq === null ? h("span", { class: "warn-text" }, "unknown") : fmtInt(a.activityMBq) + " MBq (" + fmtNum(a.activityMCi) + " mCi)"),
            h("td", null, a.intent + (a.intentCoded ? "" : " (inferred)") + raiNote(a)),
            h("td", { class: "num" }, fmtInt(a.cumulativeTherapeuticMBq) + " MBq"));
        })));
      // the rules' own reading (to_facts_rai.rai_activity): strictly above, "at least" when a lower bound
      var above = rai.aboveThreshold !== undefined ? rai.aboveThreshold : rai.cumulativeTherapeuticMBq > THRESHOLD_MBQ;
      var lowerBound = rai.cumulativeComplete === false;
      var atThreshold = rai.atThreshold !== undefined ? rai.atThreshold : rai.cumulativeTherapeuticMBq === THRESHOLD_MBQ;
      raiBody.appendChild(h("p", { class: "total" + (above ? " total-above" : "") },
        "Cumulative therapeutic activity: ", h("strong", null, (lowerBound ? "at least " : "") + fmtInt(rai.cumulativeTherapeuticMBq) + " MBq (" + fmtNum(rai.cumulativeTherapeuticMCi) + " mCi)"),
        above ? " \u2014 above" : atThreshold ? " \u2014 exactly at (not above)" : lowerBound ? " \u2014 a lower bound, not known to be above" : " \u2014 below",
        " the " + thresholdText(THRESHOLD_MBQ) + " JS-v threshold",
        rai.unknownActivity ? h("span", { class: "warn-text" }, "; " + rai.unknownActivity + " administration(s) with unknown activity") : null));
    } else raiBody.appendChild(none("No radioiodine administrations recorded."));
    root.appendChild(section("Radioiodine history", raiBody));

    // scans
    root.appendChild(section("Radioiodine scans", summary.scans.length
      ? table("Radioiodine whole-body scans", ["Date", "Kind", "Uptake", "TSH (mIU/L)"], summary.scans.map(function (sc) {
        return h("tr", null, h("td", null, sc.date || "undated"),
          h("td", null, sc.kind + (sc.kindInferred ? " (by timing)" : "")),
          h("td", null, uptakeText(sc.uptake)),
          h("td", { class: "num" }, sc.tsh === null ? "\u2014" : fmtNum(sc.tsh)));
      }))
      : none("No radioiodine scans recorded.")));

    // lesion sums and progression
    var pdBySource = {};
    summary.progression.events.forEach(function (e) { if (e.kind === "recist-computed") pdBySource[e.source] = e; });
    var progBody = h("div");
    if (summary.lesionSums.length) {
      progBody.appendChild(table("Target-lesion sums", ["Date", "Sum of diameters", "RECIST 1.1"], summary.lesionSums.map(function (ls) {
        var pd = pdBySource[ls.source];
        return h("tr", { class: pd ? "row-pd" : null }, h("td", null, ls.date || "undated"), h("td", { class: "num" }, fmtNum(ls.sumMm) + " mm"),
          h("td", null, pd ? h("strong", { class: "pd-text" }, "PD: +" + fmtNum(pd.increasePercent) + "%, +" + fmtNum(pd.sumMm - pd.nadirMm) + " mm vs nadir " + fmtNum(pd.nadirMm) + " mm") : ""));
      })));
    } else progBody.appendChild(none("No target-lesion measurements recorded."));
    var otherEvents = summary.progression.events.filter(function (e) { return e.kind !== "recist-computed"; });
    if (otherEvents.length) {
      progBody.appendChild(h("ul", { class: "plain events" }, otherEvents.map(function (e) {
        var isPd = e.kind === "new-lesion" || e.kind === "recist-coded" || e.kind === "status-worsened";
        return h("li", { class: isPd ? "pd-text" : null }, (e.date || "undated") + ": " + e.text);
      })));
    }
    progBody.appendChild(h("p", { class: "muted" }, summary.progression.latestPdDate
      ? "Latest progression evidence: " + summary.progression.latestPdDate
      : "No progression evidence in the record."));
    root.appendChild(section("Lesions and progression", progBody));

    // molecular
    var mol = summary.molecular;
    var molBody = h("div");
    if (mol.findings.length) {
      molBody.appendChild(h("ul", { class: "chips" }, mol.findings.map(function (f) {
        return h("li", { class: "chip " + (f.present ? "chip-present" : "chip-absent"), title: f.description || f.label }, f.label);
      })));
    } else molBody.appendChild(none("No molecular results recorded."));
    if (mol.genesTested.length) {
      molBody.appendChild(h("p", { class: "muted" }, "Genes tested: " + mol.genesTested.map(function (g) {
        return g.gene + (g.fusionCapable ? " (RNA/fusion)" : "");
      }).join(", ")));
    }
    root.appendChild(section("Molecular findings", molBody));

    // therapies
    var ther = summary.therapies.concat(summary.localTherapies.map(function (t) {
      return { drug: t.description || "local therapy", start: t.date, end: t.date, local: true };
    }));
    root.appendChild(section("Therapies", ther.length
      ? table("Systemic and local therapies", ["Therapy", "From", "To", "Stopped for"], ther.map(function (t) {
        return h("tr", null, h("td", null, t.drug + (t.local ? " (local)" : "")), h("td", null, t.start || "unknown"),
          h("td", null, t.local ? "" : t.end || (t.current ? "ongoing" : "\u2014")), h("td", null, t.stopReason || ""));
      }))
      : none("No systemic or local therapy recorded.")));

    root.appendChild(section("Safety data (drug warnings)", safetyTable(summary.safety || {})));

    if (summary.dataQuality.length) {
      root.appendChild(section("Data-quality notes", h("ul", { class: "plain dq" }, summary.dataQuality.map(function (n) {
        return h("li", null, n.message, h("span", { class: "muted" }, " (" + n.source + ")"));
      }))));
    }
  }

  // the readings W-HTN, W-PREG and W-QT depend on, latest on or before the evaluation date
  // (record_summary.safety, chosen as the rules choose them); "none on file" when absent
  function safetyTable(safety) {
    function row(label, item, value, warn) {
      return h("tr", { "data-safety": label },
        h("th", { scope: "row" }, label),
        h("td", { class: warn ? "warn-text" : null }, item ? value : h("span", { class: "muted" }, "none on file")),
        h("td", null, item ? (item.date || "undated") : "\u2014"),
        h("td", { class: "muted" }, item ? item.source : ""));
    }
    var bp = safety.bloodPressure, preg = safety.pregnancy, lact = safety.lactation;
    var qtc = safety.qtc, k = safety.potassium;
    function num(v) { return v === null || v === undefined ? "?" : fmtNum(v); }
    return table("Safety data the drug warnings depend on", ["Reading", "Latest value", "Date", "Source"], [
      row("Blood pressure", bp, bp ? num(bp.systolic) + "/" + num(bp.diastolic) + " mmHg" : "", false),
      row("Pregnancy status", preg, preg ? (preg.pregnant ? "pregnant" : "not pregnant") : "", preg && preg.pregnant),
      row("Lactation", lact, lact ? (lact.lactating ? "lactating" : "not lactating") : "", lact && lact.lactating),
      row("QTc", qtc, qtc ? fmtNum(qtc.valueMs) + " ms" : "", false),
      row("Potassium", k, k ? fmtNum(k.value) + " " + (k.unit || "") : "", false),
    ], "tbl-safety");
  }

  function uptakeText(u) {
    return { all: "uptake in all lesions", some: "uptake in some lesions", none: "no uptake", unknown: "unknown" }[u] || u;
  }

  // ---------------------------------------------------------------- timeline (inline SVG)

  function toTime(iso) {
    return iso ? Date.parse(iso + "T00:00:00Z") : NaN;
  }

  function renderTimeline(summary) {
    var root = clear($("timeline"));
    var rai = summary.rai.administrations.filter(function (a) { return a.date; });
    var THRESHOLD_MBQ = summary.rai.thresholdMBq;
    var scans = summary.scans.filter(function (x) { return x.date; });
    var sums = summary.lesionSums.filter(function (x) { return x.date; });
    var ther = summary.therapies.filter(function (t) { return t.start; });
    var locals = summary.localTherapies.filter(function (t) { return t.date; });
    var events = summary.progression.events.filter(function (e) { return e.date; });
    var dates = [].concat(
      rai.map(function (a) { return a.date; }), scans.map(function (x) { return x.date; }),
      sums.map(function (x) { return x.date; }), ther.map(function (t) { return t.start; }),
      ther.map(function (t) { return t.end; }), locals.map(function (t) { return t.date; }),
      events.map(function (e) { return e.date; }), summary.diagnoses.map(function (d) { return d.onset; })
    ).filter(Boolean).map(toTime);
    if (!dates.length) {
      root.appendChild(none("No dated events to draw."));
      return;
    }
    var asOf = toTime(summary.asOf);
    var t0 = Math.min.apply(null, dates);
    var t1 = Math.max(asOf, Math.max.apply(null, dates));
    var pad = Math.max((t1 - t0) * 0.03, 20 * 864e5);
    t0 -= pad;
    t1 += pad;

    var W = 760, L = 118, R = 16;
    var x = function (t) { return L + (W - L - R) * (t - t0) / (t1 - t0); };
    var lanes = [];
    var y = 8;
    var svgKids = [];

    // --- lane 1: cumulative therapeutic activity vs 22.2 GBq
    var cumH = 96;
    var cumTop = y;
    var maxCum = Math.max(THRESHOLD_MBQ * 1.3, summary.rai.cumulativeTherapeuticMBq * 1.15);
    var yc = function (mbq) { return cumTop + cumH - cumH * mbq / maxCum; };
    lanes.push(laneLabel("Cumulative RAI", "GBq, therapeutic", cumTop, cumH));
    svgKids.push(s("line", { x1: L, x2: W - R, y1: yc(0), y2: yc(0), class: "axis" }));
    svgKids.push(s("line", { x1: L, x2: W - R, y1: yc(THRESHOLD_MBQ), y2: yc(THRESHOLD_MBQ), class: "threshold", "data-mark": "thr" }));
    svgKids.push(s("text", { x: L + 4, y: yc(THRESHOLD_MBQ) - 4, class: "threshold-label" }, thresholdGbq(THRESHOLD_MBQ) + " (" + fmtNum(THRESHOLD_MBQ / 37) + " mCi): JS-v needs more, with PD"));
    if (rai.length) {
      var pts = [];
      var prev = 0;
      rai.forEach(function (a) {
        var xa = x(toTime(a.date));
        pts.push([xa, yc(prev)]);
        pts.push([xa, yc(a.cumulativeTherapeuticMBq)]);
        prev = a.cumulativeTherapeuticMBq;
      });
      pts.push([x(asOf), yc(prev)]);
      svgKids.push(s("polyline", { points: pts.map(function (p) { return p.join(","); }).join(" "), class: "cum-line", "data-mark": "cum" }));
      rai.forEach(function (a) {
        var therapeutic = a.intent === "therapeutic" && a.counted !== false;
        var xa = x(toTime(a.date));
        var label = a.date + ": " + (a.activityMBq === null ? "unknown activity" : fmtInt(a.activityMBq) + " MBq (" + fmtNum(a.activityMCi) + " mCi)") + ", " + a.intent + raiNote(a) + "; cumulative therapeutic " + fmtInt(a.cumulativeTherapeuticMBq) + " MBq";
        svgKids.push(s("g", { class: "rai-dose" + (therapeutic ? "" : " rai-diagnostic"), "data-mark": therapeutic ? "rai-dose" : "rai-other", tabindex: 0, role: "img", "aria-label": "RAI " + label },
          s("title", null, "RAI " + label),
          s("circle", { cx: xa, cy: therapeutic ? yc(a.cumulativeTherapeuticMBq) : yc(0), r: therapeutic ? 5 : 3.5 }),
          therapeutic && a.activityMCi !== null ? s("text", { x: xa + 7, y: yc(a.cumulativeTherapeuticMBq) - 5, class: "pt-label" }, fmtNum(a.activityMCi, 0) + " mCi") : null));
      });
      // below the line when the total sits near the threshold line, so the two never overlap
      var nearThreshold = Math.abs(yc(prev) - yc(THRESHOLD_MBQ)) < 14;
      svgKids.push(s("text", { x: x(asOf) - 4, y: nearThreshold ? yc(prev) + 13 : yc(prev) - 6, class: "cum-label", "text-anchor": "end" }, (summary.rai.cumulativeComplete === false ? "\u2265 " : "") + (prev / 1000).toFixed(2) + " GBq"));
    }
    y += cumH + 18;

    // --- lane 2: scans
    var scanTop = y;
    var scanH = 26;
    lanes.push(laneLabel("RAI scans", "D diagnostic · P post-therapy", scanTop, scanH));
    svgKids.push(s("line", { x1: L, x2: W - R, y1: scanTop + scanH / 2, y2: scanTop + scanH / 2, class: "lane-line" }));
    scans.forEach(function (sc) {
      var xs = x(toTime(sc.date));
      var label = "Scan " + sc.date + ": " + sc.kind + ", " + uptakeText(sc.uptake) + (sc.tsh !== null ? ", TSH " + fmtNum(sc.tsh) + " mIU/L" : "");
      svgKids.push(s("g", { class: "scan scan-" + sc.uptake, "data-mark": "scan-" + sc.uptake, tabindex: 0, role: "img", "aria-label": label },
        s("title", null, label),
        s("circle", { cx: xs, cy: scanTop + scanH / 2, r: 8 }),
        s("text", { x: xs, y: scanTop + scanH / 2 + 3.5, "text-anchor": "middle", class: "scan-letter" }, sc.kind === "post-therapy" ? "P" : sc.kind === "diagnostic" ? "D" : "?")));
    });
    y += scanH + 14;

    // --- lane 3: lesion sums with the PD point(s)
    var sumTop = y;
    var sumH = 90;
    var maxSum = Math.max.apply(null, sums.map(function (x2) { return x2.sumMm; }).concat([10])) * 1.2;
    var ys = function (mm) { return sumTop + sumH - sumH * mm / maxSum; };
    lanes.push(laneLabel("Lesion sum", "mm, RECIST 1.1", sumTop, sumH));
    svgKids.push(s("line", { x1: L, x2: W - R, y1: ys(0), y2: ys(0), class: "axis" }));
    if (sums.length) {
      svgKids.push(s("polyline", { points: sums.map(function (p) { return x(toTime(p.date)) + "," + ys(p.sumMm); }).join(" "), class: "sum-line", "data-mark": "sum" }));
      var pdBySource = {};
      events.forEach(function (e) { if (e.kind === "recist-computed") pdBySource[e.source] = e; });
      sums.forEach(function (p) {
        var pd = pdBySource[p.source];
        var xp = x(toTime(p.date));
        var label = "Lesion sum " + p.date + ": " + fmtNum(p.sumMm) + " mm" + (pd ? "; RECIST PD (+" + fmtNum(pd.increasePercent) + "% and +" + fmtNum(pd.sumMm - pd.nadirMm) + " mm over the nadir " + fmtNum(pd.nadirMm) + " mm of " + pd.nadirDate + ")" : "");
        svgKids.push(s("g", { class: "sum-pt" + (pd ? " sum-pd" : ""), "data-mark": pd ? "pd" : "sum", tabindex: 0, role: "img", "aria-label": label },
          s("title", null, label),
          s("circle", { cx: xp, cy: ys(p.sumMm), r: pd ? 6 : 3.5 }),
          s("text", { x: xp, y: ys(p.sumMm) - (pd ? 10 : 7), "text-anchor": "middle", class: "pt-label" + (pd ? " pd-label" : "") }, pd ? "PD " + fmtNum(p.sumMm) + " mm" : fmtNum(p.sumMm))));
      });
    }
    events.forEach(function (e) {
      if (e.kind !== "new-lesion" && e.kind !== "recist-coded" && e.kind !== "status-worsened") return;
      var xe = x(toTime(e.date));
      var yb = ys(0);
      svgKids.push(s("g", { class: "pd-coded", "data-mark": "pd-coded", tabindex: 0, role: "img", "aria-label": e.date + ": " + e.text },
        s("title", null, e.date + ": " + e.text),
        s("path", { d: "M" + xe + "," + (yb - 12) + " l6,10 h-12 z" })));
    });
    y += sumH + 16;

    // --- lanes 4+: therapy bars
    var barH = 16;
    var therTop = y;
    var rows = ther.map(function (t) { return { label: t.drug, start: t.start, end: t.end || (t.status === "active" || !t.end ? summary.asOf : t.end), ongoing: !t.end, stop: t.stopReason }; });
    if (!rows.length && !locals.length) {
      lanes.push(laneLabel("Therapy", "none recorded", therTop, barH));
      y += barH + 8;
    }
    rows.forEach(function (r) {
      var x1 = x(toTime(r.start));
      var x2 = Math.max(x(toTime(r.end)), x1 + 3);
      var label = r.label + ": " + r.start + " to " + (r.ongoing ? "ongoing" : r.end) + (r.stop ? ", stopped for " + r.stop : "");
      lanes.push(laneLabel(r.label, null, y, barH));
      svgKids.push(s("g", { class: "therapy" + (r.stop ? " therapy-" + r.stop : ""), "data-mark": r.stop ? "therapy-" + r.stop : "therapy", tabindex: 0, role: "img", "aria-label": label },
        s("title", null, label),
        s("rect", { x: x1, y: y + 2, width: x2 - x1, height: barH - 4, rx: 3 }),
        r.ongoing ? s("path", { "data-mark": "ongoing", d: "M" + x2 + "," + (y + 1) + " l7," + (barH / 2 - 1) + " l-7," + (barH / 2 - 1) + " z" }) : null));
      y += barH + 4;
    });
    if (locals.length) {
      lanes.push(laneLabel("Local therapy", null, y, barH));
      locals.forEach(function (t) {
        var label = "Local therapy " + t.date + (t.description ? ": " + t.description : "");
        svgKids.push(s("g", { class: "local", "data-mark": "local", tabindex: 0, role: "img", "aria-label": label }, s("title", null, label),
          s("rect", { x: x(toTime(t.date)) - 3, y: y + 1, width: 6, height: barH - 2, rx: 1 })));
      });
      y += barH + 4;
    }
    y += 6;

    // --- time axis and evaluation date
    var axisY = y;
    var ticks = yearTicks(t0, t1);
    ticks.forEach(function (t) {
      svgKids.unshift(s("line", { x1: x(t.time), x2: x(t.time), y1: 4, y2: axisY, class: "grid" }));
      svgKids.push(s("text", { x: x(t.time), y: axisY + 14, "text-anchor": "middle", class: "tick" }, t.label));
    });
    svgKids.push(s("line", { x1: x(asOf), x2: x(asOf), y1: 2, y2: axisY, class: "today", "data-mark": "today" }));
    svgKids.push(s("text", { x: x(asOf), y: axisY + 28, "text-anchor": "end", class: "today-label" }, "evaluation date " + summary.asOf + " \u2191"));
    var height = axisY + 34;

    var desc = "Timeline from " + new Date(t0).toISOString().slice(0, 10) + " to " + summary.asOf + ": " +
      rai.length + " radioiodine administrations (cumulative therapeutic " + fmtInt(summary.rai.cumulativeTherapeuticMBq) + " MBq against the " + fmtInt(THRESHOLD_MBQ) + " MBq threshold), " +
      scans.length + " scans, " + sums.length + " lesion sums" +
      (summary.progression.latestPdDate ? ", latest progression " + summary.progression.latestPdDate : "") + ", " + rows.length + " systemic therapies.";
    var svg = s("svg", { viewBox: "0 0 " + W + " " + height, class: "tl-svg", role: "group", "aria-labelledby": "tl-title tl-desc" },
      s("title", { id: "tl-title" }, "Patient timeline"),
      s("desc", { id: "tl-desc" }, desc),
      lanes, svgKids);
    root.appendChild(svg);
    // the legend names every kind of mark this timeline draws (and only those)
    var drawn = {};
    svg.querySelectorAll("[data-mark]").forEach(function (el) { drawn[el.getAttribute("data-mark")] = true; });
    root.appendChild(h("p", { class: "legend", "aria-label": "Timeline legend" },
      LEGEND.filter(function (entry) { return drawn[entry[0]]; }).map(function (entry) {
        var text = entry[0] === "thr"
          ? thresholdGbq(THRESHOLD_MBQ) + " (" + fmtNum(THRESHOLD_MBQ / 37) + " mCi) threshold" : entry[1];
        return legend(entry[0], text);
      })));
  }

  // every mark the timeline can draw (data-mark) and what it means, in reading order
  var LEGEND = [
    ["cum", "cumulative therapeutic RAI"],
    ["thr", "threshold"],  // text with the configured threshold, at render
    ["rai-dose", "therapeutic I-131 dose"],
    ["rai-other", "diagnostic or not-counted dose"],
    ["scan-all", "scan: uptake in all lesions"],
    ["scan-some", "scan: uptake in some"],
    ["scan-none", "scan: no uptake"],
    ["scan-unknown", "scan: uptake not reported"],
    ["sum", "target-lesion sum"],
    ["pd", "RECIST PD (computed)"],
    ["pd-coded", "recorded PD, new lesion or worsened status"],
    ["therapy", "systemic therapy"],
    ["therapy-progression", "stopped for progression"],
    ["therapy-intolerance", "stopped for intolerance"],
    ["ongoing", "ongoing"],
    ["local", "local therapy"],
    ["today", "evaluation date"],
  ];

  function legend(kind, text) {
    return h("span", { class: "lg lg-" + kind, "data-mark": kind }, h("span", { class: "lg-swatch", "aria-hidden": "true" }), text);
  }

  function laneLabel(title, sub, top, height) {
    var mid = top + height / 2;
    return s("g", { class: "lane-label" },
      s("text", { x: 4, y: sub ? mid - 2 : mid + 4, class: "lane-title" }, title.length > 18 ? title.slice(0, 17) + "\u2026" : title),
      sub ? s("text", { x: 4, y: mid + 10, class: "lane-sub" }, sub) : null);
  }

  function yearTicks(t0, t1) {
    var y0 = new Date(t0).getUTCFullYear();
    var y1 = new Date(t1).getUTCFullYear();
    var step = Math.max(1, Math.ceil((y1 - y0 + 1) / 10));
    var out = [];
    for (var yr = y0; yr <= y1 + 1; yr += step) {
      var t = Date.UTC(yr, 0, 1);
      if (t >= t0 && t <= t1) out.push({ time: t, label: String(yr) });
    }
    return out;
  }

  // ---------------------------------------------------------------- flow

  function loadPatient(name) {
    state.drafts = [];
    state.signed = [];
    state.signPending = false;
    state.cards = {};
    clear($("order-cards"));
    renderDrafts();
    if (!name) return;
    say("Loading " + name + "\u2026");
    var cards = $("cards");
    cards.setAttribute("aria-busy", "true");
    getJson(API_BASE + "/patients/" + encodeURIComponent(name)).then(function (patient) {
      state.patient = patient;
      renderRecord(patient.summary);
      renderTimeline(patient.summary);
      $("order-preset").disabled = false;
      $("add-order").disabled = false;
      say("Calling patient-view for " + patient.title + "\u2026");
      return callService(SERVICES.patientView, "patient-view", {});
    }).then(function (response) {
      renderAssessment(response);
      renderCards(cards, response.cards, SERVICES.patientView, "patient-view: no cards for this patient.");
      say("patient-view returned " + response.cards.length + " card(s) for " + state.patient.title + ".");
    }).catch(function (err) {
      cards.setAttribute("aria-busy", "false");
      say(err.message, true);
    });
  }

  function init() {
    $("order-form").addEventListener("submit", addOrder);
    $("sign-orders").addEventListener("click", signOrders);
    $("override-form").addEventListener("submit", submitOverride);
    $("override-cancel").addEventListener("click", function () {
      var card = closeOverride();
      var entry = card && state.cards[card.uuid];
      if (entry) entry.element.querySelector(".dismiss").focus();
    });
    $("override-dialog").addEventListener("cancel", function () { state.overrideFor = null; });
    $("patient-select").addEventListener("change", function (e) { loadPatient(e.target.value); });

    Promise.all([getJson(API_BASE + "/patients"), getJson(CDS_BASE)]).then(function (results) {
      var list = results[0];
      state.discovery = {};
      (results[1].services || []).forEach(function (d) { state.discovery[d.id] = d; });
      $("evaluation-date").textContent = list.evaluationDate;
      $("evaluation-date").setAttribute("datetime", list.evaluationDate);
      var select = clear($("patient-select"));
      select.appendChild(h("option", { value: "" }, "Choose a sample patient\u2026"));
      list.patients.forEach(function (p) { select.appendChild(h("option", { value: p.name }, p.title)); });
      select.disabled = false;
      document.body.setAttribute("data-ready", "true");
      if (list.authRequired) {
        $("auth-note").hidden = false;
      }
      say(list.patients.length + " sample patients; " + Object.keys(state.discovery).length + " CDS services discovered.");
    }).catch(function (err) { say(err.message, true); });
  }

  // exposed for tests and the curious console user; the page does not depend on it
  window.rairDemo = { renderMarkdown: renderMarkdown, state: state };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
