// The no-contact counter (/no-contact): keeps the day a reader's no contact
// began in this browser only (localStorage) and counts the days by the
// reader's own calendar. The date is never sent anywhere: the form's submit
// is handled here and goes no further. Without JavaScript the form is sent
// once and the server counts (and keeps nothing). The words come from the
// page's data-* attributes (the site's strings).
(function () {
  "use strict";
  var root = document.getElementById("no-contact");
  var form = document.getElementById("nc-form");
  var input = document.getElementById("nc-since");
  if (!root || !form || !input) return;
  var KEY = "kintsugi.noContactSince";
  var words = root.dataset;
  var byId = function (id) {
    return document.getElementById(id);
  };
  var count = byId("nc-count");
  var problem = byId("nc-problem");
  var status = byId("nc-status");
  var forget = byId("nc-forget");
  var lang = document.documentElement.lang || "en";

  var store = {
    get: function () {
      try {
        return window.localStorage.getItem(KEY);
      } catch (e) {
        return null;
      }
    },
    set: function (value) {
      try {
        window.localStorage.setItem(KEY, value);
      } catch (e) {
        /* private mode: counted now, not kept */
      }
    },
    remove: function () {
      try {
        window.localStorage.removeItem(KEY);
      } catch (e) {
        /* nothing kept */
      }
    },
  };

  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }
  function iso(d) {
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate());
  }
  function today() {
    var now = new Date();
    return new Date(now.getFullYear(), now.getMonth(), now.getDate());
  }
  // A local date from YYYY-MM-DD, or null.
  function parse(value) {
    var m = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec((value || "").trim());
    if (!m) return null;
    var d = new Date(+m[1], +m[2] - 1, +m[3]);
    if (d.getFullYear() !== +m[1] || d.getMonth() !== +m[2] - 1 || d.getDate() !== +m[3]) return null;
    if (d.getFullYear() < 1900) return null;
    return d;
  }
  function plural(n, one, other) {
    var form = "other";
    try {
      form = new Intl.PluralRules(lang).select(n);
    } catch (e) {
      form = n === 1 ? "one" : "other";
    }
    return (form === "one" ? one : other).replace("{n}", String(n));
  }
  function longDate(d) {
    try {
      return new Intl.DateTimeFormat(lang, { year: "numeric", month: "long", day: "numeric" }).format(d);
    } catch (e) {
      return iso(d);
    }
  }
  function setText(id, text) {
    var el = byId(id);
    if (el) el.textContent = text;
  }

  function showProblem(text) {
    problem.textContent = text;
    problem.hidden = !text;
    if (text) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
    var described = ["nc-hint-js"];
    if (text) described.push("nc-problem");
    input.setAttribute("aria-describedby", described.join(" "));
  }

  function milestones(days) {
    var items = root.querySelectorAll(".milestone[data-day]");
    var next = null;
    for (var i = 0; i < items.length; i++) {
      var item = items[i];
      var day = +item.getAttribute("data-day");
      var state = "";
      if (days !== null && day <= days) state = "reached";
      else if (days !== null && next === null) {
        state = "next";
        next = day;
      }
      item.classList.toggle("milestone--reached", state === "reached");
      item.classList.toggle("milestone--next", state === "next");
      var label = item.querySelector(".milestone__state");
      if (label) {
        label.textContent = state === "reached" ? "(" + words.reached + ")" : state === "next" ? "(" + words.next + ")" : "";
      }
    }
    return next;
  }

  function show(start) {
    var days = Math.max(0, Math.round((today() - start) / 86400000));
    setText("nc-days", days === 0 ? words.firstDay : plural(days, words.daysOne, words.daysOther));
    setText("nc-since-text", words.since.replace("{date}", longDate(start)));
    var next = milestones(days);
    setText(
      "nc-next",
      next === null ? words.allReached : plural(next - days, words.nextOne, words.nextOther).replace("{day}", String(next)),
    );
    var clock = byId("nc-clock");
    if (clock) clock.remove();
    count.hidden = false;
    forget.hidden = false;
  }

  function check(value) {
    var start = parse(value);
    if (!start) return { problem: words.unreadable };
    if (start > today()) return { problem: words.future };
    return { start: start };
  }

  // This browser keeps the date: say so, and let the field offer no later day than today.
  byId("nc-hint").hidden = true;
  byId("nc-hint-js").hidden = false;
  input.max = iso(today());
  showProblem(problem.hidden ? "" : problem.textContent);

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var checked = check(input.value);
    if (checked.problem) {
      showProblem(checked.problem);
      input.focus();
      return;
    }
    showProblem("");
    store.set(iso(checked.start));
    show(checked.start);
    status.textContent = byId("nc-days").textContent;
  });

  forget.addEventListener("click", function () {
    store.remove();
    input.value = "";
    count.hidden = true;
    forget.hidden = true;
    milestones(null);
    showProblem("");
    status.textContent = words.forgotten;
    input.focus();
  });

  var saved = store.get();
  if (saved) {
    var checked = check(saved);
    if (checked.start) {
      input.value = iso(checked.start);
      show(checked.start);
    } else {
      store.remove();
    }
  }
})();
