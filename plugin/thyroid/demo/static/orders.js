/* Draft orders: presets, the draft list, order-select on adding and order-sign on signing. */
import { SERVICES, state, USER_ID } from "./state.js";
import { $, clear, h, say, uuid } from "./dom.js";
import { callService } from "./cds.js";
import { renderCards } from "./cards.js";

// ---------------------------------------------------------------- orders

var SNOMED = "http://snomed.info/sct";
var RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm";
var UCUM = "http://unitsofmeasure.org";

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

export function renderDrafts() {
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

export function addOrder(event) {
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

export function signOrders() {
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
