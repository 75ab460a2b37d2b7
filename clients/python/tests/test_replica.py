"""Events as the server sends them, checked (messages) and applied (replica)."""
import unittest

from curvehost import Node, Replica, wire
from curvehost.messages import event, nodes
from curvehost.wire import Malformed, Message


def commit_event(seq, entries, datas, **header):
    length, chunks = wire.encode_manifest(entries, datas)
    return Message(dict({"type": "commit", "seq": seq, "from": "bob", "manifest": length}, **header), b"".join(bytes(c) for c in chunks))


def ids_event(kind, seq, ids, **header):
    return Message(dict({"type": kind, "seq": seq, "from": "bob"}, **header), wire.encode_ids(ids))


class Events(unittest.TestCase):
    def test_a_commit_event(self):
        parsed = event(commit_event(3, [{"id": "a", "kind": "MESH", "mode": "full", "owner": "bob", "size": 2, "deps": ["b"]},
                                        {"id": "b", "kind": "", "mode": "delta", "owner": "common", "size": 1}], [b"xy", b"z"], ref=9))
        self.assertEqual(parsed, {"type": "commit", "seq": 3, "from": "bob", "ref": 9, "nodes": [
            {"id": "a", "kind": "MESH", "mode": "full", "owner": "bob", "deps": ["b"], "data": b"xy"},
            {"id": "b", "kind": "", "mode": "delta", "owner": "common", "data": b"z"},
        ]})

    def test_ids_events(self):
        self.assertEqual(event(ids_event("rights", 4, ["a"], owner="carol")), {"type": "rights", "seq": 4, "from": "bob", "owner": "carol", "ids": ["a"]})
        self.assertEqual(event(ids_event("delete", 5, ["a", "b"])), {"type": "delete", "seq": 5, "from": "bob", "ids": ["a", "b"]})

    def test_malformed_events(self):
        good = {"id": "a", "kind": "", "mode": "full", "owner": "bob", "size": 1}
        for message in (
            commit_event(0, [good], [b"x"]),
            commit_event(True, [good], [b"x"]),
            commit_event(1, [dict(good, mode="append")], [b"x"]),
            commit_event(1, [dict(good, owner=None)], [b"x"]),
            commit_event(1, [dict(good, deps="b")], [b"x"]),
            commit_event(1, [dict(good, id=5)], [b"x"]),
            commit_event(1, [{k: v for k, v in good.items() if k != "kind"}], [b"x"]),
            commit_event(1, [good], [b"x"], **{"from": 3}),
            ids_event("rights", 1, ["a"]),
            Message({"type": "delete", "seq": 1, "from": "bob"}, b'{"a":1}'),
            Message({"type": "session", "seq": 1}, b""),
            Message({"type": "users", "seq": 1, "users": [1]}, b""),
            Message({"type": "presence", "from": "x", "data": {}, "latency": "1"}, b""),
            Message({"type": "ok", "seq": 1}, b""),
        ):
            with self.subTest(header=message.header):
                with self.assertRaises(Malformed):
                    event(message)

    def test_a_ref_that_no_client_chooses_is_left_out(self):
        parsed = event(commit_event(1, [{"id": "a", "kind": "", "mode": "full", "owner": "bob", "size": 0}], [b""], ref=[1]))
        self.assertNotIn("ref", parsed)


class Applying(unittest.TestCase):
    def setUp(self):
        self.replica = Replica()
        length, chunks = wire.encode_manifest(
            [{"id": "a", "owner": "bob", "kind": "MESH", "deps": ["b"], "parts": [1, 2]}, {"id": "gone", "removed": True},
             {"id": "b", "owner": "common", "kind": "", "deps": [], "parts": [0]}], [b"x", b"yz", b""])
        users = [{"name": "bob", "role": "member", "state": "joined", "latency": 3}]
        seq, found, state, listed = nodes(Message({"type": "nodes", "seq": 10, "manifest": length, "state": "open", "users": users},
                                                  b"".join(bytes(c) for c in chunks)))
        self.assertEqual((state, listed), ("open", users))
        self.replica.load(seq, found)

    def apply(self, message):
        self.replica.apply(event(message))

    def test_a_fetched_state(self):
        self.assertEqual(self.replica.seq, 10)
        self.assertEqual(self.replica.nodes, {"a": Node("a", "bob", "MESH", ["b"], [b"x", b"yz"]), "b": Node("b", "common", "", [], [b""])})
        self.assertEqual(self.replica.nodes["a"].data, b"xyz")

    def test_full_replaces_delta_appends_and_deps_stay_unless_given(self):
        self.assertEqual(self.replica.nodes["a"].data, b"xyz")  # joined, and kept until a part comes
        self.apply(commit_event(11, [{"id": "a", "kind": "MESH", "mode": "delta", "owner": "bob", "size": 1}], [b"!"]))
        self.assertEqual((self.replica.nodes["a"].data, self.replica.nodes["a"].deps), (b"xyz!", ["b"]))
        self.apply(commit_event(12, [{"id": "a", "kind": "CURVE", "mode": "full", "owner": "bob", "size": 3, "deps": []}], [b"new"]))
        self.assertEqual(self.replica.nodes["a"], Node("a", "bob", "CURVE", [], [b"new"]))
        self.assertEqual(self.replica.seq, 12)

    def test_a_new_node(self):
        self.apply(commit_event(11, [{"id": "c", "kind": "LIGHT", "mode": "full", "owner": "common", "size": 2}], [b"hi"]))
        self.assertEqual(self.replica.nodes["c"], Node("c", "common", "LIGHT", [], [b"hi"]))

    def test_rights_delete_session_users_presence(self):
        self.apply(ids_event("rights", 11, ["a", "b", "unknown"], owner="carol"))
        self.assertEqual([self.replica.nodes[k].owner for k in "ab"], ["carol", "carol"])
        self.apply(ids_event("delete", 12, ["a"]))
        self.assertEqual(list(self.replica.nodes), ["b"])
        self.apply(Message({"type": "session", "seq": 13, "state": "open"}, b""))
        self.apply(Message({"type": "users", "seq": 14, "users": [{"name": "bob", "role": "admin", "state": "joined", "latency": 2}]}, b""))
        self.apply(Message({"type": "presence", "from": "bob", "data": {"frame": 1}, "latency": 2}, b""))
        self.assertEqual((self.replica.state, self.replica.seq), ("open", 14))
        self.assertEqual([user["name"] for user in self.replica.users], ["bob"])
        self.assertEqual(self.replica.presence, {"bob": {"data": {"frame": 1}, "latency": 2}})
        self.apply(Message({"type": "users", "seq": 15, "users": [{"name": "carol", "role": "member", "state": "joined", "latency": 1}]}, b""))
        self.assertEqual(self.replica.presence, {})  # bob left, and his presence with him


class Data(unittest.TestCase):
    def test_a_node_s_data_is_joined_once_until_its_parts_change(self):
        node = Node("a", "bob", parts=[b"x", b"yz"])
        self.assertEqual(node.data, b"xyz")
        self.assertIs(node.data, node.data)
        node.parts.append(b"!")
        self.assertEqual(node.data, b"xyz!")
        node.parts = [b"new"]
        self.assertIs(node.data, node.parts[0])
        self.assertEqual(node, Node("a", "bob", parts=[b"new"]), "the joined data takes no part in comparisons")


if __name__ == "__main__":
    unittest.main()
