"""The sockets: CURVE set-up, what a socket monitor tells about a connection, and messages
sent and received one frame at a time over them.

Kept apart from the session logic so that the client reads as requests and events, and so
that the ping thread can make its own socket with the same settings.
"""
from collections import namedtuple

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


def curve_socket(context, kind, curve, routing_id=None, send_timeout=None):
    """A socket that talks CURVE to the server with the client's keys, and nothing else.

    linger 0: a client that closes does not hang on messages to a server that is gone.
    """
    socket = context.socket(kind)
    socket.linger = 0
    socket.curve_serverkey = curve.server_key.encode("ascii")
    socket.curve_publickey = curve.public_key.encode("ascii")
    socket.curve_secretkey = curve.secret_key.encode("ascii")
    socket.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE)
    if routing_id is not None:
        socket.setsockopt(zmq.ROUTING_ID, routing_id)
    if send_timeout is not None:
        socket.setsockopt(zmq.SNDTIMEO, max(1, int(send_timeout * 1000)))
    if kind == zmq.SUB:
        socket.setsockopt(zmq.SUBSCRIBE, b"")
    return socket


class Watch:
    """Reads a socket's monitor and remembers how far its connection got.

    That is what turns a silent timeout into a sentence: never connected (cannot reach),
    connected but no handshake (wrong server key), refused by ZAP (the key), or handshake
    done and still no reply. On the subscriber, each handshake after the first is a
    reconnection, after which the client must resync (PROTOCOL.md §8).
    """

    EVENTS = (
        zmq.EVENT_CONNECTED
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
        self.handshakes = 0
        self.refused = False

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
                self.connected = True
                self.handshakes += 1
                handshakes += 1
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

    def send(self, header, body=b"", frame=wire.DEFAULT_FRAME):
        """Sends one message, in pieces if it is larger than `frame` bytes.

        The socket's send timeout bounds each frame; ConnectError when the server does not
        take them (its connection is gone or it stopped reading).
        """
        for piece in wire.encode(header, body, frame):
            try:
                self.socket.send(piece, copy=False)
            except zmq.Again:
                raise ConnectError("Cannot send to %s: the server does not take what this client sends." % self.address) from None

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
