// « Tableau de bord » of a campaign (templates/admin/evaluation/campaign/dashboard.html): DSFR's stylesheets and
// chart components read their colour theme from `data-fr-theme`, the admin from `data-theme` (« auto » following
// the system's preference). Keep the first in step with the second, and tell the charts when it changes.
(function () {
  "use strict";

  var root = document.documentElement;
  var prefersDark = window.matchMedia("(prefers-color-scheme: dark)");

  function theme() {
    var chosen = root.dataset.theme || "auto";
    return chosen === "dark" || (chosen === "auto" && prefersDark.matches) ? "dark" : "light";
  }

  function apply() {
    var value = theme();
    if (root.getAttribute("data-fr-theme") === value) {
      return;
    }
    root.setAttribute("data-fr-theme", value);
    root.dispatchEvent(new CustomEvent("dsfr.theme", { detail: { theme: value } }));
  }

  apply();
  new MutationObserver(apply).observe(root, { attributes: true, attributeFilter: ["data-theme"] });
  prefersDark.addEventListener("change", apply);
})();
