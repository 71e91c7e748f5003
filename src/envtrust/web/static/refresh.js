// Refresh parts of a page in place (the overview): fetch the same address and swap the named elements.
(function () {
  "use strict";
  var me = document.currentScript, ids = me.dataset.refresh.split(" "), every = Number(me.dataset.every) * 1000;
  function tick() {
    fetch(window.location.href, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok || r.redirected) { throw new Error(r.status); }
      return r.text();
    }).then(function (html) {
      var doc = new DOMParser().parseFromString(html, "text/html");
      ids.forEach(function (id) {
        var fresh = doc.getElementById(id), old = document.getElementById(id);
        if (fresh && old) { old.innerHTML = fresh.innerHTML; }
      });
      document.body.dataset.refreshed = String(Date.now());
    }).catch(function () { /* keep the last view; the next tick tries again */ });
  }
  setInterval(tick, every);
})();
