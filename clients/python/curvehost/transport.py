"""The sockets: CURVE set-up, what a socket monitor tells about a connection, messages
sent and received one frame at a time over them, and the ports whose messages wait for an
answer (Link), which send them again when the server cuts the connection.

Kept apart from the session logic so that the client reads as requests and events, and so
that the ping thread can make its own socket with the same settings.
"""
import time
from collections import OrderedDict, deque, namedtuple

import zmq
from zmq.utils.monitor import parse_monitor_message

from . import wire
from .errors import ConnectError

Curve = namedtuple("Curve", "server_key public_key secret_key")
Curve.__doc__ = "The three Z85 keys a client socket needs: the server's public key and the client's pair."

# The server never sends a frame above limits.frame, which is at most 1 MiB (PROTOCOL.md §1):
# libzmq closes a connection that carries more, so a hostile server cannot make us buffer it.
# libzmq checks the size of the encrypted CURVE message, 33 bytes more than the frame.
MAX_MESSAGE = wire.MAX_FRAME + 64
# What one read of a socket takes at most, so that a flood on one socket cannot keep the
# client from the others (or from the reply it waits for).
BATCH = 1000
# The server cuts connections to remove users (PROTOCOL.md §1, §8): come back within tens of
# milliseconds, backing off to seconds when the server stays away.
RECONNECT_IVL_MS = 20
RECONNECT_IVL_MAX_MS = 2000
# The longest a wait for room to send sleeps before it looks at the connection again.
SEND_TICK_MS = 50

REFUSED = "The server refused your key: it is not allowed, expired, revoked or kicked; ask the host."


def unreachable(address):
    return "Cannot reach %s: is the server running, is the port forwarded?" % address


def no_handshake(address):
    return "The handshake with %s did not complete: the server key in the invite is probably wrong." % address


def no_reply(address, timeout):
    return "No reply from %s within %g s." % (address, timeout)


def other_protocol(version=None):
    speaks = "protocol %s" % version if isinstance(version, int) else "another protocol"
    return "The server speaks %s, this client protocol 2: update the older one." % speaks


def explain(address, timeout, connected, handshakes, refused):
    """The sentence for a connection that got as far as these facts say, and no further."""
    if refused:
        return REFUSED
    if handshakes:
        return no_reply(address, timeout)
    if connected:
        return no_handshake(address)
    return unreachable(address)


def curve_socket(context, kind, curve, routing_id=None, immediate=False):
    """A socket that talks CURVE to the server with the client's keys, and nothing else.

    linger 0: a client that closes does not hang on messages to a server that is gone.
    `immediate`: messages go only to a connection whose handshake is done, and those queued
    for a connection that breaks are dropped with it (a Link sends them again, in order),
    rather than going out on the next connection ahead of the ones the break lost. libzmq
    then also drops what the broken connection received and the caller has not read yet.
    """
    socket = context.socket(kind)
    socket.linger = 0
    socket.setsockopt(zmq.RECONNECT_IVL, RECONNECT_IVL_MS)
    socket.setsockopt(zmq.RECONNECT_IVL_MAX, RECONNECT_IVL_MAX_MS)
    if immediate:
        socket.setsockopt(zmq.IMMEDIATE, 1)
    socket.curve_serverkey = curve.server_key.encode("ascii")
    socket.curve_publickey = curve.public_key.encode("ascii")
    socket.curve_secretkey = curve.secret_key.encode("ascii")
    socket.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE)
    if routing_id is not None:
        socket.setsockopt(zmq.ROUTING_ID, routing_id)
    if kind == zmq.SUB:
        socket.setsockopt(zmq.SUBSCRIBE, b"")
    return socket


class Watch:
    """Reads a socket's monitor and remembers how far its connection got.

    That is what turns a silent timeout into a sentence: never connected (cannot reach),
    connected but no handshake (wrong server key), refused by ZAP (the key), or handshake
    done and still no reply. Each handshake after the first is a reconnection: after which
    the subscriber resyncs, and the command and publisher ports send again what is still
    unanswered (PROTOCOL.md §8). `up` says whether a connection is there now.
    """

    EVENTS = (
        zmq.EVENT_CONNECTED
        | zmq.EVENT_DISCONNECTED
        | zmq.EVENT_HANDSHAKE_SUCCEEDED
        | zmq.EVENT_HANDSHAKE_FAILED_AUTH
        | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
        | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
    )

    def __init__(self, socket, address):
        self.address = address
        self.monitor = socket.get_monitor_socket(self.EVENTS)
        self._socket = socket
        self.connected = False
        self.handshakes = 0  # also the number of the connection now up, when one is
        self.refused = False
        self.up = False

    def read(self):
        """Takes what the monitor reported since the last read; returns how many handshakes."""
        handshakes = 0
        while True:
            try:
                event = parse_monitor_message(self.monitor.recv_multipart(zmq.NOBLOCK))["event"]
            except zmq.Again:
                return handshakes
            if event == zmq.EVENT_CONNECTED:
                self.connected = True
            elif event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                self.connected = self.up = True
                self.handshakes += 1
                handshakes += 1
            elif event == zmq.EVENT_DISCONNECTED:
                self.up = False
            elif event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                self.refused = True

    def problem(self, timeout):
        """Why nothing came back within `timeout` seconds, in the words `curvehost check` uses."""
        return explain(self.address, timeout, self.connected, self.handshakes, self.refused)

    def close(self):
        try:
            self._socket.disable_monitor()
        finally:
            self.monitor.close(linger=0)


class Channel:
    """One socket, and the reassembly of the messages that arrive on it in pieces."""

    def __init__(self, socket, address, protocol_1_is_fatal=False):
        self.socket = socket
        self.address = address
        # On the command port a bare JSON object is a protocol 1 server answering.
        self._protocol_1_is_fatal = protocol_1_is_fatal
        self._reassembler = wire.Reassembler()
        # Frames received so far: a long reply in pieces is progress, not silence.
        self.frames = 0

    def receive(self):
        """The next whole message that has arrived, or None; never blocks.

        Malformed frames and messages of several frames (not protocol 2) are dropped.
        """
        for _ in range(BATCH):
            try:
                frames = self.socket.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return None
            self.frames += 1
            if len(frames) != 1:
                if self._protocol_1_is_fatal and wire.is_protocol_1(frames[0]):
                    raise ConnectError(other_protocol(1))
                continue
            try:
                message = self._reassembler.feed(frames[0])
            except wire.Malformed:
                if self._protocol_1_is_fatal and wire.is_protocol_1(frames[0]):
                    raise ConnectError(other_protocol(1)) from None
                continue
            if message is not None:
                return message
        return None


class Link:
    """A DEALER port whose messages wait for an answer: requests (command) or commits (publisher).

    libzmq reconnects by itself when the server cuts a connection (PROTOCOL.md §8), but what
    was in flight may be gone with the old connection. So each message is kept here, by its
    ref, until the client has its answer (`answered`), and every new connection gets again,
    in the order they were first sent, the messages it has not carried yet; the server carries
    out a ref once per join and drops the repeats (§5). While no connection is up (from the
    moment the monitor says it broke), new messages wait here rather than in libzmq, so that
    they follow the ones sent again.

    Order: on the publisher port the socket is `immediate`, so nothing libzmq held for the
    broken connection goes out on the next one ahead of the commits sent again (which would
    apply them out of order: a delta before the one it follows). The rejections it had
    received and not yet handed over go with it; the commits they answered are sent again
    and judged again (the server remembers accepted commits only). The command port cannot
    be immediate: a reply lost that way is never sent again. A request handed to libzmq in
    the instant between the break and its monitor event may therefore go out on the new
    connection ahead of older ones sent again.
    """

    def __init__(self, channel, watch, timeout, frame):
        self.channel = channel
        self.watch = watch
        self._timeout = timeout
        self._frame = frame  # () -> the frame size to cut messages at
        # ref -> [header, body, the connection it last went out on (0: none yet)], oldest first
        self.outstanding = {}
        # The refs of `outstanding` that the connection up, or the next, has not carried yet, oldest
        # first: a send or a read looks at these only, so K messages sent without waiting cost K.
        self._unsent = OrderedDict()
        self._live = None  # the number of the connection known to be up, or None
        self._poller = zmq.Poller()
        self._poller.register(channel.socket, zmq.POLLOUT)
        self._poller.register(watch.monitor, zmq.POLLIN)
        # Messages sent again on a new connection, for tests and curious callers.
        self.resent = 0
        # For each connection that broke: the refs unanswered then (gone out on it, or waiting).
        self.breaks = deque(maxlen=16)

    def send(self, ref, header, body=b""):
        """Keeps a message until it is answered, and sends it when a connection is up.

        ConnectError when the server takes nothing for the timeout; the message is then
        forgotten (the caller is told), and what was queued before it stays.
        """
        self.outstanding[ref] = [header, body, 0]
        self._unsent[ref] = None
        try:
            self.update()
        except BaseException:
            self.outstanding.pop(ref, None)
            self._unsent.pop(ref, None)
            raise

    def answered(self, ref):
        """The answer to `ref` came (or the caller gave up on it): it is not sent again."""
        self._unsent.pop(ref, None)
        return self.outstanding.pop(ref, None) is not None

    def update(self):
        """Reads the monitor and sends what the connection now up has not carried; returns
        how many handshakes were new."""
        new = self.watch.read()
        self._note()
        self._flush()
        return new

    def _note(self):
        watch = self.watch
        live = watch.handshakes if watch.up else None
        if live != self._live:
            if self._live is not None:
                self.breaks.append(list(self.outstanding))
            if live is not None:  # a new connection has carried none of them
                self._unsent = OrderedDict.fromkeys(self.outstanding)
        self._live = live

    def _flush(self):
        while self._unsent and self._live is not None:
            ref = next(iter(self._unsent))
            entry, connection = self.outstanding[ref], self._live
            if not self._send(entry[0], entry[1], connection):
                return  # the connection went meanwhile: the next one carries it
            if entry[2]:
                self.resent += 1
            entry[2] = connection
            del self._unsent[ref]

    def _send(self, header, body, connection):
        """Sends one message on `connection`, in pieces if need be; False if it broke meanwhile."""
        socket = self.channel.socket
        for piece in wire.encode(header, body, self._frame()):
            deadline = time.monotonic() + self._timeout
            while True:
                try:
                    socket.send(piece, zmq.NOBLOCK, copy=False)
                    break
                except zmq.Again:
                    pass
                self.watch.read()
                self._note()
                if self._live != connection:
                    return False
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ConnectError("Cannot send to %s: the server does not take what this client sends." % self.channel.address)
                self._poller.poll(min(remaining * 1000, SEND_TICK_MS))
        return True
