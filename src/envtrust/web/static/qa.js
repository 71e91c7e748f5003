// Charts of an analyser's checks: per kind of check the deviations over time with the technical and
// out-of-control limits as lines, and the QAL3 CUSUM sums P and N with the alarm limit h_x.  The data are in the
// page (data-qa), times already in the point's zone.
(function () {
  "use strict";
  var COLORS = { pass: "#2e7d32", adjust: "#ef6c00", fail: "#c62828" };

  function hline(y, color, dash) {
    return { type: "line", xref: "paper", x0: 0, x1: 1, y0: y, y1: y, line: { color: color, dash: dash, width: 1.3 } };
  }

  function legend(name, color, dash) {
    return { x: [null], y: [null], name: name, mode: "lines", line: { color: color, dash: dash } };
  }

  function layout(title, shapes, empty, words, range) {
    var out = {
      title: { text: title, font: { size: 14 }, x: 0 },
      margin: { l: 50, r: 10, t: 30, b: 30 }, height: 240,
      xaxis: { type: "date" }, shapes: shapes, legend: { orientation: "h", y: -0.2 }, hovermode: "closest",
    };
    if (empty) {
      out.xaxis.range = range;  // from the analyser's start to now
      out.annotations = [{ text: words.none, xref: "paper", yref: "paper", x: 0.5, y: 0.5, showarrow: false }];
    }
    return out;
  }

  function drawDeviation(el, c, words) {
    var unit = c.unit ? " (" + c.unit + ")" : "";
    var traces = [{
      x: c.x, y: c.y, text: c.verdict, name: words.deviation, type: "scatter", mode: "lines+markers",
      line: { color: "#1f77b4", width: 1 },
      marker: { size: 8, color: c.cls.map(function (v) { return COLORS[v] || "#1f77b4"; }) },
      hovertemplate: "%{x}<br>%{y}" + unit + " · %{text}<extra></extra>",
    }];
    var shapes = [hline(0, "#999", "dot")];
    [c.technical, -c.technical].forEach(function (y) { shapes.push(hline(y, "#ef6c00", "dash")); });
    traces.push(legend(words.technical + " ±" + c.technical, "#ef6c00", "dash"));
    if (c.ooc !== c.technical) {
      [c.ooc, -c.ooc].forEach(function (y) { shapes.push(hline(y, "#c62828", "solid")); });
      traces.push(legend(words.ooc + " ±" + c.ooc, "#c62828", "solid"));
    }
    var top = Math.max.apply(null, [c.ooc * 1.2].concat(c.y.map(Math.abs)));
    var lay = layout(c.label + " — " + words.deviation + unit, shapes, !c.x.length, words, c.range);
    lay.yaxis = { range: [-top, top] };
    window.Plotly.react(el, traces, lay, { displaylogo: false, responsive: true });
    el.dataset.points = String(c.x.length);
  }

  function drawCusum(el, c, words) {
    var s = c.cusum;
    if (!s) { el.remove(); return; }
    var traces = [
      { x: s.x, y: s.p, name: words.p, type: "scatter", mode: "lines+markers", line: { color: "#1565c0" } },
      { x: s.x, y: s.n, name: words.n, type: "scatter", mode: "lines+markers", line: { color: "#6a1b9a" } },
      legend(words.h_x + " " + s.h_x.toPrecision(3), "#c62828", "dash"),
    ];
    var title = c.label + " — " + words.cusum + (s.drift ? " · " + words.drift : "") + (s.precision ? " · " + words.precision : "");
    var lay = layout(title, [hline(s.h_x, "#c62828", "dash")], !s.x.length, words, c.range);
    lay.yaxis = { rangemode: "tozero", range: [0, Math.max.apply(null, [s.h_x * 1.2].concat(s.p, s.n))] };
    window.Plotly.react(el, traces, lay, { displaylogo: false, responsive: true });
    el.dataset.points = String(s.x.length);
  }

  var box = document.getElementById("qa-charts");
  if (!box || !window.Plotly) { return; }
  var charts = JSON.parse(box.dataset.qa), words = JSON.parse(box.dataset.words);
  charts.forEach(function (c) {
    var dev = document.getElementById("qa-dev-" + c.kind), cus = document.getElementById("qa-cusum-" + c.kind);
    dev.innerHTML = "";
    drawDeviation(dev, c, words);
    drawCusum(cus, c, words);
  });
  box.dataset.drawn = "1";
})();
