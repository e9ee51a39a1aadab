/* Number and text formatting shared by the record summary and the timeline. */

export function fmtInt(n) {
  return n === null || n === undefined ? "unknown" : Number(n).toLocaleString("en-US");
}

// why an administration is not counted as the rules see it (to_facts_rai.rai_activity)
export function raiNote(a) {
  if (a.afterEvaluationDate) return " (after the evaluation date; not counted)";
  if (a.intentConflict) return " (coded " + a.recordedIntent + " but of therapeutic size)";
  if (a.sameDayAs) return " (same day as " + a.sameDayAs + "; counted once)";
  return "";
}

export function fmtNum(n, digits) {
  if (n === null || n === undefined) return "unknown";
  return Number(n).toLocaleString("en-US", { maximumFractionDigits: digits === undefined ? 1 : digits });
}

// the JS-v threshold the rules used (thresholds.yaml, via the record summary): never a literal
export function thresholdText(mbq) {
  return fmtInt(mbq) + " MBq (" + fmtNum(mbq / 37) + " mCi)";
}

export function thresholdGbq(mbq) {
  return fmtNum(mbq / 1000, 3) + " GBq";
}

export function uptakeText(u) {
  return { all: "uptake in all lesions", some: "uptake in some lesions", none: "no uptake", unknown: "unknown" }[u] || u;
}
