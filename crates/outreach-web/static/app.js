// Outreach: the session-timeout warning (WCAG 2.2.1 "Timing Adjustable").
// The server ends a session after its idle time; shortly before, this dialog
// lets the user extend it with one key press. No inline script: CSP forbids it.
(function () {
  "use strict";
  var body = document.body;
  var total = parseInt(body.getAttribute("data-session-seconds") || "0", 10);
  var warn = parseInt(body.getAttribute("data-warning-seconds") || "0", 10);
  var dialog = document.getElementById("sitzungswarnung");
  if (!total || !dialog) { return; }
  var meta = document.querySelector('meta[name="csrf-token"]');
  var button = document.getElementById("sw-verlaengern");
  var failure = document.getElementById("sw-fehler");
  var warnTimer = null;
  var endTimer = null;
  var lastFocus = null;

  function schedule() {
    clearTimeout(warnTimer);
    clearTimeout(endTimer);
    warnTimer = setTimeout(showWarning, Math.max(0, (total - warn) * 1000));
    // Two seconds after the server's limit, so the server has surely ended it.
    endTimer = setTimeout(function () {
      window.location.href = "/login?abgelaufen=1";
    }, (total + 2) * 1000);
  }

  function showWarning() {
    lastFocus = document.activeElement;
    failure.hidden = true;
    if (typeof dialog.showModal === "function") { dialog.showModal(); } else { dialog.setAttribute("open", ""); }
    button.focus();
  }

  button.addEventListener("click", function () {
    fetch("/sitzung/verlaengern", {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": meta ? meta.content : "" }
    }).then(function (response) {
      if (response.status === 204) {
        dialog.close();
        if (lastFocus && lastFocus.focus) { lastFocus.focus(); }
        schedule();
      } else {
        failure.hidden = false;
      }
    }).catch(function () { failure.hidden = false; });
  });

  // Progress of a background job (import, print files): poll the status and
  // reload the page when the job is done.
  var progress = document.querySelector("[data-status-url]");
  if (progress) {
    var bar = document.getElementById("fortschritt");
    var text = document.getElementById("fortschritt-text");
    var poll = function () {
      fetch(progress.getAttribute("data-status-url"), { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (s) {
          bar.value = s.percent;
          text.textContent = s.text || (s.percent + " % gelesen");
          if (s.running) { setTimeout(poll, 1000); } else { window.location.reload(); }
        })
        .catch(function () { setTimeout(poll, 3000); });
    };
    setTimeout(poll, 500);
  }

  // Focus the error summary, so screen readers announce it after a failed submit.
  var summary = document.getElementById("fehler");
  if (summary) { summary.focus(); }

  schedule();
})();

// Campaign form: the number of selected customers, live, as the selection
// changes (the button "Anzahl anzeigen" does the same without script).
(function () {
  var form = document.querySelector("form[data-preview]");
  var out = document.getElementById("vorschau");
  if (!form || !out) return;
  var timer = null;
  function update() {
    var params = new URLSearchParams();
    ["statuses", "contact_weeks", "contact_weeks_under_25", "postcodes"].forEach(function (name) {
      form.querySelectorAll("[name='" + name + "']").forEach(function (el) {
        if (el.type === "checkbox" && !el.checked) return;
        params.append(name, el.value);
      });
    });
    var url = form.getAttribute("data-preview") + "?" + params.toString();
    fetch(url, { credentials: "same-origin" })
      .then(function (r) {
        if (r.ok) { return r.json(); }
        throw new Error(r.status === 414
          ? "Die Auswahl ist zu lang für die Vorschau (die Adresse hätte mehr als 8.192 Zeichen). Bitte kürzen Sie die Liste der Postleitzahlen."
          : r.status === 422
            ? "Die Auswahl wurde nicht angenommen (ein Feld ist zu lang oder enthält ein unzulässiges Zeichen). „Anzahl anzeigen“ nennt das Feld."
            : "Der Server hat die Vorschau abgelehnt (Status " + r.status + "). „Anzahl anzeigen“ zeigt die Anzahl ohne Vorschau.");
      })
      .then(function (data) { out.textContent = data.text; })
      .catch(function (e) {
        out.textContent = "Keine Vorschau: " + (e && e.message && e.message !== "Failed to fetch"
          ? e.message
          : "Der Server ist gerade nicht erreichbar.");
      });
  }
  form.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(update, 300);
  });
  update();
})();

// The agent's call pages: keep the lease while the page is open, show the
// call's duration, and the shortcuts 1–7 for the attempt's result.
(function () {
  var holder = document.querySelector("[data-renew-url]");
  if (holder) {
    var url = holder.getAttribute("data-renew-url");
    var token = document.querySelector("meta[name=csrf-token]");
    setInterval(function () {
      var body = new URLSearchParams();
      if (token) { body.set("csrf", token.getAttribute("content")); }
      fetch(url, { method: "POST", credentials: "same-origin", body: body });
    }, 120000);
  }
  var timer = document.getElementById("anrufdauer");
  if (timer) {
    var start = parseInt(timer.getAttribute("data-start"), 10) * 1000;
    var tick = function () {
      var s = Math.max(0, Math.floor((Date.now() - start) / 1000));
      timer.textContent = "Dauer " + Math.floor(s / 60) + ":" + ("0" + (s % 60)).slice(-2);
    };
    tick();
    setInterval(tick, 1000);
  }
  var results = document.getElementById("ergebnis-formular");
  if (results) {
    document.addEventListener("keydown", function (e) {
      if (e.altKey || e.ctrlKey || e.metaKey) { return; }
      var target = e.target;
      if (target && target.tagName === "INPUT" && target.type === "text") { return; }
      var choice = results.querySelector("input[data-key='" + e.key + "']");
      if (choice) {
        choice.checked = true;
        choice.focus();
        e.preventDefault();
      }
    });
  }
})();

// The page is ready for the keyboard: the field marked `autofocus` has the
// focus (browsers apply autofocus at a rendering step of their own, which
// can come after the page has loaded), then `data-bereit` is set on the
// document. Keys typed before that could reach the page's body, not the
// field; browser tests wait for the mark instead of for time.
(function () {
  "use strict";
  // A table wider than its box scrolls sideways (WCAG 1.4.10 reflow):
  // keyboard users reach it by Tab to scroll it with the arrow keys (2.1.1),
  // and a screen reader names it by its caption. One that fits is no stop.
  function scrollableTables() {
    var wraps = document.querySelectorAll(".table-wrap");
    for (var i = 0; i < wraps.length; i++) {
      var wrap = wraps[i];
      var caption = wrap.querySelector("caption");
      if (wrap.scrollWidth > wrap.clientWidth + 1) {
        wrap.setAttribute("tabindex", "0");
        wrap.setAttribute("role", "region");
        wrap.setAttribute("aria-label", (caption ? caption.textContent : "Tabelle").trim() +
          " (seitlich scrollbar)");
      } else {
        wrap.removeAttribute("tabindex");
        wrap.removeAttribute("role");
        wrap.removeAttribute("aria-label");
      }
    }
  }
  window.addEventListener("resize", scrollableTables);
  function ready() {
    scrollableTables();
    // The field marked `autofocus`, else the error summary (also on pages
    // without a session, such as the sign-in's, where the timer above
    // doesn't run).
    var first = document.querySelector("[autofocus]") || document.getElementById("fehler");
    if (first && document.activeElement !== first && first.focus) { first.focus(); }
    document.documentElement.setAttribute("data-bereit", "1");
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();

// "Zurück zum Formular" on a refused input: back to the form as it was
// filled in (without script the link leads to the start page).
(function () {
  document.querySelectorAll("a[data-back]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      if (window.history.length > 1) { event.preventDefault(); window.history.back(); }
    });
  });
})();
