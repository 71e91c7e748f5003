// The ledger page's verification: show the job's progress and outcome, polling while it runs.
(function () {
  "use strict";
  var box = document.getElementById("verify-state");
  if (!box) { return; }
  var words = JSON.parse(box.dataset.words);
  function fill(template, r) { return template.replace(/\{(\w+)\}/g, function (_, k) { return r[k] === undefined ? "" : r[k]; }); }
  function show(job) {
    box.className = "";
    if (job.state === "running") {
      box.className = "notice"; box.textContent = words.running + " " + (job.stage || "") + " " + (job.done || "");
    } else if (job.state === "done") {
      var r = job.report, ok = r.ok;
      box.className = ok ? "notice ok" : "error";
      box.textContent = (ok ? words.ok : words.bad) + " " + fill(words.counts, r) + " · " + (job.finished || "");
      if (!ok) {
        var ul = document.createElement("ul");
        (r.problems || []).forEach(function (p) { var li = document.createElement("li"); li.textContent = p; ul.appendChild(li); });
        box.appendChild(ul);
      }
    }
    box.dataset.job = job.state;
    var button = document.getElementById("verify-button");
    if (button) { button.disabled = job.state === "running"; }
    if (job.state === "running") { setTimeout(poll, 1000); }
  }
  function poll() { fetch("/ledger/verify.json").then(function (r) { return r.json(); }).then(show); }
  show(JSON.parse(box.dataset.state));
})();
