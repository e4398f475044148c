// « Documents de l'indicateur » without leaving the page: the forms still work without this script
// (each one posts and comes back); with it, they post in the background and the block is replaced,
// so an answer being typed above is never lost. Files can also be dropped onto the upload form.
//
// Both « Ajouter document » forms (a question's documents, the contract's, marked data-documents-chooser)
// also work in the manual's order: pressing the button with no file chosen opens the file chooser, and the
// files chosen there are sent at once, with no second press. Choosing the files first, then pressing the
// button, works as before; without this script the server answers « Choisissez au moins un fichier ».
(function () {
  "use strict";

  var FRAGMENT_HEADER = "X-Ecars-Fragment";

  function block() {
    return document.querySelector("[data-documents-block]");
  }

  function announce(text, isError) {
    var results = block().querySelector("[data-documents-results]");
    results.innerHTML = "";
    var alert = document.createElement("div");
    alert.className = "fr-alert fr-alert--sm fr-mb-1w " + (isError ? "fr-alert--error" : "fr-alert--info");
    var paragraph = document.createElement("p");
    paragraph.textContent = text;
    alert.appendChild(paragraph);
    results.appendChild(alert);
  }

  function focusResults() {
    var results = block().querySelector("[data-documents-results]");
    if (results.children.length) {
      results.setAttribute("tabindex", "-1");
      results.focus();
    }
  }

  function replaceBlock(html) {
    var parsed = new DOMParser().parseFromString(html, "text/html");
    var fresh = parsed.querySelector("[data-documents-block]");
    if (!fresh) {
      return false;
    }
    block().replaceWith(document.importNode(fresh, true));
    focusResults();
    return true;
  }

  function send(form) {
    var buttons = form.querySelectorAll("button[type=submit]");
    buttons.forEach(function (button) {
      button.disabled = true;
    });
    if (form.hasAttribute("data-documents-upload")) {
      announce("Envoi en cours…", false);
    }
    var headers = {};
    headers[FRAGMENT_HEADER] = "documents";
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: headers,
      credentials: "same-origin",
    })
      .then(function (response) {
        return response.text();
      })
      .then(function (html) {
        if (!replaceBlock(html)) {
          // A login page or an error page came back instead of the block.
          announce("L'opération n'a pas abouti (session expirée ou erreur du serveur). Rechargez la page, puis réessayez.", true);
          focusResults();
        }
      })
      .catch(function () {
        announce("La connexion a été interrompue : rien n'a été enregistré pour ces fichiers. Réessayez.", true);
        focusResults();
      })
      .finally(function () {
        buttons.forEach(function (button) {
          button.disabled = false;
        });
      });
  }

  function inBlock(form) {
    return form.closest && form.closest("[data-documents-block]") && window.fetch;
  }

  // The file input of an « Ajouter document » form that has no file chosen yet, if `form` is one.
  function emptyChooser(form) {
    if (!form.hasAttribute || !form.hasAttribute("data-documents-chooser")) {
      return null;
    }
    var input = form.querySelector("input[type=file]");
    return input && !input.files.length ? input : null;
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var input = emptyChooser(form);
    if (input) {
      // Still within the press of the button (a user activation): the browser lets the chooser open.
      // The focus stays on the button, where it comes back when the chooser closes.
      event.preventDefault();
      form.setAttribute("data-documents-choosing", "");
      input.click();
      return;
    }
    if (!inBlock(form)) {
      return;
    }
    event.preventDefault();
    send(form);
  });

  // The files chosen after « Ajouter document » opened the chooser are sent at once.
  document.addEventListener("change", function (event) {
    var input = event.target;
    var form = input.form;
    if (input.type !== "file" || !form || !form.hasAttribute("data-documents-choosing")) {
      return;
    }
    form.removeAttribute("data-documents-choosing");
    if (!input.files.length) {
      return;
    }
    if (inBlock(form)) {
      send(form);
    } else {
      form.submit();
    }
  });

  // The chooser closed without a file: the next choice made from the file input itself waits for the button.
  // (« cancel » does not bubble: listened to on the way down.)
  document.addEventListener(
    "cancel",
    function (event) {
      var form = event.target.form;
      if (event.target.type === "file" && form) {
        form.removeAttribute("data-documents-choosing");
      }
    },
    true
  );

  // Drag and drop onto the upload form: the dropped files go into its chooser and are sent.
  function dropzone(event) {
    return event.target.closest && event.target.closest("[data-documents-upload]");
  }
  ["dragenter", "dragover"].forEach(function (type) {
    document.addEventListener(type, function (event) {
      var zone = dropzone(event);
      if (zone) {
        event.preventDefault();
        zone.classList.add("ecars-dropzone--active");
      }
    });
  });
  document.addEventListener("dragleave", function (event) {
    var zone = dropzone(event);
    if (zone && !zone.contains(event.relatedTarget)) {
      zone.classList.remove("ecars-dropzone--active");
    }
  });
  document.addEventListener("drop", function (event) {
    var zone = dropzone(event);
    if (!zone || !event.dataTransfer || !event.dataTransfer.files.length) {
      return;
    }
    event.preventDefault();
    zone.classList.remove("ecars-dropzone--active");
    zone.querySelector("input[type=file]").files = event.dataTransfer.files;
    send(zone);
  });
})();
