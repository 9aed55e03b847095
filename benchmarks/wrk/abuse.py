#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Abuse for switchyard-server (docs/server.md, "Under abuse"): N malformed or oversized requests
and M abrupt disconnects against a running server, then one clean request, printing the server's
resident memory before and after. Run it while wrk loads POST /predict.

usage: abuse.py PORT PID [--requests 10000] [--disconnects 1000]
"""
import argparse
import json
import socket
import threading
import urllib.request


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


BAD = [
    b'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n{"text": "hi',
    b'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\n[1, 2, 3]',
    b'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n{"text": 5}',
    b'POST /models HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}',
    b'GARBAGE\x00\x01\x02\r\n\r\n',
    b'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n' + b'x' * 65536,
    b'GET /models/%zz/activate HTTP/1.1\r\nHost: x\r\n\r\n',
    b'POST /predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
]


def send_bad(port, count, counts, lock):
    for i in range(count):
        payload = BAD[i % len(BAD)]
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(payload)
                s.shutdown(socket.SHUT_WR)
                reply = s.recv(64)
            status = reply[9:12].decode(errors="replace") if reply.startswith(b"HTTP/1.1") else "none"
        except OSError:
            status = "reset"
        with lock:
            counts[status] = counts.get(status, 0) + 1


def disconnect(port, count):
    for i in range(count):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"te')
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.close()  # RST: an abrupt disconnect mid-request
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("pid", type=int)
    ap.add_argument("--requests", type=int, default=10000)
    ap.add_argument("--disconnects", type=int, default=1000)
    a = ap.parse_args()
    before = rss_kib(a.pid)
    counts, lock, threads = {}, threading.Lock(), []
    for _ in range(4):
        threads.append(threading.Thread(target=send_bad, args=(a.port, a.requests // 4, counts, lock)))
    threads.append(threading.Thread(target=disconnect, args=(a.port, a.disconnects)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    req = urllib.request.Request(f"http://127.0.0.1:{a.port}/predict",
                                 data=json.dumps({"text": "Great product!"}).encode(), method="POST")
    with urllib.request.urlopen(req, timeout=5) as r:
        clean = (r.status, json.loads(r.read())["prediction"])
    after = rss_kib(a.pid)
    print(json.dumps({"answers": counts, "clean_request": clean, "rss_kib_before": before,
                      "rss_kib_after": after}))


if __name__ == "__main__":
    main()
