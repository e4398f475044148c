// What every page of e-CARS does for the keyboard and the screen reader, the portal's (ecars.js) as the admin's
// (admin.js) (issue 15).
window.ecars = window.ecars || {};
(function (ecars) {
  "use strict";

  // After a form comes back with errors, or an action with its message, focus goes to the first element found by
  // `selectors`, tried in order inside `root`: a screen reader reads it and the keyboard goes on from it. With an
  // anchor in the address (#question), the view stays where the browser put it.
  ecars.focusFirst = function (root, selectors) {
    var target = null;
    for (var i = 0; i < selectors.length && !target; i++) {
      target = root.querySelector(selectors[i]);
    }
    if (!target) {
      return;
    }
    if (!target.matches("input, textarea, select, button, a[href]")) {
      target.setAttribute("tabindex", "-1");
    }
    target.focus({ preventScroll: Boolean(window.location.hash) });
  };

  // `focus` runs once the page has loaded, after the browser's own move to the address's anchor (#question on the
  // portal; the admin's #content-start, which stays in the address across a form's redirect, focuses its main block).
  ecars.afterLoad = function (focus) {
    if (document.readyState === "complete") {
      focus();
    } else {
      window.addEventListener("load", function () {
        window.requestAnimationFrame(focus);
      });
    }
  };

  // A block wider than the page scrolls inside itself (WCAG 1.4.10): it then takes the keyboard focus, so that the
  // arrows scroll it, and is named as a region (WCAG 2.1.1, axe « scrollable-region-focusable »): « Tableau
  // défilant » and its table's caption or its section's title. Marked again after each resize: a block that scrolls
  // at 320 px may not at 1,280 px.
  function markScrollable(selector) {
    document.querySelectorAll(selector).forEach(function (block) {
      var scrolls = block.scrollWidth > block.clientWidth + 1;
      var marked = block.hasAttribute("data-ecars-scroll");
      if (scrolls && !marked && !block.hasAttribute("tabindex")) {
        var title = block.querySelector("caption") || (block.closest("fieldset, .module") || block).querySelector("h2, legend");
        block.setAttribute("tabindex", "0");
        // A table or a fieldset keeps its own role (and its own name); a plain block becomes a named region.
        if (block.matches("div, section")) {
          block.setAttribute("role", "region");
          block.setAttribute("aria-label", "Tableau défilant" + (title ? " : " + title.textContent.trim() : ""));
        }
        block.setAttribute("data-ecars-scroll", "");
      } else if (!scrolls && marked) {
        ["tabindex", "role", "aria-label", "data-ecars-scroll"].forEach(function (name) {
          block.removeAttribute(name);
        });
      }
    });
  }

  ecars.watchScrollable = function (selector) {
    markScrollable(selector);
    var pending = false;
    window.addEventListener("resize", function () {
      if (!pending) {
        pending = true;
        window.requestAnimationFrame(function () {
          pending = false;
          markScrollable(selector);
        });
      }
    });
  };
})(window.ecars);
