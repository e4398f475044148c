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

  window.addEventListener("load", nameAutocompletes);
  document.addEventListener("formset:added", function () {
    window.setTimeout(nameAutocompletes, 0);
  });
})();
