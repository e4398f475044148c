// Every page of the portal (issue 15): where the keyboard and the screen reader start, and tables that scroll
// (static/js/pages.js).
(function (ecars) {
  "use strict";

  var main = document.getElementById("contenu");

  // An error summary first, then the first field in error, then the page's messages (« Réponse enregistrée. »).
  function focusFirst() {
    if (main) {
      ecars.focusFirst(main, [
        "[role=alert]",
        "[aria-invalid=true], .fr-input-group--error input, .fr-input-group--error textarea, .fr-select-group--error select, .fr-fieldset--error input",
        "[data-messages]",
      ]);
    }
  }

  ecars.afterLoad(focusFirst);
  ecars.watchScrollable(".fr-table__container, .ecars-scroll");
})(window.ecars);
