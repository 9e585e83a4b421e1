// Prefills the coaching form's time zone from the browser, when the
// reader has not chosen one. The form works the same without it.
(function () {
  var select = document.getElementById("request-time-zone");
  if (!select || select.value) return;
  var zone;
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch (e) {
    return;
  }
  for (var i = 0; i < select.options.length; i++) {
    if (select.options[i].value === zone) {
      select.value = zone;
      return;
    }
  }
})();
