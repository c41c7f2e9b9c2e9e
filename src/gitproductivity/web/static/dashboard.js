// The dashboard: searchable pickers, the range picker, and the charts drawn with the vendored Chart.js from the
// JSON the server put in #dashboard-data (every bucket of the range, quiet ones as zeros: a real time axis).
(function () {
  "use strict";

  // Numbers one way everywhere, as the server's `num` filter writes them: 12,345.
  function fmt(value) {
    return String(Math.round(value)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }
  window.gpNumber = fmt;

  // --- pickers: a text field with suggestions (a datalist) and a hidden field with the chosen id ----------------
  function options(list) {
    return Array.prototype.slice.call(list ? list.options : []);
  }

  function pick(input) {
    var hidden = document.getElementById(input.dataset.picker);
    var text = input.value.trim().toLowerCase();
    if (!hidden) return;
    if (!text) { hidden.value = ""; return; }
    var all = options(document.getElementById(input.getAttribute("list")));
    var found = all.filter(function (o) { return o.value.toLowerCase() === text; })[0] ||
      all.filter(function (o) { return o.value.toLowerCase().indexOf(text) >= 0; })[0];
    hidden.value = found ? found.dataset.id : "";
  }

  function fill(list, rows) {
    list.textContent = "";
    rows.forEach(function (row) {
      var option = document.createElement("option");
      option.value = row.label;
      option.dataset.id = row.id;
      list.appendChild(option);
    });
  }

  function remote(input) {
    var list = document.getElementById(input.getAttribute("list"));
    var team = document.getElementById(input.dataset.team || "");
    var timer = null;
    var asked = 0;
    function load() {
      var number = ++asked;
      var url = input.dataset.source + "?q=" + encodeURIComponent(input.value.trim()) +
        "&team_id=" + encodeURIComponent(team ? team.value : "");
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : { options: [] }; })
        .then(function (body) {
          if (number !== asked) return; // an older answer: a newer question is on its way
          fill(list, body.options);
          list.dataset.loaded = input.value.trim() + "|" + (team ? team.value : "");
        });
    }
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(load, 150);
    });
    input.reload = load;
  }

  var pickers = document.querySelectorAll("input[data-picker]");
  Array.prototype.forEach.call(pickers, function (input) {
    if (input.dataset.source) remote(input);
    input.addEventListener("change", function () {
      pick(input);
      // Another team: the developer chosen may not be in it, and the suggestions are that team's people.
      Array.prototype.forEach.call(pickers, function (other) {
        if (other.dataset.team === input.dataset.picker) {
          other.value = "";
          document.getElementById(other.dataset.picker).value = "";
          if (other.reload) other.reload();
        }
      });
    });
    if (input.form) input.form.addEventListener("submit", function () { pick(input); });
  });

  // Typed dates mean "these dates", whatever preset was chosen.
  var range = document.getElementById("f-range");
  ["f-from", "f-to"].forEach(function (id) {
    var field = document.getElementById(id);
    if (field && range) field.addEventListener("change", function () { range.value = "custom"; });
  });

  // --- charts --------------------------------------------------------------------------------------------------
  var source = document.getElementById("dashboard-data");
  if (!source || typeof Chart === "undefined") return;
  var data = JSON.parse(source.textContent);
  var palette = ["#3554d1", "#e07b39", "#1b9e77", "#c62f3a", "#7b5cc4", "#2a9fd6", "#a46200", "#5c6b7a"];
  var rest = "#b8c0cc";

  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.plugins.legend.labels.boxWidth = 12;
  Chart.defaults.plugins.tooltip.callbacks.label = function (ctx) {
    var value = ctx.parsed.y === undefined || ctx.chart.options.indexAxis === "y" ? ctx.parsed.x : ctx.parsed.y;
    return (ctx.dataset.label ? ctx.dataset.label + ": " : "") + fmt(Math.abs(value));
  };

  function chart(id, config) {
    var canvas = document.getElementById(id);
    if (canvas) new Chart(canvas, config);
  }

  // One category per bucket of the range, in order and none left out: the axis is time, evenly.
  var month = data.granularity === "month";
  function timeAxis(stacked) {
    return {
      stacked: stacked,
      grid: { display: false },
      ticks: {
        autoSkip: true,
        maxRotation: 0,
        callback: function (value) {
          var label = this.getLabelForValue(value);
          return month ? label.slice(0, 7) : label;
        },
      },
    };
  }
  function countAxis(stacked) {
    return { stacked: stacked, beginAtZero: true, ticks: { precision: 0, callback: function (v) { return fmt(v); } } };
  }

  chart("chart-commits", {
    type: "bar",
    data: { labels: data.labels, datasets: [{ label: "Commits", data: data.commits, backgroundColor: palette[0] }] },
    options: { scales: { x: timeAxis(false), y: countAxis(false) }, plugins: { legend: { display: false } } },
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
      scales: {
        x: timeAxis(true),
        y: { stacked: true, ticks: { precision: 0, callback: function (v) { return fmt(Math.abs(v)); } } },
      },
    },
  });

  // The top few, and everyone else summed on top of them: readable whatever the team's size.
  chart("chart-developers", {
    type: "bar",
    data: {
      labels: data.labels,
      datasets: data.per_developer.map(function (d, i) {
        var colour = d.rest ? rest : palette[i % palette.length];
        return { label: d.name, data: d.commits, backgroundColor: colour, borderWidth: 0 };
      }),
    },
    options: { scales: { x: timeAxis(true), y: countAxis(true) } },
  });

  chart("chart-top", {
    type: "bar",
    data: {
      labels: data.top.map(function (d) { return d.name; }),
      datasets: [{ label: "Commits", data: data.top.map(function (d) { return d.commits; }), backgroundColor: palette[0] }],
    },
    options: {
      indexAxis: "y",
      scales: { x: countAxis(false), y: { grid: { display: false } } },
      plugins: { legend: { display: false } },
    },
  });
})();
