// The admin of e-CARS: names for what Django's widgets leave unnamed (issue 15, axe « aria-input-field-name »).
(function () {
  "use strict";

  // The autocomplete boxes (select2) are comboboxes named by their selected value only: empty, they have no name.
  // Each is named by its field's label, then its value.
  function nameAutocompletes() {
    document.querySelectorAll("select.admin-autocomplete").forEach(function (select) {
      var container = select.nextElementSibling;
      var box = container && container.querySelector(".select2-selection");
      var label = select.id && document.querySelector('label[for="' + select.id + '"]');
      if (!box || !label) {
        return;
      }
      if (!label.id) {
        label.id = select.id + "-libelle";
      }
      var rendered = box.querySelector(".select2-selection__rendered");
      box.setAttribute("aria-labelledby", label.id + (rendered && rendered.id ? " " + rendered.id : ""));
      var search = box.querySelector(".select2-search__field");
      if (search) {
        search.setAttribute("aria-labelledby", label.id);
      }
    });
  }

  // A multiple choice's selected values are a list whose clear button (a span) select2 puts among the items: the
  // list is announced as a list of its items only (axe « list »).
  function fixMultipleLists() {
    document.querySelectorAll("ul.select2-selection__rendered").forEach(function (list) {
      list.setAttribute("role", "list");
      list.querySelectorAll(":scope > :not(li)").forEach(function (other) {
        other.setAttribute("role", "presentation");
      });
    });
  }

  // A block wider than the page scrolls inside itself: without a control in it, it takes the keyboard focus so that
  // the arrows scroll it (axe « scrollable-region-focusable »).
  function markScrollableBlocks() {
    var blocks = document.querySelectorAll(".results, .inline-group fieldset.module, #content-main .module, #content-main table");
    blocks.forEach(function (block) {
      var scrolls = block.scrollWidth > block.clientWidth + 1;
      var focusable = block.querySelector("a[href], button, input, select, textarea, [tabindex]");
      if (scrolls && !focusable && !block.hasAttribute("tabindex")) {
        block.setAttribute("tabindex", "0");
        block.setAttribute("data-ecars-scroll", "");
      } else if (!scrolls && block.hasAttribute("data-ecars-scroll")) {
        block.removeAttribute("tabindex");
        block.removeAttribute("data-ecars-scroll");
      }
    });
  }

  // After a form comes back with errors, or an action with its message, focus goes there (a screen reader reads it,
  // the keyboard goes on from it): the error note, then the first field in error, then the messages.
  function focusFirst() {
    var target =
      document.querySelector("#content .errornote, #content .errorlist.nonfield") ||
      document.querySelector("#content .errors input, #content .errors select, #content .errors textarea, #content [aria-invalid=true]") ||
      document.querySelector(".messagelist");
    if (!target) {
      return;
    }
    if (!target.matches("input, select, textarea")) {
      target.setAttribute("tabindex", "-1");
    }
    target.focus({ preventScroll: Boolean(window.location.hash) });
  }

  function nameEverything() {
    nameAutocompletes();
    fixMultipleLists();
    markScrollableBlocks();
  }

  if (document.readyState === "complete") {
    nameEverything();
  } else {
    window.addEventListener("load", nameEverything);
  }
  focusFirst();
  var pending = false;
  window.addEventListener("resize", function () {
    if (!pending) {
      pending = true;
      window.requestAnimationFrame(function () {
        pending = false;
        markScrollableBlocks();
      });
    }
  });
  document.addEventListener("select2:select", fixMultipleLists);
  document.addEventListener("formset:added", function () {
    window.setTimeout(nameAutocompletes, 0);
  });
})();
