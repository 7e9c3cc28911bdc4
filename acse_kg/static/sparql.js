"use strict";
const $ = (id) => document.getElementById(id);
let examples = [];
// /sparql#example=<name> (linked from the ontology page) opens that example query.
fetch("/sparql/examples").then(r => r.json()).then(list => {
  examples = list;
  for (const [i, ex] of list.entries()) {
    const o = document.createElement("option");
    o.value = String(i); o.textContent = ex.title || ex.name;
    $("examples").appendChild(o);
  }
  const wanted = new URLSearchParams(location.hash.slice(1)).get("example");
  const i = list.findIndex(ex => ex.name === wanted);
  if (i >= 0) {  // as the page's initial state (defaults), so that a form reset keeps the linked example
    $("examples").options[i + 1].defaultSelected = true;
    $("query").defaultValue = list[i].query;
    $("query").value = list[i].query;
  }
}).catch(() => {});
$("examples").addEventListener("change", (e) => {
  const ex = examples[Number(e.target.value)];
  if (ex) $("query").value = ex.query;
});
// Only http(s) IRIs become links: an answer is data from anyone who could write to the graph,
// and a link to javascript:… (or data:…) would run when clicked.
function href(iri) {
  const base = "https://w3id.org/acse-kg/";
  if (iri.startsWith(base)) return "/" + iri.slice(base.length);
  return /^https?:\/\//i.test(iri) ? iri : null;
}
function cell(term) {
  const td = document.createElement("td");
  if (!term) return td;
  const link = term.type === "uri" ? href(term.value) : null;
  if (link !== null) {
    const a = document.createElement("a");
    a.href = link; a.textContent = term.value; td.appendChild(a);
  } else if (term.type === "uri") {
    td.textContent = "<" + term.value + ">";
  } else {
    td.textContent = term.value + (term["xml:lang"] ? "@" + term["xml:lang"] : "");
  }
  return td;
}
function table(data) {
  const t = document.createElement("table");
  const head = t.insertRow();
  for (const v of data.head.vars) { const th = document.createElement("th"); th.textContent = v; head.appendChild(th); }
  for (const b of data.results.bindings) {
    const row = t.insertRow();
    for (const v of data.head.vars) row.appendChild(cell(b[v]));
  }
  return t;
}
// A query can be shared as a link: /sparql#query=<url-encoded query> fills the box; it runs only
// when the reader presses Run (a link must not make a reader's browser send a query unseen).
function queryFromHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  return params.get("query");
}
$("form").addEventListener("submit", async (e) => {
  e.preventDefault();
  history.replaceState(null, "", "#" + new URLSearchParams({ query: $("query").value }).toString());
  const choice = $("accept").value;
  const accept = choice === "table"
    ? "application/sparql-results+json, text/turtle;q=0.9" : choice;
  const out = $("result"); out.replaceChildren();
  $("status").textContent = "running…";
  const t0 = performance.now();
  try {
    const r = await fetch("/sparql", {
      method: "POST",
      headers: { "Content-Type": "application/sparql-query", "Accept": accept },
      body: $("query").value,
    });
    const text = await r.text();
    const ms = Math.round(performance.now() - t0);
    if (!r.ok) {
      $("status").textContent = r.status + " (" + ms + " ms)";
      const p = document.createElement("p"); p.className = "error"; p.textContent = text; out.appendChild(p);
      return;
    }
    const ctype = r.headers.get("content-type") || "";
    if (choice === "table" && ctype.startsWith("application/sparql-results+json")) {
      const data = JSON.parse(text);
      if ("boolean" in data) {
        const p = document.createElement("p"); p.textContent = "ASK: " + data.boolean; out.appendChild(p);
        $("status").textContent = ms + " ms";
      } else {
        out.appendChild(table(data));
        $("status").textContent = data.results.bindings.length + " rows, " + ms + " ms";
      }
    } else {
      const pre = document.createElement("pre"); pre.textContent = text; out.appendChild(pre);
      $("status").textContent = ms + " ms";
    }
  } catch (err) {
    $("status").textContent = "failed: " + err;
  }
});
const shared = queryFromHash();
if (shared) {
  $("query").value = shared;
  $("status").textContent = "a shared query: read it, then press Run";
}
