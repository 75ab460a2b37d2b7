"""The client against a fake server (tests/fakeserver.py) that misbehaves on cue: events lost
in transit, pings that show the client behind, a subscriber port replaced, silence, junk.
The TypeScript tests run the same client against the real server."""
import os
import random
import socket
import threading
import time
import unittest

import zmq

from curvehost import Client, ConnectError, ServerError, client as client_module, wire
from tests.fakeserver import FakeServer
from tests.test_transport import lines_run

FRAME = 1024


def free_port():
    """A port nothing listens on, below Linux's ephemeral ports (32768 and up): a connection
    retried to a closed port in that range can meet itself (a TCP simultaneous open) and
    look like a failed handshake. Probed with a plain socket, whose close is immediate."""
    while True:
        port = random.randrange(10000, 32000)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port


def keypair():
    public, secret = zmq.curve_keypair()
    return public.decode(), secret.decode()


class Fixture(unittest.TestCase):
    def setUp(self):
        self.alice, self.bob = keypair(), keypair()
        self.server = FakeServer({self.alice[0]: ("alice", "member"), self.bob[0]: ("bob", "admin")}, frame=FRAME, ping_interval=0.1)
        self.addCleanup(self.server.close)

    def client(self, who=None, timeout=2.0, replica=None, sync=True, server_key=None, port=None, lost_timeout=None):
        public, secret = who or self.alice
        client = Client("127.0.0.1", port or self.server.port, server_key or self.server.public_key, public, secret, timeout=timeout,
                        replica=replica, lost_timeout=lost_timeout)
        self.addCleanup(client.close)
        if sync:
            client.join()
            client.sync()
        return client

    def poll_until(self, client, done, timeout=5.0):
        """Polls until done(events so far) holds; fails after `timeout` seconds."""
        events = []
        deadline = time.monotonic() + timeout
        while not done(events):
            if time.monotonic() > deadline:
                self.fail("gave up waiting; got %r" % [(e["type"], e.get("seq")) for e in events])
            events += client.poll(0.1)
        return events

    def commits(self, events):
        return [node["id"] for event in events if event["type"] == "commit" for node in event["nodes"]]

    def wait_for(self, check, timeout=5.0, what="the condition"):
        """Waits, a bounded time, for check() to hold: for the server's side of things."""
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                self.fail("%s did not hold within %g s" % (what, timeout))
            time.sleep(0.01)


class Joining(Fixture):
    def test_join_proves_the_key_and_sync_fetches_every_node_in_pieces(self):
        base, delta, small = os.urandom(5000), os.urandom(3000), b"small"

        def prepare(server):
            server.nodes = {
                "a": {"owner": "common", "kind": "MESH", "deps": ["b"], "parts": [base, delta]},
                "b": {"owner": "bob", "kind": "", "deps": [], "parts": [small]},
            }
            server.seq = server.oldest = 7

        self.server.call(prepare)
        client = self.client(sync=False)
        hello = client.hello()
        self.assertEqual((hello["protocol"], hello["limits"]["frame"]), (2, FRAME))
        welcome = client.join()
        self.assertEqual((welcome["user"], client.name, client.role), ("alice", "alice", "member"))
        replica = client.sync()
        self.assertIs(replica, client.replica)
        self.assertEqual(replica.seq, self.server.call(lambda server: server.seq))  # 7, and alice's users event
        self.assertEqual(sorted(replica.nodes), ["a", "b"])
        self.assertEqual(replica.nodes["a"].parts, [base, delta])
        self.assertEqual(replica.nodes["a"].data, base + delta)
        self.assertEqual((replica.nodes["a"].owner, replica.nodes["a"].kind, replica.nodes["a"].deps), ("common", "MESH", ["b"]))
        self.assertEqual(replica.nodes["b"].data, small)
        self.assertEqual(replica.state, "open")
        self.assertEqual([user["name"] for user in replica.users], ["alice"])
        # The nodes reply brings the state and the users as of its seq: nothing else is asked.
        self.assertEqual([h["type"] for h in self.server.call(lambda server: server.requests)], ["hello", "join", "fetch"])

    def test_the_state_and_users_of_a_fetch_are_those_of_the_nodes_reply(self):
        self.server.call(lambda server: setattr(server, "state", "waiting"))
        client = self.client()
        self.assertEqual(client.replica.state, "waiting")
        self.assertEqual([user["name"] for user in client.replica.users], ["alice"])

    def test_the_welcome_brings_everyone_s_presence(self):
        self.server.call(lambda server: server.presence.update(bob={"data": {"frame": 12}, "latency": 3}))
        client = self.client()
        self.assertEqual(client.replica.presence["bob"]["data"], {"frame": 12})

    def test_a_protocol_1_server_is_named(self):
        def protocol_1(server, rid, header, body):
            server.command.send_multipart([rid, b'{"type":"hello","server":"curvehost","protocol":1}'])

        self.server.handlers["hello"] = protocol_1
        with self.assertRaisesRegex(ConnectError, "^The server speaks protocol 1, this client protocol 2: update the older one.$"):
            self.client(sync=False).hello()

    def test_protocol_mismatch_is_a_connect_error(self):
        def mismatch(server, rid, header, body):
            server.send(server.command, rid, {"type": "error", "ref": header["ref"], "code": "protocol_mismatch", "message": "no"})

        self.server.handlers["join"] = mismatch
        with self.assertRaisesRegex(ConnectError, "^The server speaks another protocol, this client protocol 2"):
            self.client(sync=False).join()

    def test_a_port_with_nothing_behind_it_cannot_be_reached(self):
        port = free_port()
        with self.assertRaisesRegex(ConnectError, r"^Cannot reach 127\.0\.0\.1:%d: is the server running" % port):
            self.client(sync=False, port=port, timeout=1.0).hello()

    def test_a_wrong_server_key_fails_the_handshake(self):
        with self.assertRaisesRegex(ConnectError, "handshake .* did not complete: the server key in the invite is probably wrong"):
            self.client(sync=False, server_key=keypair()[0], timeout=1.0).hello()

    def test_a_malformed_reply_is_a_connect_error(self):
        self.server.handlers["users"] = lambda server, rid, header, body: server.send(server.command, rid, {"type": "users", "ref": header["ref"], "users": "x"})
        with self.assertRaisesRegex(ConnectError, "not protocol 2"):
            self.client().users()

    def test_a_replica_from_an_earlier_connection_resyncs_and_loses_nothing(self):
        first = self.client()
        self.server.call(lambda server: server.put("bob", "before", b"1"))
        self.poll_until(first, lambda events: "before" in self.commits(events))
        first.close()
        since = first.replica.seq
        self.server.call(lambda server: (server.put("bob", "while away", b"2"), server.put("bob", "also", b"3")))
        second = self.client(replica=first.replica)
        self.assertEqual(self.server.call(lambda server: [h["since"] for h in server.requests if h["type"] == "resync"]), [since])
        self.assertEqual(self.commits(second.poll()), ["while away", "also"])
        self.assertEqual(second.replica.nodes["also"].data, b"3")


class Commits(Fixture):
    def test_a_commit_in_pieces_arrives_whole_and_is_acknowledged_by_its_event(self):
        client = self.client()
        data = os.urandom(20000)
        seq = client.commit([{"id": "x", "kind": "MESH", "deps": ["y"]}], [data])
        header, body = self.server.call(lambda server: server.received[-1])
        self.assertEqual(self.server.call(lambda server: server.nodes["x"]["parts"]), [data])
        self.assertLessEqual(self.server.largest, FRAME)
        self.assertEqual(client.replica.nodes["x"].data, data)
        self.assertEqual(client.replica.seq, seq)
        event, = [event for event in client.poll() if event["type"] == "commit"]
        self.assertEqual((event["seq"], event["from"], event["nodes"][0]["data"], event["nodes"][0]["deps"]), (seq, "alice", data, ["y"]))
        self.assertIn("ref", event)

    def test_a_batch_is_one_event(self):
        client = self.client()
        seq = client.commit([{"id": "a"}, {"id": "b", "mode": "full"}, {"id": "c", "owner": "common"}], [b"1", b"22", b"333"])
        event = self.server.call(lambda server: server.journal[-1][1])
        self.assertEqual(event["seq"], seq)
        self.assertEqual({node_id: node.data for node_id, node in client.replica.nodes.items()}, {"a": b"1", "b": b"22", "c": b"333"})

    def test_a_rejection_raises_with_its_code_and_node(self):
        client = self.client()
        with self.assertRaises(ServerError) as raised:
            client.commit([{"id": "ghost", "mode": "delta"}], [b"x"])
        self.assertEqual((raised.exception.code, raised.exception.id), ("not_found", "ghost"))

    def test_without_waiting_the_outcome_comes_through_poll(self):
        client = self.client()
        ok = client.commit([{"id": "fine"}], [b"x"], wait=False)
        bad = client.commit([{"id": "ghost", "mode": "delta"}], [b"x"], wait=False)
        self.assertNotEqual(ok, bad)
        events = self.poll_until(client, lambda events: any(e["type"] == "rejected" for e in events) and "fine" in self.commits(events))
        commit, = [e for e in events if e["type"] == "commit"]
        rejected, = [e for e in events if e["type"] == "rejected"]
        self.assertEqual(commit["ref"], ok)
        self.assertEqual((rejected["ref"], rejected["code"], rejected["id"]), (bad, "not_found", "ghost"))

    def test_events_read_while_waiting_are_kept_for_poll(self):
        client = self.client()
        self.server.call(lambda server: server.put("bob", "meanwhile", b"m"))
        client.commit([{"id": "mine"}], [b"x"])
        self.assertEqual(self.commits(client.poll()), ["meanwhile", "mine"])

    def test_lock_returns_once_the_replica_shows_it(self):
        client = self.client()
        self.server.call(lambda server: server.put("bob", "shared", b"s", owner="common"))
        self.poll_until(client, lambda events: "shared" in self.commits(events))
        seq = client.lock(["shared"])
        self.assertEqual((client.replica.seq, client.replica.nodes["shared"].owner), (seq, "alice"))
        client.give(["shared"], "bob")
        self.assertEqual(client.replica.nodes["shared"].owner, "bob")

    def test_entries_are_checked_before_anything_is_sent(self):
        client = self.client()
        for entries, datas, error in (
            ([{"id": "a"}], [], ValueError),
            ([{"id": 1}], [b""], TypeError),
            ([{"id": "a", "colour": "red"}], [b""], ValueError),
            ([{"id": "a"}], ["text"], TypeError),
        ):
            with self.subTest(entries=entries, datas=datas):
                with self.assertRaises(error):
                    client.commit(entries, datas)
        self.assertEqual(self.server.call(lambda server: server.received), [])


class KeepingInStep(Fixture):
    def test_a_gap_in_seq_is_filled_by_resync(self):
        client = self.client()
        self.server.call(lambda server: (setattr(server, "drop_next", 1), server.put("bob", "lost", b"1"), server.put("bob", "next", b"2")))
        events = self.poll_until(client, lambda events: "next" in self.commits(events))
        self.assertEqual(self.commits(events), ["lost", "next"])
        self.assertEqual(client.replica.nodes["lost"].data, b"1")
        self.assertEqual(client.resyncs, 1)

    def test_a_ping_shows_a_lost_event_that_nothing_followed(self):
        client = self.client()
        self.server.call(lambda server: (setattr(server, "drop_next", 1), server.put("bob", "last", b"1")))
        self.poll_until(client, lambda events: "last" in self.commits(events))
        self.assertGreaterEqual(client.resyncs, 1)

    def test_a_reconnected_subscriber_resyncs(self):
        client = self.client()

        def replace(server):
            server.ping_seq = 0  # the pings do not give it away: only the reconnection can
            server.cut(("pub",))  # as the real server replaces its PUB when a user is removed (§8)
            server.put("bob", "while nobody listened", b"1")

        self.server.call(replace)
        self.poll_until(client, lambda events: "while nobody listened" in self.commits(events))
        self.assertEqual(client.resyncs, 1)

    def test_a_replay_with_a_hole_is_asked_again_from_where_it_stopped(self):
        client = self.client()
        ref = client.commit([{"id": "mine"}], [b"m"], wait=False)
        self.poll_until(client, lambda events: any(e.get("ref") == ref for e in events))

        def hole(server, rid, header, body):
            # As if the command connection were cut in the middle of the replay: one event lost.
            server.handlers.pop("resync")
            server.seen[rid].add(header["ref"])
            replayed = [(seq, event, event_body) for seq, event, event_body in server.journal if seq > header["since"]]
            for seq, event, event_body in replayed[:1] + replayed[2:]:
                server.send(server.command, rid, event, event_body)
            server.send(server.command, rid, {"type": "resynced", "ref": header["ref"], "seq": server.seq, "presence": server.presence})

        def lose_three(server):
            server.handlers["resync"] = hole
            server.drop_next = 3
            server.put("bob", "a", b"1")
            server.put("bob", "b", b"2")

        self.server.call(lose_three)
        late = client.commit([{"id": "late"}], [b"l"], wait=False)  # its event is lost too
        events = self.poll_until(client, lambda events: any(e.get("ref") == late for e in events))
        self.assertEqual(self.commits(events), ["a", "b", "late"])
        self.assertNotIn("synced", [e["type"] for e in events])
        resyncs = [h for h in self.server.call(lambda server: server.requests) if h["type"] == "resync"]
        self.assertEqual(len(resyncs), 2)
        self.assertEqual(resyncs[1]["since"], resyncs[0]["since"] + 1)

    def test_too_old_fetches_everything_again(self):
        client = self.client()

        def forget(server):
            server.drop_next = 1
            server.put("bob", "a", b"1")
            server.oldest = server.seq
            server.put("bob", "b", b"2")

        self.server.call(forget)
        events = self.poll_until(client, lambda events: any(e["type"] == "synced" for e in events))
        self.assertEqual(client.replica.seq, self.server.call(lambda server: server.seq))
        self.assertEqual({k: n.data for k, n in client.replica.nodes.items()}, {"a": b"1", "b": b"2"})
        self.assertEqual(events[-1], {"type": "synced", "seq": client.replica.seq})

    def test_presence_goes_out_and_comes_back(self):
        client = self.client()
        client.set_presence({"frame": 3})
        events = self.poll_until(client, lambda events: any(e["type"] == "presence" for e in events))
        self.assertEqual([(e["from"], e["data"]) for e in events if e["type"] == "presence"], [("alice", {"frame": 3})])
        self.assertEqual(client.replica.presence["alice"]["data"], {"frame": 3})

    def test_junk_from_the_server_is_dropped_and_the_client_goes_on(self):
        client = self.client()

        def junk(server):
            rid = next(iter(server.bound))
            seq = server.seq + 1
            for frame in (
                b"not json\n", b"\xff\xfe\n", b"[" * 100000 + b"\n", b'{"type":"more","offset":5}\nxx',
                b'{"type":"commit","seq":"x"}\n', b'{"type":"commit","seq":%d,"from":"x","manifest":999}\nabc' % seq,
                b'{"type":"rights","seq":%d,"from":"x","owner":"y"}\n{"not":"ids"}' % seq,
                b'{"type":"commit","seq":%d,"from":"x","manifest":2}\n[1]' % seq,
                b'{"type":"users","seq":%d,"users":[{"no":"name"}]}\n' % seq,
                b'{"type":"presence","from":"x","latency":"slow"}\n', b'{"type":"party","seq":%d}\n' % seq,
                b'{"type":"commit","seq":%d,"from":"x","size":99999}\nabc' % seq,
            ):
                server.pub.send(frame)
            server.pub.send_multipart([b'{"type":"session","seq":%d,"state":"open"}\n' % seq, b"second frame"])
            for frame in (b"junk", b'{"type":"rejected","ref":[1]}\n', b'{"type":"rejected"}\n'):
                server.publisher.send_multipart([rid, frame])
            for frame in (b'{"type":"ping","n":"x"}\n', b"\x00", b'{"type":"ping","n":-1,"seq":{}}\n'):
                server.ttl.send_multipart([rid, frame])
            server.command.send_multipart([rid, b'{"type":"kicked"\n'])
            server.put("bob", "after the junk", b"ok")

        self.server.call(junk)
        events = self.poll_until(client, lambda events: "after the junk" in self.commits(events))
        self.assertEqual([e["type"] for e in events], ["commit"])
        self.assertIsNone(client.lost)
        self.assertEqual(client.replica.nodes["after the junk"].data, b"ok")


class Losing(Fixture):
    def test_kicked(self):
        client = self.client()
        self.server.call(lambda server: server.send(server.command, next(iter(server.bound)), {"type": "kicked", "by": "bob"}))
        events = self.poll_until(client, lambda events: any(e["type"] == "lost" for e in events))
        self.assertEqual(events, [{"type": "kicked", "by": "bob"}, {"type": "lost", "reason": "Kicked by bob."}])
        self.assertEqual(client.poll(), [])
        with self.assertRaisesRegex(ConnectError, "Kicked by bob"):
            client.lock(["x"])

    def test_a_closing_session(self):
        client = self.client()
        self.server.call(lambda server: server.publish({"type": "session", "state": "closing"}))
        events = self.poll_until(client, lambda events: any(e["type"] == "lost" for e in events))
        self.assertEqual([e["type"] for e in events], ["session", "lost"])
        self.assertEqual(client.replica.state, "closing")

    def test_no_ping_for_the_server_s_timeout(self):
        self.server.timeout_ms = 1000
        client = self.client(timeout=10.0)
        self.assertEqual((client.limits["timeout"], client.lost_timeout), (1000, 1.0))
        self.server.call(lambda server: setattr(server, "pinging", False))
        events = self.poll_until(client, lambda events: any(e["type"] == "lost" for e in events), timeout=4)
        self.assertIn("no ping for 1 s", events[-1]["reason"])
        self.assertEqual(client.lost, events[-1]["reason"])

    def test_a_lost_timeout_given_is_used_instead(self):
        client = self.client(lost_timeout=0.5)
        self.assertEqual((client.limits["timeout"], client.lost_timeout), (5000, 0.5))
        self.server.call(lambda server: setattr(server, "pinging", False))
        events = self.poll_until(client, lambda events: any(e["type"] == "lost" for e in events), timeout=3)
        self.assertIn("no ping for 0.5 s", events[-1]["reason"])

    def test_pings_are_answered_while_the_caller_is_busy(self):
        self.client()
        before = len(self.server.call(lambda server: server.pongs))
        time.sleep(1.0)  # a long Blender operator: nothing on this thread reads a socket
        self.assertGreaterEqual(len(self.server.call(lambda server: server.pongs)) - before, 5)

    def test_close_stops_the_thread_and_can_be_called_twice(self):
        client = self.client()
        self.assertIn("curvehost ttl", [thread.name for thread in threading.enumerate()])
        client.close()
        client.close()
        self.assertNotIn("curvehost ttl", [thread.name for thread in threading.enumerate()])
        self.assertEqual(client.poll(), [])

    def test_leave(self):
        client = self.client()
        client.leave()
        self.assertEqual(self.server.call(lambda server: list(server.bound.values())), [])
        client.close()


class WithoutWaiting(Fixture):
    """Requests sent with wait=False: the ref at once, the outcome through poll()."""

    def test_a_lock_is_a_reply_after_the_event_that_shows_it(self):
        client = self.client()
        self.server.call(lambda server: server.put("bob", "shared", b"s", owner="common"))
        self.poll_until(client, lambda events: "shared" in self.commits(events))
        ref = client.lock(["shared"], wait=False)
        self.assertIsInstance(ref, int)
        events = self.poll_until(client, lambda events: any(e["type"] == "reply" for e in events))
        self.assertEqual([e["type"] for e in events], ["rights", "reply"])
        self.assertEqual(events[-1], {"type": "reply", "ref": ref, "request": "lock", "seq": events[0]["seq"]})
        self.assertEqual(client.replica.nodes["shared"].owner, "alice")

    def test_a_lock_of_a_node_someone_else_holds_is_refused_with_its_id(self):
        client = self.client()
        self.server.call(lambda server: server.put("bob", "theirs", b"t"))
        self.poll_until(client, lambda events: "theirs" in self.commits(events))
        ref = client.lock(["theirs"], wait=False)
        events = self.poll_until(client, lambda events: any(e["type"] == "refused" for e in events))
        refused, = [e for e in events if e["type"] == "refused"]
        self.assertEqual((refused["ref"], refused["request"], refused["code"], refused["id"]), (ref, "lock", "denied", "theirs"))
        self.assertIn("message", refused)
        self.assertEqual(client.replica.nodes["theirs"].owner, "bob")

    def test_presence_beyond_the_rate_is_refused_in_poll(self):
        client = self.client()
        refs = [client.set_presence({"n": n}, wait=False) for n in range(40)]
        self.assertEqual(len(set(refs)), 40)
        events = self.poll_until(client, lambda events: len([e for e in events if e["type"] in ("reply", "refused")]) == 40)
        outcomes = {e["ref"]: e for e in events if e["type"] in ("reply", "refused")}
        self.assertEqual(sorted(outcomes), refs)
        refused = [e for e in outcomes.values() if e["type"] == "refused"]
        self.assertEqual({(e["request"], e["code"]) for e in refused}, {("presence", "rate_limited")})
        self.assertEqual(len(refused), 10)  # 30 a second

    def test_users_and_delete(self):
        client = self.client()
        client.commit([{"id": "gone"}], [b"x"])
        users_ref, delete_ref = client.users(wait=False), client.delete(["gone"], wait=False)
        events = self.poll_until(client, lambda events: sum(e["type"] == "reply" for e in events) == 2)
        replies = {e["ref"]: e for e in events if e["type"] == "reply"}
        self.assertEqual([user["name"] for user in replies[users_ref]["users"]], ["alice"])
        self.assertEqual(replies[delete_ref]["request"], "delete")
        self.assertNotIn("gone", client.replica.nodes)

    def test_a_waited_request_keeps_what_came_meanwhile(self):
        client = self.client()
        ref = client.set_presence({"frame": 1}, wait=False)
        client.users()  # waits: the presence's reply and event arrive meanwhile
        events = client.poll()
        self.assertIn(("reply", ref), [(e["type"], e.get("ref")) for e in events])


class Held(Fixture):
    """Replies to requests sent without waiting that come before the events they wait for:
    held until the replica shows them, then handed over in the order they came."""

    def answered_ahead(self, seqs):
        """A client whose locks were answered, in turn, with these seqs above its replica's
        (no event published): their refs, and a rights event for each seq up to the highest."""
        client = self.client()
        base = client.replica.seq
        answers = iter(seqs)

        def ahead(server, rid, header, body):
            server.send(server.command, rid, {"type": "ok", "ref": header["ref"], "seq": base + next(answers)})

        self.server.handlers["lock"] = ahead
        refs = [client.lock(["n%d" % n], wait=False) for n in range(len(seqs))]
        deadline = time.monotonic() + 10
        while client._requests:
            self.assertLess(time.monotonic(), deadline, "%d replies still to come" % len(client._requests))
            self.assertEqual(client.poll(0.05), [], "held until the replica shows them")
        events = [wire.Message({"type": "rights", "seq": base + n, "from": "bob", "owner": "common"}, wire.encode_ids(["n0"]))
                  for n in range(1, max(seqs) + 1)]
        return client, refs, events

    def outcomes(self, events):
        return [e["seq"] if e["type"] == "rights" else e["ref"] for e in events]

    def test_each_reply_comes_right_after_the_event_that_shows_it(self):
        client, refs, events = self.answered_ahead([2, 1, 3, 2])
        got = []
        for event in events:
            client._inbox.append(event)  # as the subscriber port gives them: one a step
            got += self.outcomes(client.poll())
        seqs = [event.header["seq"] for event in events]
        self.assertEqual(got, [seqs[0], refs[1], seqs[1], refs[0], refs[3], seqs[2], refs[2]])

    def test_replies_released_together_come_in_the_order_they_came(self):
        client, refs, events = self.answered_ahead([2, 1, 3, 2])
        client._inbox.extend(events)  # all in one step
        self.assertEqual(self.outcomes(client.poll()), [event.header["seq"] for event in events] + refs)

    def test_releasing_costs_in_proportion_to_what_is_held(self):
        # Each step looks at the replies its event releases, not at every one held.
        runs = {}
        for count in (1000, 2000):
            client, refs, events = self.answered_ahead(range(1, count + 1))
            got = []

            def release():
                for event in events:
                    client._inbox.append(event)
                    got.extend(client.poll())

            runs[count] = lines_run(client_module, release)
            self.assertEqual([e["ref"] for e in got if e["type"] == "reply"], refs)
        self.assertLess(runs[2000], 2.5 * runs[1000], "lines of client.py run: %r" % runs)


class Cuts(Fixture):
    """The server cuts connections (PROTOCOL.md §8): what was in flight is sent again, once."""

    def test_a_request_lost_in_a_cut_of_the_command_port_is_sent_again_and_answered(self):
        client = self.client()

        def swallow_and_cut(server, rid, header, body):
            server.handlers.pop("users")
            server.cut(("command",))

        self.server.handlers["users"] = swallow_and_cut
        self.assertEqual([user["name"] for user in client.users()], ["alice"])
        self.assertEqual(client.resent, 1)
        self.assertEqual([h["type"] for h in self.server.call(lambda server: server.requests)][-2:], ["users", "users"])

    def test_requests_answered_before_the_cut_are_not_carried_out_again(self):
        client = self.client()
        self.server.call(lambda server: server.put("bob", "shared", b"s", owner="common"))
        self.poll_until(client, lambda events: "shared" in self.commits(events))

        def lock_then_cut(server, rid, header, body):
            # The connection goes; the request is carried out, and its reply waits for the client.
            server.handlers.pop("lock")
            server.cut(("command",))
            server._command(rid, header, body)

        self.server.handlers["lock"] = lock_then_cut
        ref = client.lock(["shared"], wait=False)
        events = self.poll_until(client, lambda events: any(e["type"] in ("reply", "refused") for e in events))
        outcomes = [e for e in events if e["type"] in ("reply", "refused")]
        self.assertEqual([(e["type"], e["ref"]) for e in outcomes], [("reply", ref)])
        self.assertEqual(len([e for e in events if e["type"] == "rights"]), 1)
        self.assertEqual(client.replica.nodes["shared"].owner, "alice")
        self.assertEqual(self.server.call(lambda server: server.repeats), [("command", ref)], "sent again, and dropped")
        self.assertEqual(client.resent, 1)

    def test_commits_lost_in_a_cut_are_sent_again_in_order_and_applied_once(self):
        client = self.client()
        refs = [client.commit([{"id": "chain"}], [b"0"], wait=False)]
        events = self.poll_until(client, lambda events: "chain" in self.commits(events))
        taken = lambda count: lambda: self.server.call(lambda server: len(server.received)) == count  # noqa: E731
        # Applied, and its event lost: unacknowledged when the cut comes.
        self.server.call(lambda server: setattr(server, "drop_next", 1))
        refs.append(client.commit([{"id": "chain", "mode": "delta"}], [b"1"], wait=False))
        self.wait_for(taken(2), what="the server taking the commit")
        # Lost in the cut: never arrived.
        self.server.call(lambda server: setattr(server, "lose_commits", 2))
        refs += [client.commit([{"id": "chain", "mode": "delta"}], [b"%d" % n], wait=False) for n in (2, 3)]
        self.wait_for(lambda: self.server.call(lambda server: server.lose_commits) == 0, what="the commits lost")
        self.server.call(lambda server: server.cut(("publisher",), rebind=False))
        deadline = time.monotonic() + 5
        while client._publisher_link.watch.up:
            self.assertLess(time.monotonic(), deadline, "the client did not see the cut")
            events += client.poll(0.05)
        # Sent while no connection is up: it waits, and goes after the ones sent again.
        refs.append(client.commit([{"id": "chain", "mode": "delta"}], [b"4"], wait=False))
        self.server.call(lambda server: server.rebind(("publisher",)))
        events += self.poll_until(client, lambda more: set(refs) <= {e.get("ref") for e in events + more if e["type"] == "commit"})
        acks = [e["ref"] for e in events if e["type"] == "commit" and e["from"] == "alice"]
        self.assertEqual(acks, refs, "each acknowledged once, in order")
        self.assertEqual(self.server.call(lambda server: server.nodes["chain"]["parts"]), [b"0", b"1", b"2", b"3", b"4"])
        self.assertEqual(client.replica.nodes["chain"].data, b"01234")
        self.assertEqual(self.server.call(lambda server: server.repeats), [("publisher", refs[1])], "the one applied was dropped")
        self.assertEqual(client.resent, 3)

    def test_a_rejection_of_a_copy_cut_short_is_not_the_outcome(self):
        client = self.client()
        ref = client.commit([{"id": "x"}], [b"x"], wait=False)
        self.poll_until(client, lambda events: any(e.get("ref") == ref for e in events))

        def incomplete_then_accept(server):
            rid = next(iter(server.bound))
            server.send(server.publisher, rid, {"type": "rejected", "ref": ref + 1, "code": "incomplete", "message": "cut short"})

        self.server.call(lambda server: setattr(server, "lose_commits", 1))
        second = client.commit([{"id": "y"}], [b"y"], wait=False)
        self.assertEqual(second, ref + 1)
        self.wait_for(lambda: self.server.call(lambda server: server.lose_commits == 0), what="the server taking the commit")
        self.server.call(incomplete_then_accept)
        self.assertEqual([e["type"] for e in client.poll(0.3)], [])
        self.server.call(lambda server: server.cut(("publisher",)))
        events = self.poll_until(client, lambda events: any(e.get("ref") == second for e in events))
        self.assertEqual([(e["type"], e.get("ref")) for e in events], [("commit", second)])


if __name__ == "__main__":
    unittest.main()
