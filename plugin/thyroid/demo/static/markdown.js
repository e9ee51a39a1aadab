/* A tiny safe markdown renderer for CDS Hooks card detail (every character escaped first). */

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
export function renderMarkdown(source) {
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
