// SPDX-License-Identifier: Apache-2.0
// The main demo's HTML report: one self-contained page with the timeline, the figures as tables
// and three Chart.js charts (traffic split, error rate, drift), Chart.js inlined from a local file.
#pragma once

#include <cstddef>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// The one JSON string quoter and number formatter of the library, reused for the charts' data.
#include <switchyard/detail/json_text.hpp>

namespace lifecycle_report {

/// One line of the story's timeline.
struct StoryEvent {
  double hours = 0.0;  ///< simulated hours since the story began
  std::string stamp;   ///< "T+41:02:00"
  std::string phase;   ///< "train", "shadow", "canary v2", ...
  std::string what;
};

/// One line of a chart: (hours, value) points.
struct Series {
  std::string label;
  std::vector<std::pair<double, double>> points;
  bool dashed = false;
  bool stepped = false;
  std::string group{};      ///< lines of one group share a colour (e.g. one version's); empty: own
  bool right_axis = false;  ///< drawn against the chart's second (right) axis
};

/// One chart: a canvas id, a title, axis titles, its lines and optional horizontal rules.
struct Chart {
  std::string id;  ///< the canvas id, e.g. "traffic-split-chart"
  std::string title;
  std::string y_title;
  std::string y2_title;  ///< the right axis, for series with right_axis
  std::string caption;   ///< one paragraph under the chart
  std::vector<Series> series;
  std::optional<double> threshold{};  ///< a dashed horizontal rule (e.g. PSI 0.2)
  std::string threshold_label{};
};

/// A table of text cells: a header row and rows.
struct Table {
  std::string title;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};

/// Everything the page shows.
struct Report {
  std::string title;
  std::string subtitle;
  std::vector<Table> summary;  ///< shown first
  std::vector<Chart> charts;   ///< then the charts, the timeline,
  std::vector<StoryEvent> timeline;
  std::vector<Table> tables;  ///< and these
};

/// `s` with the five characters HTML gives meaning to replaced by entities: safe in text and in
/// quoted attribute values.
inline std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

/// JSON text made safe inside a <script> element: '<', '>' and '&' (which JSON only has inside
/// strings) become \u escapes, so no "</script>" or "<!--" can end or change the element.
inline std::string script_safe_json(std::string_view json) {
  std::string out;
  out.reserve(json.size());
  for (char c : json) {
    switch (c) {
      case '<':
        out += "\\u003c";
        break;
      case '>':
        out += "\\u003e";
        break;
      case '&':
        out += "\\u0026";
        break;
      default:
        out += c;
    }
  }
  return out;
}

/// The charts as one JSON array (labels quoted, numbers in round-trip form).
inline std::string charts_json(const std::vector<Chart>& charts) {
  using switchyard::detail::json_number;
  using switchyard::detail::json_quote;
  std::string out = "[";
  for (std::size_t c = 0; c < charts.size(); ++c) {
    const Chart& chart = charts[c];
    out += c ? "," : "";
    out += "{\"id\":" + json_quote(chart.id) + ",\"title\":" + json_quote(chart.title) +
           ",\"y_title\":" + json_quote(chart.y_title) +
           ",\"y2_title\":" + json_quote(chart.y2_title) + ",\"threshold\":" +
           (chart.threshold ? json_number(*chart.threshold) : std::string("null")) +
           ",\"threshold_label\":" + json_quote(chart.threshold_label) + ",\"series\":[";
    for (std::size_t s = 0; s < chart.series.size(); ++s) {
      const Series& series = chart.series[s];
      out += s ? "," : "";
      out += "{\"label\":" + json_quote(series.label) +
             ",\"group\":" + json_quote(series.group.empty() ? series.label : series.group) +
             ",\"right\":" + (series.right_axis ? "true" : "false") +
             ",\"dashed\":" + (series.dashed ? "true" : "false") +
             ",\"stepped\":" + (series.stepped ? "true" : "false") + ",\"points\":[";
      for (std::size_t p = 0; p < series.points.size(); ++p) {
        out += p ? "," : "";
        out += "[" + json_number(series.points[p].first) + "," +
               json_number(series.points[p].second) + "]";
      }
      out += "]}";
    }
    out += "]}";
  }
  return out + "]";
}

inline void write_table(std::ostringstream& html, const Table& table, std::string_view id = {}) {
  html << "<table";
  if (!id.empty()) html << " id=\"" << html_escape(id) << "\"";
  html << "><thead><tr>";
  for (const auto& h : table.header) html << "<th>" << html_escape(h) << "</th>";
  html << "</tr></thead><tbody>\n";
  for (const auto& row : table.rows) {
    html << "<tr>";
    for (const auto& cell : row) html << "<td>" << html_escape(cell) << "</td>";
    html << "</tr>\n";
  }
  html << "</tbody></table>\n";
}

// The chart points as a table (long form: line, hours, value), for readers without charts.
inline Table data_table(const Chart& chart) {
  Table t{.title = chart.title, .header = {"line", "hours", chart.y_title}, .rows = {}};
  for (const auto& s : chart.series) {
    for (const auto& [x, y] : s.points) {
      char hx[32], vy[32];
      std::snprintf(hx, sizeof hx, "%.2f", x);
      std::snprintf(vy, sizeof vy, "%.4g", y);
      t.rows.push_back({s.label, hx, vy});
    }
  }
  return t;
}

// Draws every chart from the JSON in #chart-data with Chart.js (animation off, so each draws
// while it is built), then marks each canvas and the body data-rendered="true" once the canvas
// holds painted pixels: a headless browser's dumped DOM shows whether the charts were drawn.
inline constexpr std::string_view kDrawScript = R"JS(
(function () {
  var palette = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2',
                 '#17becf'];
  var charts = JSON.parse(document.getElementById('chart-data').textContent);
  var drawn = 0;
  charts.forEach(function (c) {
    var canvas = document.getElementById(c.id);
    if (!canvas || typeof Chart === 'undefined') return;
    var groups = [];
    var datasets = c.series.map(function (s) {
      if (groups.indexOf(s.group) < 0) groups.push(s.group);
      var colour = palette[groups.indexOf(s.group) % palette.length];
      return {
        label: s.label,
        data: s.points.map(function (p) { return {x: p[0], y: p[1]}; }),
        yAxisID: s.right ? 'y2' : 'y',
        borderColor: colour,
        backgroundColor: colour,
        borderDash: s.dashed ? [6, 4] : [],
        stepped: s.stepped,
        pointRadius: 0,
        borderWidth: s.right ? 1 : 2,
        showLine: true
      };
    });
    if (c.threshold !== null) {
      var xs = [];
      c.series.forEach(function (s) { s.points.forEach(function (p) { xs.push(p[0]); }); });
      var lo = Math.min.apply(null, xs), hi = Math.max.apply(null, xs);
      datasets.push({label: c.threshold_label, data: [{x: lo, y: c.threshold}, {x: hi, y: c.threshold}],
                     borderColor: '#555', borderDash: [2, 3], pointRadius: 0, borderWidth: 1,
                     showLine: true});
    }
    var scales = {
      x: {type: 'linear', title: {display: true, text: 'simulated hours since the story began'}},
      y: {beginAtZero: true, title: {display: true, text: c.y_title}}
    };
    if (c.y2_title) {
      scales.y2 = {beginAtZero: true, position: 'right', grid: {drawOnChartArea: false},
                   title: {display: true, text: c.y2_title}};
    }
    var chart = new Chart(canvas.getContext('2d'), {
      type: 'scatter',
      data: {datasets: datasets},
      options: {
        animation: false,
        responsive: false,
        plugins: {title: {display: true, text: c.title}, legend: {position: 'bottom'}},
        scales: scales
      }
    });
    chart.draw();
    var px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    var painted = 0;
    for (var k = 3; k < px.length; k += 4) { if (px[k] !== 0) { painted++; } }
    if (painted > 0) { canvas.setAttribute('data-rendered', 'true'); drawn++; }
  });
  if (drawn === charts.length) document.body.setAttribute('data-rendered', 'true');
})();
)JS";

/// The page. `chartjs` is the text of Chart.js (inlined); nullopt: the page says the charts are
/// unavailable (naming `chartjs_path`) and shows their data as tables only.
inline std::string render(const Report& report, const std::optional<std::string>& chartjs,
                          std::string_view chartjs_path) {
  std::ostringstream html;
  html << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>"
       << html_escape(report.title) << "</title>\n<style>\n"
       << "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}\n"
       << "table{border-collapse:collapse;margin:0.5em 0 1.5em}\n"
       << "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;font-size:0.9em}\n"
       << "th{background:#f3f3f3}\ncanvas{border:1px solid #eee;margin:0.5em 0}\n"
       << "#timeline td:nth-child(-n+2){white-space:nowrap}\n"
       << ".note{background:#fff4e0;border:1px solid #e0b060;padding:0.6em}\n"
       << "</style>\n</head>\n<body data-charts=\"" << (chartjs ? "available" : "unavailable")
       << "\">\n<h1>" << html_escape(report.title) << "</h1>\n<p>" << html_escape(report.subtitle)
       << "</p>\n";

  for (const auto& t : report.summary) {
    html << "<h2>" << html_escape(t.title) << "</h2>\n";
    write_table(html, t);
  }

  html << "<h2>Charts</h2>\n";
  if (!chartjs) {
    html << "<p class=\"note\" id=\"charts-unavailable\">Charts are unavailable: Chart.js was not "
            "found at "
         << html_escape(chartjs_path)
         << " (Debian package libjs-chart.js). The figures follow as tables.</p>\n";
  }
  for (const auto& chart : report.charts) {
    html << "<h3>" << html_escape(chart.title) << "</h3>\n";
    if (chartjs) {
      html << "<canvas id=\"" << html_escape(chart.id)
           << "\" width=\"1000\" height=\"380\"></canvas>\n";
    }
    html << "<p>" << html_escape(chart.caption) << "</p>\n";
    html << "<details" << (chartjs ? "" : " open") << "><summary>Data of this chart</summary>\n";
    write_table(html, data_table(chart));
    html << "</details>\n";
  }

  html << "<h2>Timeline</h2>\n";
  Table timeline{.title = "Timeline", .header = {"time", "phase", "event"}, .rows = {}};
  for (const auto& e : report.timeline) timeline.rows.push_back({e.stamp, e.phase, e.what});
  write_table(html, timeline, "timeline");

  for (const auto& t : report.tables) {
    html << "<h2>" << html_escape(t.title) << "</h2>\n";
    write_table(html, t);
  }

  if (chartjs) {
    // Chart.js is inlined as read; a "</script" inside it would end the element early.
    std::string js = *chartjs;
    for (std::size_t at = js.find("</script"); at != std::string::npos;
         at = js.find("</script", at + 2)) {
      js.replace(at, 2, "<\\/");
    }
    html << "<script>\n" << js << "\n</script>\n";
    html << "<script type=\"application/json\" id=\"chart-data\">"
         << script_safe_json(charts_json(report.charts)) << "</script>\n";
    html << "<script>" << kDrawScript << "</script>\n";
  }
  html << "</body>\n</html>\n";
  return html.str();
}

/// The text of the file at `path`, or nullopt when it cannot be read.
inline std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  if (!in.good() && !in.eof()) return std::nullopt;
  return text.str();
}

}  // namespace lifecycle_report
