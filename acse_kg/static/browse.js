/* acse-kg browsing pages: progressive enhancement only. Every page works without this script
   (plain forms, server-rendered answers); with it, the match form can grow another alteration or
   prior therapy, and the search's filters apply as soon as they are ticked. No network beyond the page's own forms. */
(function () {
  "use strict";

  function renumber(item, index) {
    item.dataset.item = String(index);
    item.querySelectorAll("[name], [id], [for], [aria-describedby]").forEach(function (el) {
      ["name", "id", "for", "aria-describedby"].forEach(function (attr) {
        var v = el.getAttribute(attr);
        if (v) { el.setAttribute(attr, v.replace(/\.\d+\./, "." + index + ".")); }
      });
      if (el.matches("input[type=text], input[type=number]")) { el.value = ""; }
      if (el.matches("input[type=radio]")) { el.checked = el.value === ""; }
      if (el.matches("select")) { el.selectedIndex = 0; }
    });
    var legend = item.querySelector("legend");
    if (legend) { legend.textContent = legend.textContent.replace(/\d+\s*$/, String(index + 1)); }
  }

  function enhanceRepeated(section) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "add-item";
    var items = section.querySelectorAll("fieldset.item");
    var last = items[items.length - 1];
    var name = last.querySelector("legend").textContent.replace(/\s*\d+\s*$/, "").toLowerCase();
    button.textContent = "Add another " + name;
    button.addEventListener("click", function () {
      var all = section.querySelectorAll("fieldset.item");
      var copy = all[all.length - 1].cloneNode(true);
      renumber(copy, all.length);
      all[all.length - 1].after(copy);
      var first = copy.querySelector("input, select");
      if (first) { first.focus(); }
    });
    section.appendChild(button);
  }

  function enhanceFacets(form) {
    form.querySelectorAll(".facet input[type=checkbox]").forEach(function (box) {
      box.addEventListener("change", function () { form.requestSubmit ? form.requestSubmit() : form.submit(); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("#profile-form fieldset.repeated").forEach(enhanceRepeated);
    var search = document.getElementById("search-form");
    if (search) { enhanceFacets(search); }
    document.documentElement.classList.add("js");
  });
})();
