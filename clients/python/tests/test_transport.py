"""The Link on its own, over an in-process socket and a connection the test makes and breaks:
what goes out and in which order, what a new connection gets again, that a message the
socket does not take is the one forgotten, and that a burst costs in proportion to its size."""
import json
import sys
import unittest

import zmq

from curvehost import transport
from curvehost.errors import ConnectError
from curvehost.transport import Channel, Link

ENDPOINT = "inproc://link"


class Watch:
    """A connection as transport.Watch tells it, made and broken by the test."""

    def __init__(self, monitor):
        self.monitor = monitor
        self.handshakes, self.up = 1, True

    def read(self):
        return 0


def lines_run(module, work):
    """How many lines of `module` run while work() runs."""
    count = 0

    def line(frame, event, arg):
        nonlocal count
        count += event == "line"
        return line

    def call(frame, event, arg):
        return line if frame.f_code.co_filename == module.__file__ else None

    before = sys.gettrace()
    sys.settrace(call)
    try:
        work()
    finally:
        sys.settrace(before)
    return count


class Links(unittest.TestCase):
    def setUp(self):
        self.context = zmq.Context()
        self.addCleanup(self.context.destroy, linger=0)
        self.server = self.socket(zmq.ROUTER)
        self.server.bind(ENDPOINT)

    def socket(self, kind):
        socket = self.context.socket(kind)
        self.addCleanup(socket.close, linger=0)
        socket.sndhwm = socket.rcvhwm = 0  # a burst waits in the pipe, not in the Link
        return socket

    def link(self, connect=True, timeout=2.0):
        socket = self.socket(zmq.DEALER)
        if connect:
            socket.connect(ENDPOINT)
        self.watch = Watch(self.socket(zmq.PAIR))
        return Link(Channel(socket, "test"), self.watch, timeout, lambda: 1 << 16)

    def send(self, link, ref):
        link.send(ref, {"type": "users", "ref": ref})

    def received(self, count):
        """The refs of the next `count` messages the server gets, in order."""
        refs = []
        for _ in range(count):
            self.assertTrue(self.server.poll(2000), "only %r arrived" % refs)
            _, frame = self.server.recv_multipart()
            refs.append(json.loads(frame.partition(b"\n")[0])["ref"])
        return refs

    def test_a_burst_costs_in_proportion_to_its_size(self):
        # Each send looks at the messages not sent yet, not at every one unanswered.
        runs = {}
        for size in (1000, 2000):
            link = self.link()
            first = size * 10
            runs[size] = lines_run(transport, lambda: [self.send(link, ref) for ref in range(first, first + size)])
            self.assertEqual(self.received(size), list(range(first, first + size)))
            self.assertEqual(len(link.outstanding), size, "all kept until answered")
        self.assertLess(runs[2000], 2.5 * runs[1000], "lines of transport.py run: %r" % runs)

    def test_a_new_connection_gets_again_what_is_unanswered_in_its_order(self):
        link = self.link()
        for ref in range(1, 6):
            self.send(link, ref)
        self.assertEqual(self.received(5), [1, 2, 3, 4, 5])
        link.answered(2)
        link.answered(4)
        self.watch.up = False
        link.update()
        self.send(link, 6)  # no connection is up: it waits, behind the ones to send again
        self.assertEqual(list(link.breaks), [[1, 3, 5]])
        self.watch.handshakes, self.watch.up = 2, True
        link.update()
        self.assertEqual(self.received(4), [1, 3, 5, 6])
        self.assertEqual(link.resent, 3)
        link.update()
        self.assertFalse(self.server.poll(50), "each went once on the new connection")

    def test_a_message_the_socket_does_not_take_is_forgotten_and_those_before_it_stay(self):
        link = self.link(connect=False, timeout=0.2)  # no peer: nothing can be sent
        self.watch.up = False
        self.send(link, 1)
        self.watch.up = True
        with self.assertRaises(ConnectError):
            self.send(link, 2)
        self.assertEqual(list(link.outstanding), [1])
        link.channel.socket.connect(ENDPOINT)
        self.send(link, 3)
        self.assertEqual(self.received(2), [1, 3])
        self.assertEqual(link.resent, 0)


if __name__ == "__main__":
    unittest.main()
