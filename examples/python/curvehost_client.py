#!/usr/bin/env python3
"""A curvehost client in a few lines: joins, commits files as nodes, prints what happens.

A short tour of the curvehost package (clients/python/curvehost).

    python3 curvehost_client.py alice.invite --commit cube=./cube.bin --listen 5

Each --commit ID=FILE becomes one node, all of them in one commit. The last line printed
is JSON: the seq, and each node's owner, kind, size and SHA-256.

Needs pyzmq and PyNaCl (Debian: apt-get install python3-zmq python3-nacl).
"""
import argparse
import hashlib
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "clients", "python"))

from curvehost import Client, ConnectError, InviteError, ServerError  # noqa: E402


def describe(event):
    if event["type"] == "commit":
        nodes = ", ".join("%s (%d bytes)" % (node["id"], len(node["data"])) for node in event["nodes"])
        return "seq %d: %s committed %s" % (event["seq"], event["from"], nodes)
    if event["type"] in ("rights", "delete"):
        to = " to %s" % event["owner"] if event["type"] == "rights" else ""
        return "seq %d: %s %s %s%s" % (event["seq"], event["from"], event["type"], ", ".join(event["ids"]), to)
    if event["type"] == "presence":
        return "%s is at %s" % (event["from"], json.dumps(event["data"]))
    return json.dumps({key: value for key, value in event.items() if key != "data"})


def commit_files(client, items):
    """Commits ID=FILE items as one commit, all or nothing; returns its seq."""
    entries, datas = [], []
    for item in items:
        node_id, _, path = item.partition("=")
        with open(path, "rb") as file:
            datas.append(file.read())
        entries.append({"id": node_id, "kind": "file"})
    return client.commit(entries, datas)


def listen(client, seconds, expect):
    """Prints events for `seconds`, or until every id in `expect` is a node; returns those missing."""
    deadline = time.monotonic() + seconds
    while True:
        # What arrived while the client waited for its commit comes first: poll() kept it.
        for event in client.poll(min(0.2, max(0.0, deadline - time.monotonic()))):
            print(describe(event), flush=True)
        missing = [node_id for node_id in expect if node_id not in client.replica.nodes]
        if client.lost or (expect and not missing) or time.monotonic() >= deadline:
            return missing


def summary(replica):
    nodes = {node_id: {"owner": node.owner, "kind": node.kind, "size": len(node.data), "sha256": hashlib.sha256(node.data).hexdigest()}
             for node_id, node in sorted(replica.nodes.items())}
    return json.dumps({"seq": replica.seq, "nodes": nodes})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("invite")
    parser.add_argument("--commit", action="append", default=[], metavar="ID=FILE", help="commit a file as a node")
    parser.add_argument("--listen", type=float, default=0, metavar="SECONDS", help="print what happens for this long")
    parser.add_argument("--expect", action="append", default=[], metavar="ID",
                        help="listen until these nodes are there (at most --listen seconds, 30 if not given)")
    args = parser.parse_args()

    try:
        client = Client.from_invite(args.invite)
    except InviteError as error:
        print(error, file=sys.stderr)
        return 2
    try:
        welcome = client.join()
        replica = client.sync()
        print("joined as %s (%s), %d nodes at seq %d" % (welcome["user"], welcome["role"], len(replica.nodes), replica.seq), flush=True)
        if args.commit:
            print("committed %s at seq %d" % (", ".join(item.partition("=")[0] for item in args.commit), commit_files(client, args.commit)), flush=True)
        missing = listen(client, args.listen or (30 if args.expect else 0), args.expect)
        print(summary(replica), flush=True)
        if client.lost:
            print(client.lost, file=sys.stderr)
            return 1
        client.leave()
        if missing:
            print("never saw %s" % ", ".join(missing), file=sys.stderr)
            return 1
        return 0
    except (ConnectError, ServerError, OSError) as error:
        print(error, file=sys.stderr)
        return 1
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main())
