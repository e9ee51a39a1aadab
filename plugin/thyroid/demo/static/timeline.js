/* The patient timeline, drawn as inline SVG, with a legend of the marks it drew. */
import { $, clear, h, s } from "./dom.js";
import { fmtInt, fmtNum, raiNote, thresholdGbq, uptakeText } from "./format.js";
import { none } from "./record.js";

// ---------------------------------------------------------------- timeline (inline SVG)

function toTime(iso) {
  return iso ? Date.parse(iso + "T00:00:00Z") : NaN;
}

export function renderTimeline(summary) {
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
  var rows = ther.map(function (t) { return { label: t.drug, start: t.start, end: t.end || summary.asOf, endKnown: !!t.end, ongoing: !!t.current, stop: t.stopReason }; });
  if (!rows.length && !locals.length) {
    lanes.push(laneLabel("Therapy", "none recorded", therTop, barH));
    y += barH + 8;
  }
  rows.forEach(function (r) {
    var x1 = x(toTime(r.start));
    var x2 = Math.max(x(toTime(r.end)), x1 + 3);
    var label = r.label + ": " + r.start + " to " + (r.ongoing ? "ongoing" : r.endKnown ? r.end : "end unknown") + (r.stop ? ", stopped for " + r.stop : "");
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
