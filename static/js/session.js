// « Rafraîchir la session »: warn before the session ends, and extend it without reloading the
// page, so that nothing typed is lost. The server says how many seconds are left
// (data-seconds-left, then each refresh's answer); the idle delay restarts at every request.
(function () {
  "use strict";

  var root = document.getElementById("ecars-session");
  if (!root) {
    return;
  }
  var warningSeconds = parseInt(root.dataset.warningSeconds, 10);
  var refreshUrl = root.dataset.refreshUrl;
  var banner = document.getElementById("ecars-session-banner");
  var message = document.getElementById("ecars-session-message");
  var extendButton = document.getElementById("ecars-session-extend");
  var loginLink = document.getElementById("ecars-session-login");
  var menuForm = document.querySelector("form.ecars-refresh-session");
  var expiresAt = 0;
  var timer = null;

  function csrfToken() {
    var input = document.querySelector("form.ecars-refresh-session input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function minutesText(seconds) {
    var minutes = Math.max(1, Math.ceil(seconds / 60));
    return minutes + (minutes > 1 ? " minutes" : " minute");
  }

  function show(text, expired) {
    message.textContent = text;
    extendButton.hidden = expired;
    loginLink.hidden = !expired;
    banner.hidden = false;
  }

  function tick() {
    var left = Math.round((expiresAt - Date.now()) / 1000);
    if (left <= 0) {
      show("Votre session a expiré. Ce que vous avez saisi reste affiché : copiez-le avant de vous reconnecter.", true);
      return;
    }
    if (left <= warningSeconds) {
      show("Votre session expire dans " + minutesText(left) + ". Prolongez-la pour ne pas perdre votre saisie.", false);
    } else {
      banner.hidden = true;
    }
    timer = window.setTimeout(tick, Math.min(1000 * Math.max(1, left - warningSeconds), 15000));
  }

  function start(secondsLeft) {
    expiresAt = Date.now() + secondsLeft * 1000;
    window.clearTimeout(timer);
    tick();
  }

  function refresh(announce) {
    return window
      .fetch(refreshUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken(), "X-Requested-With": "fetch" },
      })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("refresh refused");
        }
        return response.json();
      })
      .then(function (data) {
        start(data.seconds_left);
        if (announce) {
          message.textContent = "Votre session a été prolongée.";
          extendButton.hidden = true;
          loginLink.hidden = true;
          banner.hidden = false;
          window.setTimeout(function () {
            banner.hidden = true;
          }, 4000);
        }
      })
      .catch(function () {
        show("La session n'a pas pu être prolongée. Ce que vous avez saisi reste affiché : copiez-le avant de vous reconnecter.", true);
      });
  }

  extendButton.addEventListener("click", function () {
    refresh(true);
  });
  if (menuForm) {
    menuForm.addEventListener("submit", function (event) {
      event.preventDefault();
      refresh(true);
    });
  }
  start(parseInt(root.dataset.secondsLeft, 10));
})();
