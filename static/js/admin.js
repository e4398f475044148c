// The admin of e-CARS (issue 15): names for what Django's widgets leave unnamed (axe « aria-input-field-name »,
// « label », « list »), focus and scrolling blocks as on the portal (static/js/pages.js).
(function (ecars) {
  "use strict";

  function labelOf(select) {
    var label = select.id && document.querySelector('label[for="' + select.id + '"]');
    if (label && !label.id) {
      label.id = select.id + "-libelle";
    }
    return label;
  }

  // The autocomplete boxes (select2): a combobox named by its selected value only (empty, it has no name), holding
  // a read-only textbox with no name at all, and a search field without a label. Each is named by its field's label;
  // the combobox by its label then its value.
  function nameAutocomplete(select) {
    var container = select.nextElementSibling;
    var box = container && container.querySelector(".select2-selection");
    var label = labelOf(select);
    if (!box || !label) {
      return;
    }
    var rendered = box.querySelector(".select2-selection__rendered");
    box.setAttribute("aria-labelledby", label.id + (rendered && rendered.id ? " " + rendered.id : ""));
    if (rendered && rendered.getAttribute("role") === "textbox") {
      rendered.setAttribute("aria-labelledby", label.id);
    }
    box.querySelectorAll(".select2-search__field").forEach(function (search) {
      search.setAttribute("aria-labelledby", label.id);
    });
    // A multiple choice's selected values are a list where select2 also puts its clear button (a span): the list is
    // announced as the list of its items only.
    box.querySelectorAll("ul.select2-selection__rendered").forEach(function (list) {
      list.setAttribute("role", "list");
      list.querySelectorAll(":scope > :not(li)").forEach(function (other) {
        other.setAttribute("role", "presentation");
      });
    });
  }

  function nameAutocompletes() {
    document.querySelectorAll("select.admin-autocomplete").forEach(nameAutocomplete);
  }

  // The errors first, then the first field in error, then the messages.
  ecars.afterLoad(function () {
    ecars.focusFirst(document, [
      "#content .errornote, #content .errorlist.nonfield",
      "#content .errors input, #content .errors select, #content .errors textarea, #content [aria-invalid=true]",
      ".messagelist",
    ]);
  });

  var jQuery = window.django && window.django.jQuery;
  if (jQuery) {
    // Django's autocomplete.js builds the boxes when jQuery is ready; this script, deferred, asks after it. select2
    // redraws a box on each choice and builds the dropdown's search field when it opens.
    jQuery(function () {
      nameAutocompletes();
      jQuery(document).on("change select2:open", "select.admin-autocomplete", function () {
        nameAutocomplete(this);
        var label = labelOf(this);
        if (label) {
          jQuery(".select2-container--open .select2-search--dropdown .select2-search__field").attr("aria-labelledby", label.id);
        }
      });
    });
    document.addEventListener("formset:added", function () {
      window.setTimeout(nameAutocompletes, 0);
    });
  }
  ecars.watchScrollable(".results, .inline-group fieldset.module, #content-main .module, #content-main table");
})(window.ecars);
