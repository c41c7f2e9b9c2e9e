// The change-categories chart (partials/categories.html): stacked bars of new work, refactor, rework and help
// to others per bucket, drawn with the vendored Chart.js from the JSON in #categories-data.
(function () {
  "use strict";
  var source = document.getElementById("categories-data");
  var canvas = document.getElementById("chart-categories");
  if (!source || !canvas || typeof Chart === "undefined") return;
  var data = JSON.parse(source.textContent);
  var series = [
    ["new_work", "New work", "#1b7f4b"],
    ["refactor", "Refactor", "#3554d1"],
    ["rework", "Rework", "#e07b39"],
    ["help_others", "Help others", "#7b5cc4"],
  ];
  new Chart(canvas, {
    type: "bar",
    data: {
      labels: data.labels,
      datasets: series.map(function (s) { return { label: s[1], data: data[s[0]], backgroundColor: s[2] }; }),
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      scales: { x: { stacked: true, grid: { display: false } }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
    },
  });
})();
