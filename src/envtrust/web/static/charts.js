// Charts of a point's channels: one plot per pollutant from the API's /series columns, with the limit line,
// flagged values marked, alarm periods shaded; real-time and minute charts update themselves every 30 s.
(function () {
  "use strict";
  function localIso(t, offset) { return new Date((t + offset) * 1000).toISOString().slice(0, 19); }
  function parseIsoEpoch(text) { return Date.parse(text) / 1000; }

  // lines break where data are missing: a null after every gap longer than 2.5 typical steps
  function withGaps(data, columns) {
    var t = data.t, steps = [];
    for (var i = 1; i < t.length; i++) { steps.push(t[i] - t[i - 1]); }
    steps.sort(function (p, q) { return p - q; });
    var step = steps.length ? steps[Math.floor(steps.length / 2)] : 0;
    var out = { t: [] };
    columns.forEach(function (c) { out[c] = []; });
    for (var j = 0; j < t.length; j++) {
      if (j > 0 && step > 0 && t[j] - t[j - 1] > 2.5 * step) {
        out.t.push((t[j] + t[j - 1]) / 2);
        columns.forEach(function (c) { out[c].push(null); });
      }
      out.t.push(t[j]);
      columns.forEach(function (c) { out[c].push(data[c][j]); });
    }
    return out;
  }

  function draw(el, cfg, words, code, data) {
    var off = cfg.offset, x = data.t.map(function (t) { return localIso(t, off); });
    var g = withGaps(data, ["avg", "zs", "min", "max"]);
    var gx = g.t.map(function (t) { return localIso(t, off); });
    var unit = cfg.units[code] || "";
    var hasZs = data.zs.some(function (v) { return v !== null; });
    var traces = [];
    if (cfg.kind === "hour" || cfg.kind === "day") {
      if (data.min.some(function (v) { return v !== null; })) {
        traces.push({ x: gx, y: g.min, type: "scatter", mode: "lines", line: { width: 0 }, hoverinfo: "skip", showlegend: false });
        traces.push({ x: gx, y: g.max, type: "scatter", mode: "lines", line: { width: 0 }, fill: "tonexty",
          fillcolor: "rgba(31,119,180,0.15)", hoverinfo: "skip", showlegend: false });
      }
    }
    traces.push({ x: gx, y: g.avg, name: words.value, type: "scattergl", mode: "lines", line: { color: "#1f77b4", width: 1.2 } });
    if (hasZs) {
      traces.push({ x: gx, y: g.zs, name: words.converted, type: "scattergl", mode: "lines", line: { color: "#ff7f0e", width: 1.2 } });
    }
    var fx = [], fy = [], ft = [];
    for (var i = 0; i < data.t.length; i++) {
      var f = data.flag.charAt(i);
      if (f !== "N" && f !== "-") { fx.push(x[i]); fy.push(data.avg[i]); ft.push(f); }
    }
    if (fx.length) {
      traces.push({ x: fx, y: fy, text: ft, name: words.flagged, type: "scattergl", mode: "markers",
        marker: { color: "#d62728", symbol: "x", size: 7 }, hovertemplate: "%{x}<br>%{y} (%{text})<extra></extra>" });
    }
    var shapes = [], a = cfg.start, b = cfg.end;
    var limit = cfg.limits[code];
    if (limit !== undefined) {
      shapes.push({ type: "line", xref: "paper", x0: 0, x1: 1, y0: limit, y1: limit, line: { color: "#d62728", dash: "dash", width: 1.5 } });
      traces.push({ x: [null], y: [null], name: words.limit + " " + limit, mode: "lines", line: { color: "#d62728", dash: "dash" } });
    }
    var marked = false;
    (cfg.alarms || []).forEach(function (al) {
      if (al.pollutant && al.pollutant !== code) { return; }
      var s = Math.max(parseIsoEpoch(al.start), a), e = Math.min(parseIsoEpoch(al.end), b);
      if (!(e > s)) { return; }
      marked = true;
      shapes.push({ type: "rect", xref: "x", yref: "paper", x0: localIso(s, off), x1: localIso(e, off), y0: 0, y1: 1,
        fillcolor: al.category === "tampering" ? "rgba(214,39,40,0.18)" : "rgba(255,165,0,0.18)", line: { width: 0 } });
    });
    if (marked) { traces.push({ x: [null], y: [null], name: words.finding, mode: "markers", marker: { color: "rgba(214,39,40,0.4)", symbol: "square", size: 12 } }); }
    var layout = {
      title: { text: (cfg.labels[code] || code) + (unit ? " (" + unit + ")" : ""), font: { size: 14 }, x: 0 },
      margin: { l: 50, r: 10, t: 30, b: 30 }, height: el.classList.contains("small") ? 220 : 280,
      xaxis: { type: "date", range: [localIso(a, off), localIso(b, off)] }, yaxis: { rangemode: "tozero" },
      shapes: shapes, legend: { orientation: "h", y: -0.15 }, hovermode: "x unified",
    };
    if ((document.documentElement.lang || "").indexOf("zh") === 0) {  // plotly's own month names are English
      layout.xaxis.tickformat = "%m-%d %H:%M";
      layout.xaxis.hoverformat = "%Y-%m-%d %H:%M:%S";
    }
    if (!data.t.length) {
      layout.annotations = [{ text: words.nodata, xref: "paper", yref: "paper", x: 0.5, y: 0.5, showarrow: false }];
    }
    window.Plotly.react(el, traces, layout, { displaylogo: false, responsive: true });
    el.dataset.points = String(data.t.length);
  }

  function load(box) {
    var cfg = JSON.parse(box.dataset.chart), words = JSON.parse(box.dataset.words);
    var now = Math.floor(Date.now() / 1000);
    cfg.end = cfg.live ? now + 60 : cfg.end;
    cfg.start = cfg.end - cfg.span;
    var els = box.querySelectorAll(".chart[data-code]");
    return Promise.all(Array.prototype.map.call(els, function (el) {
      var code = el.dataset.code;
      var url = "/api/v1/points/" + encodeURIComponent(cfg.mn) + "/series?pollutant=" + encodeURIComponent(code) +
        "&kind=" + cfg.kind + "&start=" + new Date(cfg.start * 1000).toISOString() + "&end=" + new Date(cfg.end * 1000).toISOString();
      return fetch(url, { credentials: "same-origin" }).then(function (r) {
        if (!r.ok) { throw new Error(r.status); }
        return r.json();
      }).then(function (data) {
        if (el.querySelector("p")) { el.innerHTML = ""; }
        draw(el, cfg, words, code, data);
      }).catch(function (err) { el.textContent = (cfg.labels[code] || code) + ": " + err; });
    })).then(function () { box.dataset.loaded = String(Date.now()); return cfg; });
  }

  document.querySelectorAll("[data-chart]").forEach(function (box) {
    load(box).then(function (cfg) {
      if (cfg.live) { setInterval(function () { load(box); }, 30000); }
    });
  });
})();
