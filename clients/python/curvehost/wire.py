"""Protocol 2 on the wire (PROTOCOL.md §2): frames, pieces, and the two kinds of body.

A frame is a JSON header, one newline byte, then the body. A message whose frame would be
larger than `limits.frame` goes in pieces: the first frame carries the header with `size`
(the whole body's length) and the start of the body, each next one `{"type":"more",
"offset":O}` and the following bytes. Bodies hold an id list (a JSON array of strings) or a
manifest (a JSON array, `manifest` bytes long) followed by the node data it describes.

Nothing here touches a socket: the client sends what `encode` yields and feeds what it
receives to a `Reassembler`, so all of this can be tested, and read, on its own. Anything
malformed raises `Malformed` (a ValueError), never another exception type.
"""
import json
from collections import namedtuple

# limits.frame until hello or welcome says otherwise; PROTOCOL.md §9 caps it at 1 MiB.
DEFAULT_FRAME = 262144
MAX_FRAME = 1 << 20

Message = namedtuple("Message", "header body")
Message.__doc__ = "One whole message: its header (a dict with a str `type`) and its body (bytes)."


class Malformed(ValueError):
    """A frame or a body that is not protocol 2; the text says what is wrong with it."""


def dumps(value):
    """Compact JSON in UTF-8, as the protocol writes headers (no raw newline can occur)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def loads(data, what):
    """Parses JSON from the other side; Malformed for anything that is not plain JSON.

    Deep nesting raises RecursionError and non-UTF-8 bytes UnicodeDecodeError inside the
    json module: both become Malformed, and so do NaN and Infinity, which JSON lacks.
    """
    try:
        return json.loads(bytes(data).decode("utf-8"), parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise Malformed("%s is not JSON" % what) from None


def _no_constant(name):
    raise ValueError(name)


def is_count(value):
    """A whole number >= 0 (JSON true is not one, though Python's bool is an int)."""
    return type(value) is int and value >= 0


# ---- frames and pieces ---------------------------------------------------------------------


def encode(header, body=b"", frame=DEFAULT_FRAME):
    """Yields the frames of one message: one frame, or pieces when it would exceed `frame`.

    `body` is bytes-like or a list of bytes-like chunks (a manifest and node data), so a
    commit of many megabytes is cut into frames without first being joined into one buffer.
    """
    chunks = [memoryview(body).cast("B")] if _is_buffer(body) else [memoryview(chunk).cast("B") for chunk in body]
    total = sum(len(chunk) for chunk in chunks)
    head = dumps(header) + b"\n"
    if len(head) + total <= frame:
        yield b"".join([head, *chunks])
        return
    head = dumps(dict(header, size=total)) + b"\n"
    if len(head) > frame:
        raise ValueError("the header alone is larger than a frame (%d bytes)" % frame)
    source = _Chunks(chunks)
    offset = frame - len(head)
    yield b"".join([head, *source.take(offset)])
    while offset < total:
        prefix = dumps({"type": "more", "offset": offset}) + b"\n"
        room = frame - len(prefix)
        if room <= 0:
            raise ValueError("a frame of %d bytes is too small to carry pieces" % frame)
        piece = source.take(room)
        yield b"".join([prefix, *piece])
        offset += sum(len(part) for part in piece)


def _is_buffer(value):
    return isinstance(value, (bytes, bytearray, memoryview))


class _Chunks:
    """Reads consecutive byte ranges across a list of buffers without copying them."""

    def __init__(self, chunks):
        self._chunks = [chunk for chunk in chunks if len(chunk)]
        self._index = 0
        self._at = 0

    def take(self, count):
        views = []
        while count > 0 and self._index < len(self._chunks):
            chunk = self._chunks[self._index]
            view = chunk[self._at:self._at + count]
            views.append(view)
            count -= len(view)
            self._at += len(view)
            if self._at == len(chunk):
                self._index += 1
                self._at = 0
        return views


def parse_frame(frame):
    """Splits one frame into its header and body; Malformed when it is not a protocol 2 frame."""
    head, newline, body = bytes(frame).partition(b"\n")
    if not newline:
        raise Malformed("a frame without the newline that ends its header")
    header = loads(head, "the header")
    if not isinstance(header, dict) or not isinstance(header.get("type"), str):
        raise Malformed("the header is not a JSON object with a type")
    return Message(header, body)


def is_protocol_1(frame):
    """Whether a frame is a bare JSON object, as protocol 1 sent its headers (no newline)."""
    if b"\n" in frame:
        return False
    try:
        return isinstance(loads(frame, "the frame"), dict)
    except Malformed:
        return False


class Reassembler:
    """Puts messages that arrive in pieces back together, for one socket.

    Pieces of one message follow one another on their socket, so one message at a time is
    in progress. A new message abandons an incomplete one (its sender gave up on it); a piece
    that continues nothing, or not at the right offset, is Malformed and also ends the
    message in progress, whose missing bytes cannot come any more.
    """

    def __init__(self):
        self._reset()

    def _reset(self):
        self._header = None
        self._chunks = []
        self._have = 0
        self._size = 0

    @property
    def busy(self):
        """Whether a message has begun and not yet ended."""
        return self._header is not None

    def feed(self, frame):
        """Takes one frame; returns the Message it completes, or None while one is incomplete."""
        header, body = parse_frame(frame)
        if header["type"] == "more":
            return self._more(header, body)
        self._reset()
        size = header.get("size")
        if size is None:
            return Message(header, body)
        if not is_count(size) or size < len(body):
            raise Malformed("the size in a header does not fit its body")
        if size == len(body):
            return Message(header, body)
        self._header, self._size = header, size
        self._chunks, self._have = [body], len(body)
        return None

    def _more(self, header, body):
        if self._header is None:
            raise Malformed("a piece that continues no message")
        if not is_count(header.get("offset")) or header["offset"] != self._have or self._have + len(body) > self._size:
            self._reset()
            raise Malformed("a piece out of place")
        self._chunks.append(body)
        self._have += len(body)
        if self._have < self._size:
            return None
        message = Message(self._header, b"".join(self._chunks))
        self._reset()
        return message


# ---- bodies ----------------------------------------------------------------------------------


def encode_ids(ids):
    """An id list body: a JSON array of node ids."""
    ids = list(ids)
    for node_id in ids:
        if not isinstance(node_id, str):
            raise TypeError("node ids are strings, not %s" % type(node_id).__name__)
    return dumps(ids)


def parse_ids(body):
    ids = loads(body, "an id list")
    if not isinstance(ids, list) or not all(isinstance(node_id, str) for node_id in ids):
        raise Malformed("an id list is not a JSON array of strings")
    return ids


def encode_manifest(entries, parts):
    """The body of a commit: returns (manifest length, [manifest, part, part…]) for `encode`."""
    manifest = dumps(entries)
    return len(manifest), [manifest, *parts]


def parse_manifest(header, body):
    """Splits a manifest-and-parts body; returns [(entry, [part bytes, …]), …].

    An entry's data is `size` bytes, or `parts` (a list of lengths: a base and its deltas),
    or nothing (a node reported removed); the lengths must add up to the body exactly, so a
    wrong length is caught here instead of shifting every later node's data.
    """
    length = header.get("manifest")
    if not is_count(length) or length > len(body):
        raise Malformed("the manifest length does not fit the body")
    entries = loads(memoryview(body)[:length], "the manifest")
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise Malformed("the manifest is not a JSON array of objects")
    at = length
    nodes = []
    for entry in entries:
        if "parts" in entry:
            lengths = entry["parts"]
            if not isinstance(lengths, list):
                raise Malformed("a manifest entry's parts is not a list of lengths")
        elif "size" in entry:
            lengths = [entry["size"]]
        else:
            lengths = []
        data = []
        for size in lengths:
            if not is_count(size) or at + size > len(body):
                raise Malformed("a manifest entry's lengths run past the body")
            data.append(body[at:at + size])
            at += size
        nodes.append((entry, data))
    if at != len(body):
        raise Malformed("the manifest's lengths do not add up to the body")
    return nodes
