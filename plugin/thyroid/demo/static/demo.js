/*
 * rair-cds demo page: a tiny stand-in EHR (the entry module; index.html loads it).
 *
 * It calls this server's CDS Hooks endpoints exactly as an EHR would: discovery
 * (GET ../cds-services) to learn each service's prefetch keys, then POST ../cds-services/{id}
 * with hook, hookInstance, context and the prefetch built from the sample patient's Bundle, and
 * POST ../cds-services/{id}/feedback when a card is accepted or dismissed.
 * Plain ES2020 modules, no build step, no libraries, nothing loaded from the network beyond this
 * server; one module per concern:
 * state.js, dom.js, format.js, markdown.js, cds.js, cards.js, orders.js, record.js,
 * timeline.js; this one wires them to the page.
 */
import { API_BASE, CDS_BASE, SERVICES, state } from "./state.js";
import { $, clear, h, say } from "./dom.js";
import { renderMarkdown } from "./markdown.js";
import { callService, getJson } from "./cds.js";
import { closeOverride, renderAssessment, renderCards, submitOverride } from "./cards.js";
import { addOrder, renderDrafts, signOrders } from "./orders.js";
import { renderRecord } from "./record.js";
import { renderTimeline } from "./timeline.js";

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
