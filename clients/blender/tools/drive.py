"""Drives a headless Blender from another program, for the tests and the bench.

    blender -b --factory-startup --python drive.py -- PATH [PATH…]

The PATHs go on sys.path (the add-on's folder and the Python client's). The driver reads JSON
lines on stdin and answers each with one line on stdout, prefixed "@@ ":
    {"id": n, "run": "python code"}          → {"id": n, "ok": true, "value": <the code's `result`>}
    {"id": n, "until": "expression", "timeout": s}
                                             → ticks until the expression is true: its value,
                                               or ok false after `timeout` seconds
    {"id": n, "quit": true}
Between lines it loops as a headless session must: view_layer.update(), then `s.tick()` of
the session the code stored in `s`. The code is the test's own: this is a test tool, never
part of the add-on, and it evaluates nothing that comes from the network.
"""
import json
import queue
import sys
import threading
import time
import traceback

import bpy

sys.path[:0] = sys.argv[sys.argv.index("--") + 1 :] if "--" in sys.argv else []

TICK_WAIT = 0.01  # the session waits this long for events: it wakes at once when one comes
lines = queue.Queue()
names = {"bpy": bpy, "s": None, "time": time, "json": json}


def read_stdin():
    for line in sys.stdin:
        lines.put(line)
    lines.put(None)


def answer(message):
    sys.stdout.write("@@ " + json.dumps(message, default=str) + "\n")
    sys.stdout.flush()


def tick():
    bpy.context.view_layer.update()
    session = names.get("s")
    if session is not None and not session.closed:
        session.tick(TICK_WAIT)
    else:
        time.sleep(TICK_WAIT)


def run(request):
    names.pop("result", None)
    exec(request["run"], names)
    return names.get("result")


def until(request):
    deadline = time.monotonic() + float(request.get("timeout", 10))
    while True:
        value = eval(request["until"], names)
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"not true within {request.get('timeout', 10)} s: {request['until']}")
        tick()


def main():
    threading.Thread(target=read_stdin, daemon=True).start()
    answer({"ready": True})
    while True:
        try:
            line = lines.get_nowait()
        except queue.Empty:
            tick()
            continue
        if line is None:
            break
        request = json.loads(line)
        if request.get("quit"):
            break
        try:
            value = until(request) if "until" in request else run(request)
            answer({"id": request.get("id"), "ok": True, "value": value})
        except Exception as error:
            answer({"id": request.get("id"), "ok": False, "error": f"{type(error).__name__}: {error}", "trace": traceback.format_exc()})
    if names.get("s") is not None:
        names["s"].close()


main()
