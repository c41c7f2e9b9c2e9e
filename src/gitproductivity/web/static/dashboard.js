// Dashboard charts, drawn with the vendored Chart.js from the JSON the server put in #dashboard-data.
(function () {
  "use strict";
  var source = document.getElementById("dashboard-data");
  if (!source || typeof Chart === "undefined") return;
  var data = JSON.parse(source.textContent);
  var palette = ["#3554d1", "#e07b39", "#1b9e77", "#c62f3a", "#7b5cc4", "#2a9fd6", "#a46200", "#5c6b7a"];

  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.plugins.legend.labels.boxWidth = 12;

  function chart(id, config) {
    var canvas = document.getElementById(id);
    if (canvas) new Chart(canvas, config);
  }

  var axes = { x: { grid: { display: false } }, y: { beginAtZero: true, ticks: { precision: 0 } } };

  chart("chart-commits", {
    type: "bar",
    data: { labels: data.labels, datasets: [{ label: "Commits", data: data.commits, backgroundColor: palette[0] }] },
    options: { scales: axes, plugins: { legend: { display: false } } },
  });

  chart("chart-lines", {
    type: "bar",
    data: {
      labels: data.labels,
      datasets: [
        { label: "Lines added", data: data.lines_added, backgroundColor: "#1b7f4b" },
        { label: "Lines deleted", data: data.lines_deleted.map(function (v) { return -v; }), backgroundColor: "#c62f3a" },
      ],
    },
    options: {
      scales: { x: { stacked: true, grid: { display: false } }, y: { stacked: true, ticks: { precision: 0 } } },
      plugins: { tooltip: { callbacks: { label: function (ctx) { return ctx.dataset.label + ": " + Math.abs(ctx.parsed.y); } } } },
    },
  });

  chart("chart-developers", {
    type: "line",
    data: {
      labels: data.labels,
      datasets: data.per_developer.map(function (d, i) {
        return { label: d.name, data: d.commits, borderColor: palette[i % palette.length],
          backgroundColor: palette[i % palette.length], cubicInterpolationMode: "monotone", pointRadius: 2 };
      }),
    },
    options: { scales: axes },
  });

  chart("chart-top", {
    type: "bar",
    data: {
      labels: data.top.map(function (d) { return d.name; }),
      datasets: [{ label: "Commits", data: data.top.map(function (d) { return d.commits; }), backgroundColor: palette[0] }],
    },
    options: { indexAxis: "y", scales: { x: { beginAtZero: true, ticks: { precision: 0 } }, y: { grid: { display: false } } },
      plugins: { legend: { display: false } } },
  });
})();
