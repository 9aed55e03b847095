#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The dashboard of switchyard-server in a real browser.

  dashboard_browser_test.py --server BIN [--screenshot PNG]

Starts the server on a free loopback port with a fresh data directory and a token, registers two
versions of a model and splits traffic 70/30 between them, sends predictions (and keeps sending
while the browser looks), opens /dashboard in headless Chromium and checks the DOM it dumps: both
versions in the deployments table with their stage and traffic, the page polled more than once,
and the three charts drawn (data-rendered, set by the page once a chart shows points and its
canvas holds painted pixels). Then it drives the page through Chromium's DevTools protocol
(--remote-debugging-pipe) and clicks: "Set traffic" without a token (the page shows the 401),
with the token typed into the page (the split changes, the audit log names the dashboard), and
"Roll back" (the page shows the 409 of a model with no Production version). A second model,
"support", has a version in Production, a candidate in a canary rollout (seed 003's plan) that
also runs as a shadow, and drift windows of 2 s: the page shows the canary's progress with its
Pause, Resume and Abort buttons, the shadow's agreement and the drift of each text feature, and
Pause with the token pauses the rollout. Exits 77 (ctest's SKIP_RETURN_CODE) without Chromium, or when the
server was built without Chart.js (after checking that its page says so).
"""
import argparse
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

SKIP = 77
TOKEN = "dashboard-test-token"
CANVASES = ["rate-chart", "latency-chart", "error-chart"]


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


class Dom(html.parser.HTMLParser):
    """The dumped DOM: the body's attributes, canvases, the version rows and the text."""

    def __init__(self):
        super().__init__()
        self.body = {}
        self.canvases = {}
        self.rows = {}      # model id -> the row's cell texts
        self.text = []      # outside <script> and <style>
        self.buttons = []
        self.status = ""
        self._row = None
        self._skip = 0
        self._in = None     # "status" or "button" while inside one

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("script", "style"):
            self._skip += 1
        elif tag == "button":
            self._in = "button"
            self.buttons.append("")
        elif tag == "span" and a.get("id") == "status":
            self._in = "status"
        if tag == "body":
            self.body = a
        elif tag == "canvas":
            self.canvases[a.get("id")] = a
        elif tag == "tr" and "data-model-id" in a:
            self._row = a["data-model-id"]
            self.rows[self._row] = []
        elif tag == "td" and self._row is not None:
            self.rows[self._row].append("")

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1
        elif tag in ("button", "span"):
            self._in = None
        elif tag == "tr":
            self._row = None

    def handle_data(self, data):
        if self._skip:
            return
        self.text.append(data)
        if self._in == "status":
            self.status += data
        elif self._in == "button":
            self.buttons[-1] += data
        if self._row is not None and self.rows[self._row]:
            self.rows[self._row][-1] += data


def request(base, method, path, body=None, token=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


def start_server(server, data):
    proc = subprocess.Popen([server, "--port", "0", "--data", data, "--token", TOKEN,
                             "--threads", "2", "--drift-window", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    port = proc.stdout.readline().strip()
    if not port.isdigit():
        proc.kill()
        fail("the server printed no port: " + proc.stderr.read())
    base = "http://127.0.0.1:" + port
    # The port is printed once the server listens: this connection waits in the listen queue.
    if request(base, "GET", "/health")[0] != 200:
        proc.kill()
        fail("/health did not answer 200")
    return proc, base


class DevTools:
    """A page in headless Chromium driven over --remote-debugging-pipe (NUL-separated JSON on
    file descriptors 3 and 4): no WebSocket library needed."""

    def __init__(self, browser, profile, url):
        to_chrome_r, self._out = os.pipe()
        self._in, from_chrome_w = os.pipe()
        os.set_inheritable(to_chrome_r, True)
        os.set_inheritable(from_chrome_w, True)

        def pipes():  # in the child: Chromium reads commands on fd 3 and answers on fd 4
            os.dup2(to_chrome_r, 3)
            os.dup2(from_chrome_w, 4)

        self.proc = subprocess.Popen(
            [browser, "--headless", "--disable-gpu", "--no-sandbox", "--disable-dev-shm-usage",
             "--no-first-run", "--user-data-dir=" + profile, "--remote-debugging-pipe",
             "about:blank"], preexec_fn=pipes, close_fds=False,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buffer = b""
        self._id = 0
        self._session = None
        target = self.send("Target.createTarget", {"url": url})["targetId"]
        self._session = self.send("Target.attachToTarget",
                                  {"targetId": target, "flatten": True})["sessionId"]

    def send(self, method, params=None, errors=None):
        self._id += 1
        message = {"id": self._id, "method": method, "params": params or {}}
        if self._session and not method.startswith(("Target.", "Browser.")):
            message["sessionId"] = self._session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self._buffer:
                chunk = os.read(self._in, 1 << 16)
                if not chunk:
                    fail(f"Chromium closed the DevTools pipe during {method}")
                self._buffer += chunk
            raw, self._buffer = self._buffer.split(b"\0", 1)
            answer = json.loads(raw)
            if answer.get("id") == self._id:
                if "error" in answer:
                    if errors is not None:
                        errors.append(answer["error"])
                        return None
                    fail(f"DevTools {method}: {answer['error']}")
                return answer["result"]

    def eval(self, expression):
        result = self.send("Runtime.evaluate", {"expression": expression, "awaitPromise": True,
                                                "returnByValue": True})
        if "exceptionDetails" in result:
            fail(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression, what, timeout=30):
        """Waits in the page until `expression` is truthy: checked at once and again on every
        change of the document (a MutationObserver), so the wait ends on the page's own event;
        `timeout` is only the deadline."""
        script = (
            "new Promise(resolve => {"
            f" const check = () => {{ try {{ return ({expression}); }} catch (e) {{ return null; }} }};"
            " const now = check();"
            " if (now) { resolve(now); return; }"
            " let timer = null;"
            " const observer = new MutationObserver(() => {"
            "   const value = check();"
            "   if (value) { observer.disconnect(); clearTimeout(timer); resolve(value); } });"
            " observer.observe(document, {subtree: true, childList: true, attributes: true,"
            "                             characterData: true});"
            f" timer = setTimeout(() => {{ observer.disconnect(); resolve(null); }}, {int(timeout * 1000)});"
            "})")
        # The document a wait started on can be replaced (the page still loading, a reload): the
        # promise then dies with its context, and the wait starts over on the new document.
        for _ in range(5):
            errors = []
            result = self.send("Runtime.evaluate", {"expression": script, "awaitPromise": True,
                                                    "returnByValue": True}, errors)
            if result is None and "context was destroyed" in str(errors):
                continue
            if result is None:
                fail(f"DevTools Runtime.evaluate: {errors}")
            if "exceptionDetails" in result:
                fail(f"waiting for {what}: {result['exceptionDetails']}")
            value = result["result"].get("value")
            if not value:
                fail(f"timed out waiting for {what}")
            return value
        fail(f"the page was replaced five times while waiting for {what}")

    def close(self):
        try:
            self.send("Browser.close")
        finally:
            os.close(self._out)
            os.close(self._in)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def click_buttons(browser, base, work, ids):
    """Promote and rollback through the page's buttons, as a user would."""
    result = "document.getElementById('action-result').textContent"
    row = "document.querySelector('tr[data-model-id=\"%s\"]')" % ids["1.1.0"]
    set_traffic = ("(function () { var r = %s; r.querySelector('input.pct').value = '%%s';"
                   " r.querySelectorAll('button')[0].click(); return true; })()" % row)
    with tempfile.TemporaryDirectory() as profile:
        page = DevTools(browser, profile, base + "/dashboard")
        try:
            page.wait_for(row + " !== null", "the deployments table")
            page.eval(set_traffic % "0")
            said = page.wait_for(f"/: (done|[0-9]{{3}})/.test({result}) && {result}",
                                 "the answer to a call without a token")
            if "401" not in said:
                fail(f"without a token the page says: {said}")
            page.eval("document.getElementById('token').value = %s" % json.dumps(TOKEN))
            page.eval("document.getElementById('action-result').textContent = ''")
            page.eval(set_traffic % "0")
            said = page.wait_for(f"/: (done|[0-9]{{3}})/.test({result}) && {result}",
                                 "the answer to a call with the token")
            if "done" not in said or "0% of traffic" not in said:
                fail(f"with the token the page says: {said}")
            page.wait_for(row + ".cells[4].textContent === '0%'", "the new split in the table")
            if TOKEN in page.eval("document.documentElement.outerHTML"):
                fail("the token is written into the page")
            page.eval("document.getElementById('action-result').textContent = ''")
            page.eval("document.querySelector('h3 button').click()")
            said = page.wait_for(f"/: (done|[0-9]{{3}})/.test({result}) && {result}",
                                 "the answer to a rollback")
            if "409" not in said or "Production" not in said:
                fail(f"a rollback with no Production version says: {said}")
            page.eval("document.getElementById('action-result').textContent = ''")
            page.wait_for("document.querySelector('[data-canary=\"support\"] "
                          "button[data-action=\"pause\"]') !== null", "the canary's buttons")
            page.eval("document.querySelector('[data-canary=\"support\"] "
                      "button[data-action=\"pause\"]').click()")
            said = page.wait_for(f"/: (done|[0-9]{{3}})/.test({result}) && {result}",
                                 "the answer to Pause")
            if "done (the rollout is paused)" not in said:
                fail(f"Pause of the canary says: {said}")
            page.wait_for("document.querySelector('[data-canary=\"support\"]')"
                          ".getAttribute('data-status') === 'paused'", "the paused canary")
        finally:
            page.close()
    status, body, _ = request(base, "GET", "/models")
    split = {m["model_id"]: m["traffic_percent"] for m in json.loads(body)["models"]
             if m["name"] == "sentiment"}
    if split != {ids["1.0.0"]: 70, ids["1.1.0"]: 0}:
        fail(f"after the clicks the split is {split}")
    with open(os.path.join(work, "data", "audit.log"), encoding="utf-8") as f:
        calls = [json.loads(line) for line in f if '"token:dashboard"' in line or
                 '"dashboard"' in line]
    if [(c["actor"], c["status"]) for c in calls] != [("token:dashboard", 401),
                                                      ("token:dashboard", 200),
                                                      ("token:dashboard", 409),
                                                      ("token:dashboard", 200)]:
        fail(f"the audit log's dashboard calls: {calls}")
    status, body, _ = request(base, "GET", "/models/support/canary")
    if json.loads(body)["status"] != "paused":
        fail(f"after Pause the canary is {json.loads(body)['status']}")
    print("ok: the page's buttons: 401 without the token, the split changed with it, "
          "rollback refused with the server's reason, the canary paused")


def check_panels(dom):
    """The canary, shadow and drift panels of "support" in the dumped DOM."""
    canary = re.search(r'<div class="panel" data-canary="support" data-status="running">(.*?)</div>',
                       dom, re.S)
    if not canary:
        fail("no running canary panel for support")
    progress = re.search(r'<progress value="(\d+)" max="8"', canary.group(1))
    summary = re.search(r'data-field="canary-summary">([^<]*)<', canary.group(1))
    if not progress or not summary or "of 8, running, candidate 5% / stable 95%" not in summary.group(1):
        fail(f"the canary panel shows {canary.group(1)[:400]}")
    agreement = re.search(r'<td class="num">support</td><td class="num">2</td>.*?'
                          r'data-field="agreement">([0-9.]+)%</td>', dom, re.S)
    if not agreement:
        fail("the shadow table shows no agreement for support 2.0.0")
    drift = re.search(r'<table data-drift="support">(.*?)</table>', dom, re.S)
    if not drift:
        fail("no drift table for support")
    for feature in ("characters", "words", "unknown_word_share"):
        if not re.search(r'data-feature="%s">(yes|no|unknown)<' % feature, drift.group(1)):
            fail(f"the drift table lacks feature {feature}: {drift.group(1)[:400]}")
    print(f"ok: canary at {summary.group(1).strip()}, shadow agreement {agreement.group(1)}%, "
          "drift of three features")


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--server", required=True)
    p.add_argument("--screenshot")
    args = p.parse_args()
    browser = find_chromium()
    if not browser:
        print("SKIP: no Chromium (Debian package chromium)")
        return SKIP
    with tempfile.TemporaryDirectory() as work:
        proc, base = start_server(args.server, os.path.join(work, "data"))
        try:
            return check(browser, base, work, args.screenshot)
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def register(base, name, versions):
    """Registers `versions` of model `name`; their model ids by version."""
    ids = {}
    for version in versions:
        status, body, _ = request(base, "POST", "/models", {"name": name, "version": version},
                                  TOKEN)
        if status != 201:
            fail(f"register {name} {version}: {status} {body!r}")
        ids[version] = json.loads(body)["model_id"]
    return ids


def check(browser, base, work, screenshot):
    status, page, headers = request(base, "GET", "/dashboard")
    if status != 200 or not headers.get("Content-Type", "").startswith("text/html"):
        fail(f"GET /dashboard: {status} {headers.get('Content-Type')}")
    if "default-src 'none'" not in headers.get("Content-Security-Policy", ""):
        fail("GET /dashboard has no strict Content-Security-Policy")
    charts = b'<body data-charts="available"' in page
    ids = register(base, "sentiment", ("1.0.0", "1.1.0"))
    for version, percent in (("1.0.0", 70), ("1.1.0", 30)):
        status, body, _ = request(base, "POST", f"/models/{ids[version]}/activate",
                                  {"traffic_percent": percent}, TOKEN)
        if status != 200:
            fail(f"activate {version}: {status} {body!r}")
    # "support": 1.0.0 in Production with all the traffic, 2.0.0 its shadow and canary.
    support = register(base, "support", ("1.0.0", "2.0.0"))
    for path, body in ((f"/models/{support['1.0.0']}/transition", {"stage": "Staging"}),
                       (f"/models/{support['1.0.0']}/transition", {"stage": "Production"}),
                       (f"/models/{support['1.0.0']}/activate", {"traffic_percent": 100}),
                       (f"/models/{support['2.0.0']}/transition", {"stage": "Staging"}),
                       ("/models/support/shadows", {"version": "2.0.0", "share": 1}),
                       ("/models/support/canary", {"candidate": "2.0.0"})):
        status, answer, _ = request(base, "POST", path, body, TOKEN)
        if status not in (200, 201):
            fail(f"POST {path}: {status} {answer!r}")
    texts = ["a wonderful film", "dull and far too long", "great acting", "a waste of time"]
    for i in range(40):
        for model in ("sentiment", "support"):
            if request(base, "POST", "/predict",
                       {"text": texts[i % len(texts)], "model": model})[0] != 200:
                fail("a prediction failed")

    # Predictions keep arriving while the page polls, so its rates are not all zero. The same
    # thread watches for the first drift window to close (2 s of the server's clock) and says so.
    stop = threading.Event()
    window_closed = threading.Event()

    def traffic():
        i = 0
        while not stop.is_set():
            request(base, "POST", "/predict",
                    {"text": texts[i % len(texts)], "key": str(i),
                     "model": ("sentiment", "support")[i % 2]})
            i += 1
            if not window_closed.is_set() and json.loads(
                    request(base, "GET", "/models/support/drift")[1])["report"] is not None:
                window_closed.set()
            stop.wait(0.01)  # pacing, about 100 requests a second; returns at once on stop

    sender = threading.Thread(target=traffic, daemon=True)
    sender.start()
    try:
        # A drift window must close before the page can show one.
        if not window_closed.wait(60):
            fail("no drift window closed within 60 s")
        with tempfile.TemporaryDirectory() as profile:
            common = [browser, "--headless", "--disable-gpu", "--no-sandbox",
                      "--disable-dev-shm-usage", "--no-first-run", "--user-data-dir=" + profile,
                      "--virtual-time-budget=9000", "--window-size=1300,1900"]
            # A browser that fails to start on a busy machine gets one more try.
            for attempt in (1, 2):
                run = subprocess.run(common + ["--dump-dom", base + "/dashboard"],
                                     capture_output=True, text=True, timeout=240)
                if run.returncode == 0 and "<body" in run.stdout:
                    break
                print(f"chromium attempt {attempt} exited with {run.returncode}:\n"
                      f"{run.stderr[-4000:]}")
            else:
                fail("chromium did not dump the page")
            if screenshot:
                shot = subprocess.run(common + ["--screenshot=" + os.path.abspath(screenshot),
                                                "--hide-scrollbars", base + "/dashboard"],
                                      capture_output=True, text=True, timeout=240)
                if shot.returncode != 0 or not os.path.exists(screenshot):
                    print(shot.stderr[-4000:])
                    fail("no screenshot")
    finally:
        stop.set()
        sender.join()

    dom = Dom()
    dom.feed(run.stdout)
    text = " ".join(dom.text)
    if "versions, updated" not in dom.status:
        fail("the page's status line says: " + dom.status)
    if int(dom.body.get("data-polls", "0")) < 2:
        fail(f"the page polled {dom.body.get('data-polls', '0')} times, expected at least 2")
    for version, percent in (("1.0.0", "70%"), ("1.1.0", "30%")):
        row = dom.rows.get(ids[version])
        if row is None:
            fail(f"the deployments table lacks version {version} ({ids[version]})")
        # version, model id, stage, status, traffic, requests, latency, errors, actions
        if row[0] != version or row[2] != "Development" or row[3] != "active" or row[4] != percent:
            fail(f"version {version}'s row shows {row[:5]}")
        if int(row[5]) <= 0:
            fail(f"version {version} shows no requests")
    # Per version "Set traffic" and "Transition", per model "Roll back", per live canary
    # "Pause", "Resume" and "Abort".
    if sorted(set(dom.buttons)) != ["Abort", "Pause", "Resume", "Roll back", "Set traffic",
                                    "Transition"] or \
            dom.buttons.count("Set traffic") != 4 or dom.buttons.count("Roll back") != 2 or \
            dom.buttons.count("Pause") != 1:
        fail(f"the promote, rollback and canary buttons are not as expected: {dom.buttons}")
    check_panels(run.stdout)
    if not charts:
        if "Charts are unavailable" not in text:
            fail("a page without Chart.js does not say the charts are unavailable")
        click_buttons(browser, base, work, ids)
        print("SKIP: the server was built without Chart.js (Debian package libjs-chart.js); "
              "its tables and buttons were checked")
        return SKIP
    for c in CANVASES:
        if dom.canvases.get(c, {}).get("data-rendered") != "true":
            fail(f"chart {c} was not drawn (no data-rendered on its canvas)")
    if dom.body.get("data-rendered") != "true":
        fail("the page did not mark itself rendered")
    print(f"ok: Chromium showed both versions and drew {len(CANVASES)} charts after "
          f"{dom.body.get('data-polls')} polls")
    click_buttons(browser, base, work, ids)
    return 0


if __name__ == "__main__":
    sys.exit(main())
