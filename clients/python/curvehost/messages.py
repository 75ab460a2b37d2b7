"""What the server sends, checked and turned into plain dicts (PROTOCOL.md §3–§7).

Each function takes a whole `wire.Message` and returns what the rest of the client works
with, or raises `wire.Malformed`. Checking every field a client relies on here means the
session logic can index dicts freely: a hostile or broken server gets its message dropped
(or a ConnectError for a reply), never a KeyError or TypeError deep in the client.
"""
from .errors import ServerError
from .wire import Malformed, is_count, parse_ids, parse_manifest

PROTOCOL = 2
MODES = ("full", "delta")
# Sequenced events (every event but presence carries seq).
SEQUENCED = ("commit", "rights", "delete", "session", "users")


def _text(header, key, what=None):
    value = header.get(key)
    if not isinstance(value, str):
        raise Malformed("%s has no valid %s" % (what or "a %s message" % header.get("type"), key))
    return value


def ref_of(header):
    """A header's ref when it is one a client could have chosen (a number or a string), else None.

    Refs are compared with and looked up among the client's own, so a list or an object
    from a hostile server must not get that far.
    """
    ref = header.get("ref")
    return ref if type(ref) in (int, str) else None


def _count(header, key):
    value = header.get(key)
    if not is_count(value):
        raise Malformed("a %s message has no valid %s" % (header.get("type"), key))
    return value


def _strings(value, what):
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise Malformed("%s is not a list of strings" % what)
    return value


def _users(value):
    if not isinstance(value, list) or not all(isinstance(user, dict) and isinstance(user.get("name"), str) for user in value):
        raise Malformed("a user list is not a list of users with names")
    return value


def _presence_map(value):
    if not isinstance(value, dict) or not all(isinstance(entry, dict) for entry in value.values()):
        raise Malformed("a presence map is not an object of objects")
    return value


def limits(header):
    """`limits` from hello or welcome: numbers only, and a frame size this client can use."""
    value = header.get("limits", {})
    if not isinstance(value, dict) or not all(type(number) in (int, float) for number in value.values()):
        raise Malformed("the limits are not an object of numbers")
    frame = value.get("frame")
    if frame is not None and (type(frame) is not int or not 1024 <= frame <= 1 << 20):
        raise Malformed("limits.frame is not a frame size from 1 KiB to 1 MiB")
    return value


def error(message):
    """An `error` (command port) or `rejected` (publisher port) as the ServerError it stands for."""
    header = message.header
    code = header.get("code")
    text = header.get("message")
    node = header.get("id")
    return ServerError(
        code if isinstance(code, str) else "internal",
        text if isinstance(text, str) else "the server gave no reason",
        node if isinstance(node, str) else None,
    )


def _refusal(message, **head):
    """An error the server sent, as poll() returns it: `head`, then its code, message and id if any."""
    failure = error(message)
    event = dict(head, code=failure.code, message=failure.message)
    if failure.id is not None:
        event["id"] = failure.id
    return event


def rejected(message):
    """A `rejected` commit, as poll() returns it."""
    return _refusal(message, type="rejected", ref=ref_of(message.header))


def hello(message):
    header = message.header
    limits(header)
    return dict(header)


def welcome(message):
    header = message.header
    _text(header, "user")
    if header.get("role") not in ("admin", "member"):
        raise Malformed("a welcome has no valid role")
    _text(header, "state")
    _count(header, "seq")
    _users(header.get("users", []))
    _presence_map(header.get("presence", {}))
    limits(header)
    return dict(header)


def ok(message):
    """The seq an `ok` reports (the session's seq after the request)."""
    return _count(message.header, "seq")


def nodes(message):
    """A `nodes` reply: (seq, [(id, owner, kind, deps, [part, …]), …], state, users), all as of
    that seq (PROTOCOL.md §4); removed ids are left out."""
    header = message.header
    seq = _count(header, "seq")
    state = _text(header, "state")
    users = _users(header.get("users"))
    found = []
    for entry, parts in parse_manifest(header, message.body):
        node_id = _text(entry, "id", "a node")
        if entry.get("removed") is True:
            continue
        owner = _text(entry, "owner", "a node")
        kind = entry.get("kind", "")
        deps = _strings(entry.get("deps", []), "a node's deps")
        if not isinstance(kind, str):
            raise Malformed("a node's kind is not a string")
        found.append((node_id, owner, kind, deps, parts))
    return seq, found, state, users


def outcome(message, ref, request):
    """The reply to a request sent without waiting, as poll() returns it.

    `ok` is {"type": "reply", "ref", "request", "seq"} (`users` replies carry `users` instead
    of a seq); an error is {"type": "refused", "ref", "request", "code", "message", "id"?}.
    """
    header = message.header
    if header["type"] == "error":
        return _refusal(message, type="refused", ref=ref, request=request)
    if header["type"] == "users":
        return {"type": "reply", "ref": ref, "request": request, "users": users_reply(message)}
    return {"type": "reply", "ref": ref, "request": request, "seq": ok(message)}


def resynced(message):
    """A `resynced` reply: (seq, presence map or None)."""
    header = message.header
    presence = header.get("presence")
    return _count(header, "seq"), None if presence is None else _presence_map(presence)


def users_reply(message):
    return _users(message.header.get("users"))


def event(message):
    """A subscriber event (also replayed by resync) as the dict poll() returns."""
    header = message.header
    kind = header["type"]
    if kind == "presence":
        latency = header.get("latency")
        if latency is not None and type(latency) not in (int, float):
            raise Malformed("a presence has no valid latency")
        return {"type": "presence", "from": _text(header, "from"), "data": header.get("data"), "latency": latency}
    if kind not in SEQUENCED:
        raise Malformed("%r is not a subscriber event" % kind)
    seq = _count(header, "seq")
    if seq == 0:
        raise Malformed("an event has seq 0")
    if kind == "commit":
        return _commit(header, message.body, seq)
    if kind == "rights":
        owner = _text(header, "owner")
        return {"type": "rights", "seq": seq, "from": _text(header, "from"), "owner": owner, "ids": parse_ids(message.body)}
    if kind == "delete":
        return {"type": "delete", "seq": seq, "from": _text(header, "from"), "ids": parse_ids(message.body)}
    if kind == "session":
        return {"type": "session", "seq": seq, "state": _text(header, "state")}
    return {"type": "users", "seq": seq, "users": _users(header.get("users"))}


def _commit(header, body, seq):
    event = {"type": "commit", "seq": seq, "from": _text(header, "from")}
    if ref_of(header) is not None:
        event["ref"] = ref_of(header)
    event["nodes"] = []
    for entry, parts in parse_manifest(header, body):
        if "size" not in entry or "parts" in entry:
            raise Malformed("a commit event's node has no size")
        node = {
            "id": _text(entry, "id", "a commit event's node"),
            "kind": _text(entry, "kind", "a commit event's node"),
            "mode": entry.get("mode"),
            "owner": _text(entry, "owner", "a commit event's node"),
        }
        if node["mode"] not in MODES:
            raise Malformed("a commit event's node has no valid mode")
        if "deps" in entry:
            node["deps"] = _strings(entry["deps"], "a node's deps")
        node["data"] = parts[0]
        event["nodes"].append(node)
    return event


def ping(message):
    """A ping: (n, seq or None)."""
    header = message.header
    seq = header.get("seq")
    return _count(header, "n"), seq if is_count(seq) else None


def kicked(message):
    by = message.header.get("by")
    return {"type": "kicked", "by": by if isinstance(by, str) else None}
