#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Runs the main demo (examples/model_lifecycle.cpp) and checks its HTML report.

  demo_report_test.py report   --demo BIN --workdir DIR   run the demo, check the report
  demo_report_test.py tables   --demo BIN --workdir DIR   run it without Chart.js: tables only
  demo_report_test.py chromium --workdir DIR [--screenshot PNG]
        open the report of `report` in headless Chromium and check every chart was drawn;
        exits 77 (ctest's SKIP_RETURN_CODE) when Chromium is not installed.
"""
import argparse
import html.parser
import os
import shutil
import subprocess
import sys
import tempfile

CANVASES = ["traffic-split-chart", "error-rate-chart", "drift-chart"]
# The story's events, as the timeline names them.
EVENTS = [
    "v1 Staging -> Production",
    "shadow verdict: PASSED",
    "v2 promoted to Production by the canary",
    "v3 rolled back automatically",
    "drift alert",
    "retraining recommended",
]
SKIP = 77


class Page(html.parser.HTMLParser):
    """Collects the elements a check needs: canvases, scripts, table cells, the body's attributes."""

    def __init__(self):
        super().__init__()
        self.canvases = {}
        self.scripts = 0
        self.body = None
        self.tables = 0
        self.open_tags = []
        self.cells = []
        self._in_cell = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "canvas":
            self.canvases[a.get("id")] = a
        elif tag == "script":
            self.scripts += 1
        elif tag == "body":
            self.body = a
        elif tag == "table":
            self.tables += 1
        elif tag == "td":
            self._in_cell = True
            self.cells.append("")
        if tag in ("html", "head", "body", "table", "details"):
            self.open_tags.append(tag)

    def handle_endtag(self, tag):
        if tag == "td":
            self._in_cell = False
        if tag in ("html", "head", "body", "table", "details"):
            if not self.open_tags or self.open_tags[-1] != tag:
                raise AssertionError(f"</{tag}> closes {self.open_tags[-1:]}")
            self.open_tags.pop()

    def handle_data(self, data):
        if self._in_cell:
            self.cells[-1] += data


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


def report_path(workdir):
    return os.path.join(workdir, "switchyard-demo-report.html")


def run_demo(demo, workdir, extra):
    os.makedirs(workdir, exist_ok=True)
    report = report_path(workdir) if not extra else os.path.join(workdir, "tables-only.html")
    if os.path.exists(report):
        os.remove(report)
    with tempfile.TemporaryDirectory() as registry_dir:
        run = subprocess.run([demo, "--report", report, *extra, registry_dir],
                             capture_output=True, text=True, timeout=240)
    print(run.stdout)
    if run.returncode != 0:
        print(run.stderr)
        fail(f"the demo exited with {run.returncode}")
    for event in EVENTS:
        if event not in run.stdout:
            fail(f"the narrated timeline lacks '{event}'")
    if not os.path.exists(report):
        fail("no report written")
    with open(report, encoding="utf-8") as f:
        text = f.read()
    if not text.startswith("<!DOCTYPE html>") or not text.rstrip().endswith("</html>"):
        fail("the report is not one HTML document")
    page = Page()
    page.feed(text)
    page.close()
    if page.open_tags:
        fail(f"unclosed elements: {page.open_tags}")
    if page.body is None:
        fail("no <body>")
    timeline = " | ".join(page.cells)
    for event in EVENTS:
        if event not in timeline:
            fail(f"the report's tables lack '{event}'")
    # No network: nothing is loaded from elsewhere.
    for needle in ("src=\"http", "href=\"http", "src='http"):
        if needle in text:
            fail(f"the report loads something from the network ({needle})")
    return text, page


def check_report(args):
    text, page = run_demo(args.demo, args.workdir, [])
    if page.body.get("data-charts") == "available":
        for c in CANVASES:
            if c not in page.canvases:
                fail(f"no <canvas id=\"{c}\">")
        if page.scripts != 3:  # Chart.js, the data, the drawing
            fail(f"{page.scripts} <script> elements, expected 3")
        if "Chart.js v" not in text:
            fail("Chart.js is not inlined")
    else:
        print("Chart.js is not installed here (libjs-chart.js): checked the tables-only report")
        if "charts-unavailable" not in text:
            fail("the report does not say that the charts are unavailable")
    print("ok: report", report_path(args.workdir), len(text), "bytes")


def check_tables(args):
    # The missing file's name, which the page shows, carries markup: it must arrive escaped.
    missing = os.path.join(args.workdir, "no-such-<b>chart</b>&.js")
    text, page = run_demo(args.demo, args.workdir, ["--chartjs", missing])
    if page.body.get("data-charts") != "unavailable" or "charts-unavailable" not in text:
        fail("the report does not say that the charts are unavailable")
    if "<b>" in text or "no-such-&lt;b&gt;chart&lt;/b&gt;&amp;.js" not in text:
        fail("the Chart.js path is not escaped in the report")
    if page.canvases or page.scripts:
        fail("a tables-only report has canvases or scripts")
    if page.tables < 7:  # timeline, versions, shadow, audit, one per chart
        fail(f"{page.tables} tables, expected at least 7")
    print("ok: tables-only report")


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def check_chromium(args):
    browser = find_chromium()
    if not browser:
        print("SKIP: no Chromium (Debian package chromium)")
        return SKIP
    report = os.path.abspath(report_path(args.workdir))
    if not os.path.exists(report):
        fail(f"{report} is missing (the demo.report test writes it)")
    with open(report, encoding="utf-8") as f:
        if 'data-charts="available"' not in f.read():
            print("SKIP: the report was written without Chart.js (Debian package libjs-chart.js)")
            return SKIP
    with tempfile.TemporaryDirectory() as profile:
        common = [browser, "--headless", "--disable-gpu", "--no-sandbox", "--disable-dev-shm-usage",
                  "--no-first-run", "--user-data-dir=" + profile, "--virtual-time-budget=10000",
                  "--window-size=1200,2000"]
        # A browser that fails to start on a busy machine gets one more try; a page whose
        # charts were not drawn fails at once.
        for attempt in (1, 2):
            run = subprocess.run(common + ["--dump-dom", "file://" + report],
                                 capture_output=True, text=True, timeout=240)
            if run.returncode == 0 and "<body" in run.stdout:
                break
            print(f"chromium attempt {attempt} exited with {run.returncode}:\n{run.stderr[-4000:]}")
        else:
            fail("chromium did not dump the page")
        page = Page()
        page.feed(run.stdout)
        for c in CANVASES:
            if page.canvases.get(c, {}).get("data-rendered") != "true":
                fail(f"chart {c} was not drawn (no data-rendered on its canvas)")
        if (page.body or {}).get("data-rendered") != "true":
            fail("the page did not mark itself rendered")
        if args.screenshot:
            shot = subprocess.run(common + ["--screenshot=" + os.path.abspath(args.screenshot),
                                            "--hide-scrollbars", "file://" + report],
                                  capture_output=True, text=True, timeout=240)
            if shot.returncode != 0 or not os.path.exists(args.screenshot):
                print(shot.stderr[-4000:])
                fail("no screenshot")
    print("ok: Chromium drew", len(CANVASES), "charts")
    return 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["report", "tables", "chromium"])
    p.add_argument("--demo")
    p.add_argument("--workdir", required=True)
    p.add_argument("--screenshot")
    args = p.parse_args()
    if args.mode == "report":
        check_report(args)
    elif args.mode == "tables":
        check_tables(args)
    else:
        return check_chromium(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
