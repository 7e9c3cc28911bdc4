"use strict";
// The SPARQL workbench on /sparql: YASGUI (vendored, /sparql/yasgui/, see its ORIGIN.md) in place of
// the plain form, which stays in the page for readers without JavaScript (GET /sparql?format=table).
//
// Safety rules the page keeps (tests/security/test_pages_safety.py):
//  - a link never runs a query: /sparql#query=… fills the editor and waits for the reader to press
//    Run (YASGUI's own populateFromUrl would run it, so it is off and the page reads the hash itself);
//  - only http(s) IRIs of an answer become links (an answer is data from anyone who could write to
//    the graph, and a javascript:… or data:… link would run when clicked); the registry's own IRIs
//    link to its /id/… pages (w3id.org does not resolve them yet);
//  - nothing leaves this server: no prefix.cc, no Linked Open Vocabularies, no localStorage.
const $ = (id) => document.getElementById(id);
const BASE = "https://w3id.org/acse-kg/";
const ENDPOINT = location.origin + "/sparql";

function href(iri) {
  if (iri.startsWith(BASE)) return "/" + iri.slice(BASE.length);
  return /^https?:\/\//i.test(iri) ? iri : null;
}
function esc(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
// prefix:local with the most specific namespace (gene:ALK rather than id:gene/ALK), as the server's pages do.
function compacter(prefixes) {
  const bySpecificity = Object.entries(prefixes).sort((a, b) => b[1].length - a[1].length);
  return (iri) => {
    for (const [p, ns] of bySpecificity) {
      if (iri.startsWith(ns) && iri.length > ns.length) {
        const local = iri.slice(ns.length);
        if (/^[A-Za-z0-9_][A-Za-z0-9_.\-\/]*$/.test(local) && !local.endsWith(".")) return p + ":" + local;
      }
    }
    return null;
  };
}
const XSD = "http://www.w3.org/2001/XMLSchema#";

function hashParam(name) {
  return new URLSearchParams(location.hash.slice(1)).get(name);
}
function permalink(query) {
  return "/sparql#" + new URLSearchParams({ query }).toString();
}

async function start() {
  if (!window.Yasgui) return;  // the script did not load: the plain form is the page
  const Yasgui = window.Yasgui;
  const Yasqe = Yasgui.Yasqe;
  const Yasr = Yasgui.Yasr;
  const [prefixes, examples] = await Promise.all([
    fetch("/sparql/prefixes").then((r) => r.json()),
    fetch("/sparql/examples").then((r) => r.json()),
  ]);
  const compact = compacter(prefixes);

  // Completion: variables, and the registry's prefixes (typing acse: adds its PREFIX line).
  delete Yasqe.Autocompleters.property;  // both ask lov.linkeddata.es
  delete Yasqe.Autocompleters.class;
  const declarations = Object.entries(prefixes).map(([p, ns]) => `${p}: <${ns}>`).sort();
  Yasqe.registerAutocompleter({ ...Yasqe.Autocompleters.prefixes, get: () => Promise.resolve(declarations) });
  Yasqe.defaults.autocompleters = ["variables", "prefixes"];

  // Result table: prefixed names, plain labels, links only for http(s) IRIs.
  const Table = Yasr.plugins.table;
  Table.prototype.getUriLinkFromBinding = function (binding) {
    const iri = binding.value;
    const shown = compact(iri);
    const link = href(iri);
    const text = shown === null ? "<" + iri + ">" : shown;
    if (link === null) return `<span class="term" title="${esc(iri)}">${esc(text)}</span>`;
    return `<a class="term" href="${esc(link)}" title="${esc(iri)}">${esc(text)}</a>`;
  };
  Table.prototype.formatLiteral = function (binding) {
    const lang = binding["xml:lang"];
    if (lang) return `<span lang="${esc(lang)}">${esc(binding.value)}</span>`;
    const dt = binding.datatype;
    if (dt && dt !== XSD + "string") {
      return `<span title="${esc(compact(dt) || dt)}">${esc(binding.value)}</span>`;
    }
    return esc(binding.value);
  };

  const linked = examples.find((ex) => ex.name === hashParam("example"));
  const shared = hashParam("query");
  const initial = shared !== null ? shared : linked ? linked.query : $("query").value;

  $("form").hidden = true;
  $("tools").hidden = false;
  const yasgui = new Yasgui($("workbench"), {
    requestConfig: { endpoint: ENDPOINT, method: "POST" },
    endpointCatalogueOptions: { getData: () => [{ endpoint: ENDPOINT }], keys: [] },
    copyEndpointOnNewTab: true,
    populateFromUrl: false,  // a shared link would run its query (and could set another endpoint)
    persistenceId: null,
    autofocus: false,
    yasqe: { value: initial },
    yasr: { prefixes: prefixes, defaultPlugin: "table" },
  });
  const editor = () => yasgui.getTab().getYasqe();
  // YASGUI leaves some of its fields without a name a screen reader can say: named here, whenever drawn.
  const names = [
    [".autocomplete", "SPARQL endpoint"],
    [".CodeMirror textarea", "SPARQL query"],
    [".tableSizer", "Rows per page"],
    [".tabsList input", "Tab name"],
  ];
  const name = () => {
    for (const [selector, label] of names) {
      for (const el of $("workbench").querySelectorAll(selector)) {
        if (!el.hasAttribute("aria-label")) el.setAttribute("aria-label", label);
      }
    }
  };
  new MutationObserver(name).observe($("workbench"), { childList: true, subtree: true });
  name();

  for (const [i, ex] of examples.entries()) {
    const o = document.createElement("option");
    o.value = String(i); o.textContent = ex.title || ex.name;
    o.defaultSelected = ex === linked && shared === null;  // the attribute: a form reset keeps it
    $("examples").appendChild(o);
  }
  $("examples").addEventListener("change", (e) => {
    const ex = examples[Number(e.target.value)];
    if (ex) editor().setValue(ex.query);
  });
  const showLink = () => { $("permalink").href = permalink(editor().getValue()); };
  const watch = () => { editor().on("change", showLink); showLink(); };
  watch();
  yasgui.on("tabSelect", () => setTimeout(watch));
  yasgui.on("query", () => {
    $("status").textContent = "running…";
    history.replaceState(null, "", permalink(editor().getValue()).slice("/sparql".length));
  });
  yasgui.on("queryResponse", () => { $("status").textContent = ""; });
  if (shared !== null) $("status").textContent = "a shared query: read it, then press Run (the ▶ button)";
}

start().catch((err) => {
  $("form").hidden = false;
  $("tools").hidden = true;
  $("workbench").replaceChildren();
  const p = document.createElement("p"); p.className = "error";
  p.textContent = "The workbench did not start (" + err + "); the plain form below still works.";
  $("result").appendChild(p);
});
