// Every page of the portal (issue 15): where the keyboard and the screen reader start, and tables that scroll.
(function () {
  "use strict";

  // After a form comes back with errors, or an action with its message, focus goes there, so that a screen reader
  // reads it and the keyboard continues from it: an error summary first, then the first field in error, then the
  // page's messages (« Réponse enregistrée. »). With an anchor in the address (#question), the view stays on it.
  function focusFirst() {
    var main = document.getElementById("contenu");
    if (!main) {
      return;
    }
    var target =
      main.querySelector("[role=alert]") ||
      main.querySelector("[aria-invalid=true], .fr-input-group--error input, .fr-input-group--error textarea, .fr-select-group--error select, .fr-fieldset--error input") ||
      main.querySelector("[data-messages]");
    if (!target) {
      return;
    }
    if (!target.matches("input, textarea, select, button, a[href]")) {
      target.setAttribute("tabindex", "-1");
    }
    target.focus({ preventScroll: Boolean(window.location.hash) });
  }

  // A table wider than the page scrolls inside its container: the container then takes the keyboard focus (arrows
  // scroll it) and is named after the table's caption (WCAG 2.1.1, axe « scrollable-region-focusable »).
  function markScrollableTables() {
    document.querySelectorAll(".fr-table__container, .ecars-scroll").forEach(function (container) {
      var scrolls = container.scrollWidth > container.clientWidth + 1;
      if (scrolls && !container.hasAttribute("tabindex")) {
        var caption = container.querySelector("caption");
        container.setAttribute("tabindex", "0");
        container.setAttribute("role", "region");
        container.setAttribute("aria-label", "Tableau défilant" + (caption ? " : " + caption.textContent.trim() : ""));
      } else if (!scrolls && container.getAttribute("role") === "region") {
        container.removeAttribute("tabindex");
        container.removeAttribute("role");
        container.removeAttribute("aria-label");
      }
    });
  }

  // After the load: the browser's own move to the address's anchor (#question) comes first.
  if (document.readyState === "complete") {
    focusFirst();
  } else {
    window.addEventListener("load", function () {
      window.requestAnimationFrame(focusFirst);
    });
  }
  markScrollableTables();
  var pending = false;
  window.addEventListener("resize", function () {
    if (!pending) {
      pending = true;
      window.requestAnimationFrame(function () {
        pending = false;
        markScrollableTables();
      });
    }
  });
})();
