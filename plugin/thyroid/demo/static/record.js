/*
 * The record summary: diagnosis, radioiodine, scans, lesions, molecular findings, therapies, safety.
 */
import { state } from "./state.js";
import { $, clear, h } from "./dom.js";
import { fmtInt, fmtNum, raiNote, thresholdText, uptakeText } from "./format.js";

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

export function none(text) {
  return h("p", { class: "none" }, text);
}

export function renderRecord(summary) {
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
