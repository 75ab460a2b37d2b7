"""The picture of two artists in one scene: docs/two-artists.png, made again by

    npm run build && /usr/bin/python3 scripts/addon/screenshot.py [OUT.png]

A curvehost server with a temporary key store on loopback, two GUI Blenders each under an
Xvfb of its own (xvfb-run), alice (admin) sharing the default scene and bob (member)
joining; each sees the other's view as a frustum and selection as a box (gui_artist.py).
Their window screenshots are put side by side by a headless Blender.
"""
import os
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CLI = os.path.join(ROOT, "dist", "src", "cli", "main.js")
WIDTH, HEIGHT = 1280, 800
# Blender's embedded Python takes its home from the first python3 on PATH: Debian's, with pyzmq and PyNaCl.
ENV = {**os.environ, "PATH": "/usr/bin:" + os.environ.get("PATH", "")}


def free_port_block():
    """A base port P with P..P+3 free on loopback."""
    for base in range(27555, 40000, 4):
        sockets = []
        try:
            for port in range(base, base + 4):
                sock = socket.socket()
                sock.bind(("127.0.0.1", port))
                sockets.append(sock)
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    sys.exit("screenshot: no four free ports on loopback")


def curvehost(*args, cwd):
    subprocess.run(["node", CLI, *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL)


def artist(invite, mode, view, out, ready):
    command = ["xvfb-run", "-a", "-s", f"-screen 0 {WIDTH}x{HEIGHT}x24", "blender", "--factory-startup", "-p", "0", "0", str(WIDTH), str(HEIGHT),
               "--python", os.path.join(HERE, "gui_artist.py"), "--", invite, mode, view, out, ready]
    return subprocess.Popen(command, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


def wait_for(path, process, seconds):
    deadline = time.monotonic() + seconds
    while not os.path.exists(path):
        if process.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"screenshot: {os.path.basename(path)} did not appear: {process.stderr.read().decode()[-2000:] if process.poll() is not None else 'timed out'}")
        time.sleep(0.2)


def main():
    out = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "docs", "two-artists.png"))
    if not os.path.isfile(CLI):
        sys.exit("screenshot: build first (npm run build)")
    with tempfile.TemporaryDirectory(prefix="curvehost-screenshot-") as tmp:
        port = free_port_block()
        curvehost("init", "--keys", "k", cwd=tmp)
        curvehost("invite", "alice", "--host", "127.0.0.1", "--port", str(port), "--role", "admin", "--keys", "k", cwd=tmp)
        curvehost("invite", "bob", "--host", "127.0.0.1", "--port", str(port), "--keys", "k", cwd=tmp)
        server = subprocess.Popen(["node", CLI, "serve", "--keys", "k", "--bind", "127.0.0.1", "--port", str(port), "--no-state"], cwd=tmp,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        children = [server]
        try:
            time.sleep(2)
            invites = os.path.join(tmp, "k", "invites")
            alice = artist(os.path.join(invites, "alice.invite"), "share", "front", os.path.join(tmp, "alice.png"), os.path.join(tmp, "alice.ready"))
            children.append(alice)
            wait_for(os.path.join(tmp, "alice.ready"), alice, 60)
            bob = artist(os.path.join(invites, "bob.invite"), "join", "behind", os.path.join(tmp, "bob.png"), os.path.join(tmp, "bob.ready"))
            children.append(bob)
            for name, process in (("alice", alice), ("bob", bob)):
                wait_for(os.path.join(tmp, f"{name}.png"), process, 90)
                process.wait(timeout=30)
            os.makedirs(os.path.dirname(out), exist_ok=True)
            subprocess.run(["blender", "-b", "--factory-startup", "--python", os.path.join(HERE, "side_by_side.py"), "--",
                            os.path.join(tmp, "alice.png"), os.path.join(tmp, "bob.png"), out], env=ENV, check=True, stdout=subprocess.DEVNULL)
        finally:
            for child in children:
                if child.poll() is None:
                    try:
                        os.killpg(child.pid, 9) if child is not server else child.kill()
                    except ProcessLookupError:
                        pass
    print(f"screenshot: wrote {out}")


main()
