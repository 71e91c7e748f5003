// The county ranking as a stacked bar chart: per county the confirmed fraud (inspections that found fraud, orders
// whose recheck found the violation continuing, blacklistings) and the interference recorded, with the rate per
// 100 monitoring points on a second axis.  The data are in the page (data-chart).
(function () {
  "use strict";
  var COLORS = { fraud_inspections: "#c62828", continued_orders: "#ef6c00", blacklistings: "#6a1b9a", interference: "#1565c0" };
  var el = document.getElementById("ranking-chart");
  if (!el || typeof Plotly === "undefined") { return; }
  var cfg = JSON.parse(el.getAttribute("data-chart"));
  var x = cfg.counties;  // county codes: categories (xaxis.type), not numbers
  var traces = cfg.series.map(function (s) {
    return { x: x, y: s.values, name: s.name, type: "bar", marker: { color: COLORS[s.key] || "#999" } };
  });
  traces.push({ x: x, y: cfg.rate, name: cfg.rate_name, type: "scatter", mode: "markers+lines", yaxis: "y2",
    line: { color: "#222", dash: "dot" }, marker: { size: 8 } });
  var most = 0;
  x.forEach(function (_, i) {
    most = Math.max(most, cfg.series.reduce(function (sum, s) { return sum + s.values[i]; }, 0));
  });
  Plotly.newPlot(el, traces, {
    barmode: "stack", height: 320, margin: { l: 40, r: 50, t: 10, b: 40 }, legend: { orientation: "h", y: -0.15 },
    xaxis: { type: "category" }, yaxis: { rangemode: "tozero", tickformat: "d", dtick: most <= 10 ? 1 : null },
    yaxis2: { overlaying: "y", side: "right", rangemode: "tozero", showgrid: false },
  }, { displayModeBar: false, responsive: true });
}());
