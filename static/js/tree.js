// « Replier le contrat »: fold or unfold every branch of the tree at once.
(function () {
  "use strict";

  var button = document.getElementById("replier-le-contrat");
  var tree = document.getElementById("arbre");
  if (!button || !tree) {
    return;
  }
  button.addEventListener("click", function () {
    var branches = tree.querySelectorAll("details");
    var fold = button.textContent.trim() === button.dataset.labelClose;
    branches.forEach(function (branch, index) {
      // The EJ itself stays open so that its objectives remain visible.
      branch.open = !fold || index === 0;
    });
    button.textContent = fold ? button.dataset.labelOpen : button.dataset.labelClose;
  });
})();
