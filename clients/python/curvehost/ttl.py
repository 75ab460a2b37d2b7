"""The ttl port (PROTOCOL.md §7), answered from a thread of its own.

The server removes a user whose pong is late (5 s by default). A Blender operator can hold
the main thread far longer than that, so pings are answered here rather than in poll().
This thread creates, uses and closes the ttl socket and touches no other: pyzmq sockets
are not thread-safe. The main thread only reads, under a lock, the few facts kept here:
whether the handshake completed, when the last ping came, and the seq the last pings
reported with when they came (a client still below the one before last, that has received no
event since, has missed an event and resyncs).
"""
import threading
import time
from collections import deque

import zmq

from . import messages, wire
from .transport import Channel, Watch, curve_socket, explain

# How often the thread looks up from its socket to see whether it should stop.
TICK_MS = 100


class Pinger:
    def __init__(self, context, curve, routing_id, endpoint, address):
        self._context = context
        self._curve = curve
        self._routing_id = routing_id
        self._endpoint = endpoint
        self.address = address
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._started = None
        self._last_ping = None
        # (seq, time.monotonic() on arrival) of the last two pings.
        self._seqs = deque(maxlen=2)
        self._watch_state = (False, 0, False)
        self._thread = threading.Thread(target=self._run, name="curvehost ttl", daemon=True)

    def start(self):
        self._started = time.monotonic()
        self._thread.start()

    @property
    def ready(self):
        """Whether the ttl handshake completed."""
        return self._ready.is_set()

    def problem(self, timeout):
        """Why the ttl handshake has not completed, as a sentence."""
        with self._lock:
            connected, handshakes, refused = self._watch_state
        return explain(self.address, timeout, connected, handshakes, refused)

    def before_last(self):
        """The seq of the ping before the last one and when it came, or None before two pings."""
        with self._lock:
            return self._seqs[0] if len(self._seqs) == 2 else None

    def silent_for(self):
        """Seconds since the last ping (or since the start, before the first)."""
        with self._lock:
            since = self._last_ping if self._last_ping is not None else self._started
        return time.monotonic() - since

    def stop(self):
        self._stopping.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _run(self):
        socket = watch = None
        try:
            socket = curve_socket(self._context, zmq.DEALER, self._curve, self._routing_id)
            watch = Watch(socket, self.address)
            socket.connect(self._endpoint)
            socket.send(wire.dumps({"type": "pong", "n": 0}) + b"\n", zmq.NOBLOCK)
            channel = Channel(socket, self.address)
            poller = zmq.Poller()
            poller.register(socket, zmq.POLLIN)
            poller.register(watch.monitor, zmq.POLLIN)
            while not self._stopping.is_set():
                ready = dict(poller.poll(TICK_MS))
                if watch.monitor in ready:
                    watch.read()
                    with self._lock:
                        self._watch_state = (watch.connected, watch.handshakes, watch.refused)
                    if watch.handshakes:
                        self._ready.set()
                if socket in ready:
                    self._answer(socket, channel)
        except zmq.ZMQError:
            # The context was terminated under us, or the socket failed: the pings stop, and
            # the main thread reports the connection lost when it notices the silence.
            pass
        finally:
            for closing in (watch, socket):
                if closing is not None:
                    try:
                        closing.close()
                    except zmq.ZMQError:
                        pass

    def _answer(self, socket, channel):
        while True:
            message = channel.receive()
            if message is None:
                return
            if message.header["type"] != "ping":
                continue
            try:
                n, seq = messages.ping(message)
            except wire.Malformed:
                continue
            try:
                socket.send(wire.dumps({"type": "pong", "n": n}) + b"\n", zmq.NOBLOCK)
            except zmq.Again:
                pass  # the server is not reading; it will find this user lost by itself
            with self._lock:
                self._last_ping = time.monotonic()
                if seq is not None:
                    self._seqs.append((seq, self._last_ping))
