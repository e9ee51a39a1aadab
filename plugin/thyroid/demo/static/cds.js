/*
 * Talking to the CDS Hooks service as an EHR would: JSON over HTTP, prefetch, hook calls, feedback.
 */
import { CDS_BASE, state, USER_ID } from "./state.js";
import { uuid } from "./dom.js";

// ---------------------------------------------------------------- HTTP

export function getJson(url) {
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

export function callService(serviceId, hook, extraContext) {
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

export function sendFeedback(serviceId, item) {
  item.outcomeTimestamp = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
  return postJson(CDS_BASE + "/" + encodeURIComponent(serviceId) + "/feedback", { feedback: [item] });
}
