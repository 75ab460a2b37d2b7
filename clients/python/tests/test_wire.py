"""The wire module on its own: frames, pieces both ways at a small frame size, bodies, and
what a hostile peer might send instead."""
import json
import os
import unittest

from curvehost import wire
from curvehost.wire import Malformed, Reassembler

SMALL = 64


def header_of(frame):
    return json.loads(frame.partition(b"\n")[0])


def reassemble(frames):
    """Feeds frames to a Reassembler; returns the messages completed."""
    reassembler = Reassembler()
    return [message for message in map(reassembler.feed, frames) if message is not None]


class Frames(unittest.TestCase):
    def test_a_frame_is_compact_json_a_newline_and_the_body(self):
        frames = list(wire.encode({"type": "lock", "ref": 7}, b"[\"a\"]"))
        self.assertEqual(frames, [b'{"type":"lock","ref":7}\n["a"]'])

    def test_the_newline_is_there_when_the_body_is_empty(self):
        self.assertEqual(list(wire.encode({"type": "leave"})), [b'{"type":"leave"}\n'])

    def test_a_header_with_a_newline_in_a_string_still_ends_at_the_first_newline_byte(self):
        frame, = wire.encode({"type": "presence", "data": {"note": "two\nlines"}}, b"body\nwith newline")
        message = wire.parse_frame(frame)
        self.assertEqual(message.header["data"]["note"], "two\nlines")
        self.assertEqual(message.body, b"body\nwith newline")

    def test_non_ascii_is_written_as_utf8(self):
        frame, = wire.encode({"type": "lock", "id": "cube ü"})
        self.assertIn("ü".encode("utf-8"), frame)
        self.assertEqual(wire.parse_frame(frame).header["id"], "cube ü")

    def test_parse_frame_splits_header_and_body(self):
        message = wire.parse_frame(b'{"type":"ok","seq":3}\nrest')
        self.assertEqual(message.header, {"type": "ok", "seq": 3})
        self.assertEqual(message.body, b"rest")


class Pieces(unittest.TestCase):
    def test_a_message_that_fits_is_one_frame_without_size(self):
        frame, = wire.encode({"type": "commit"}, b"x" * 10, SMALL)
        self.assertNotIn("size", header_of(frame))

    def test_a_frame_of_exactly_the_limit_is_not_cut(self):
        head = b'{"type":"commit"}\n'
        frames = list(wire.encode({"type": "commit"}, b"x" * (SMALL - len(head)), SMALL))
        self.assertEqual(len(frames), 1)
        self.assertEqual(len(frames[0]), SMALL)
        self.assertEqual(len(list(wire.encode({"type": "commit"}, b"x" * (SMALL - len(head) + 1), SMALL))), 2)

    def test_a_large_message_goes_in_pieces_none_above_the_limit(self):
        body = os.urandom(1000)
        frames = list(wire.encode({"type": "commit", "ref": 1, "manifest": 0}, body, SMALL))
        self.assertGreater(len(frames), 10)
        self.assertTrue(all(len(frame) <= SMALL for frame in frames))
        first = header_of(frames[0])
        self.assertEqual((first["type"], first["ref"], first["size"]), ("commit", 1, 1000))
        sent = len(wire.parse_frame(frames[0]).body)
        for frame in frames[1:]:
            piece = wire.parse_frame(frame)
            self.assertEqual(piece.header, {"type": "more", "offset": sent})
            sent += len(piece.body)
        self.assertEqual(sent, 1000)
        self.assertEqual(b"".join(wire.parse_frame(frame).body for frame in frames), body)

    def test_a_body_given_as_chunks_is_cut_across_their_edges(self):
        chunks = [b"", os.urandom(7), os.urandom(150), b"", memoryview(os.urandom(33)), bytearray(os.urandom(91))]
        frames = list(wire.encode({"type": "commit"}, chunks, SMALL))
        message, = reassemble(frames)
        self.assertEqual(message.body, b"".join(bytes(chunk) for chunk in chunks))

    def test_pieces_are_put_back_together_whatever_the_frame_size(self):
        body = os.urandom(5000)
        for frame in (40, 41, 64, 100, 999, 4096, 5100):
            with self.subTest(frame=frame):
                message, = reassemble(wire.encode({"type": "nodes", "seq": 4}, body, frame))
                self.assertEqual(message.header["seq"], 4)
                self.assertEqual(message.body, body)

    def test_the_reassembler_returns_nothing_until_the_last_piece(self):
        reassembler = Reassembler()
        frames = list(wire.encode({"type": "commit"}, b"y" * 300, SMALL))
        self.assertEqual([reassembler.feed(frame) for frame in frames[:-1]], [None] * (len(frames) - 1))
        self.assertTrue(reassembler.busy)
        self.assertEqual(reassembler.feed(frames[-1]).body, b"y" * 300)
        self.assertFalse(reassembler.busy)

    def test_messages_in_pieces_follow_one_another(self):
        frames = list(wire.encode({"type": "commit", "n": 1}, b"a" * 200, SMALL))
        frames += list(wire.encode({"type": "ok", "n": 2}, b"", SMALL))
        frames += list(wire.encode({"type": "commit", "n": 3}, b"b" * 300, SMALL))
        self.assertEqual([(m.header["n"], m.body) for m in reassemble(frames)], [(1, b"a" * 200), (2, b""), (3, b"b" * 300)])

    def test_a_whole_message_with_size_equal_to_its_body(self):
        message, = reassemble([b'{"type":"ok","size":3}\nabc'])
        self.assertEqual(message.body, b"abc")

    def test_a_header_that_cannot_fit_a_frame_is_refused(self):
        with self.assertRaises(ValueError):
            list(wire.encode({"type": "commit", "pad": "x" * 100}, b"z" * 10, SMALL))

    def test_a_frame_too_small_for_a_piece_header_is_refused(self):
        with self.assertRaises(ValueError):
            list(wire.encode({"type": "c"}, b"z" * 100, 25))


class MalformedInput(unittest.TestCase):
    def assertMalformed(self, *frames):
        reassembler = Reassembler()
        with self.assertRaises(Malformed):
            for frame in frames:
                reassembler.feed(frame)
        return reassembler

    def test_frames_that_are_not_protocol_2(self):
        for frame in (
            b"",
            b'{"type":"ok"}',  # no newline: a protocol 1 header
            b"not json\n",
            b"[1,2]\n",
            b'{"no":"type"}\n',
            b'{"type":3}\n',
            b'\xff\xfe{"type":"ok"}\n',
            b'{"type":"ok","seq":NaN}\n',
            b'{"type":"ok","x":Infinity}\n',
            b"[" * 100000 + b"\n",
            b'{"type":"ok"} trailing\n',
        ):
            with self.subTest(frame=frame[:30]):
                self.assertMalformed(frame)

    def test_protocol_1_headers_are_recognised(self):
        self.assertTrue(wire.is_protocol_1(b'{"type":"error","code":"bad_request"}'))
        self.assertFalse(wire.is_protocol_1(b'{"type":"ok"}\n'))
        self.assertFalse(wire.is_protocol_1(b"garbage"))

    def test_sizes_that_do_not_fit(self):
        for size in (-1, 2, "10", True, 1.5, [3]):
            with self.subTest(size=size):
                self.assertMalformed(wire.dumps({"type": "ok", "size": size}) + b"\nabc")

    def test_a_piece_that_continues_nothing(self):
        self.assertMalformed(b'{"type":"more","offset":0}\nabc')

    def test_a_piece_at_the_wrong_offset_ends_the_message(self):
        frames = list(wire.encode({"type": "commit"}, b"q" * 200, SMALL))
        reassembler = self.assertMalformed(frames[0], frames[2])
        self.assertFalse(reassembler.busy)
        with self.assertRaises(Malformed):
            reassembler.feed(frames[3])  # what followed can no longer be placed either

    def test_a_piece_beyond_the_size(self):
        self.assertMalformed(b'{"type":"commit","size":4}\nab', b'{"type":"more","offset":2}\ncde')

    def test_bad_offsets(self):
        for offset in ("2", -2, True, None, 2.0):
            with self.subTest(offset=offset):
                self.assertMalformed(b'{"type":"commit","size":4}\nab', wire.dumps({"type": "more", "offset": offset}) + b"\ncd")

    def test_a_new_message_abandons_an_incomplete_one(self):
        frames = list(wire.encode({"type": "commit", "n": 1}, b"a" * 200, SMALL))
        messages = reassemble([*frames[:2], b'{"type":"ok","n":2}\n', *frames])
        self.assertEqual([m.header["n"] for m in messages], [2, 1])

    def test_the_reassembler_recovers_after_malformed_frames(self):
        reassembler = Reassembler()
        for junk in (b"junk", b'{"type":"more","offset":0}\n'):
            with self.assertRaises(Malformed):
                reassembler.feed(junk)
        message = reassembler.feed(b'{"type":"ok"}\n')
        self.assertEqual(message.header["type"], "ok")


class IdLists(unittest.TestCase):
    def test_round_trip(self):
        ids = ["cube", "Material.001", "ü", "with\nnewline", ""]
        self.assertEqual(wire.parse_ids(wire.encode_ids(ids)), ids)
        self.assertEqual(wire.encode_ids(["a", "b"]), b'["a","b"]')

    def test_ids_are_strings(self):
        with self.assertRaises(TypeError):
            wire.encode_ids(["a", 1])

    def test_malformed_id_lists(self):
        for body in (b"", b"{}", b'["a",1]', b"[null]", b'"a"', b"[", b"\xff"):
            with self.subTest(body=body):
                with self.assertRaises(Malformed):
                    wire.parse_ids(body)


class Manifests(unittest.TestCase):
    def test_a_commit_body_round_trips(self):
        datas = [os.urandom(10), b"", os.urandom(300)]
        entries = [{"id": "a", "size": 10}, {"id": "b", "size": 0}, {"id": "c", "size": 300, "mode": "delta"}]
        length, chunks = wire.encode_manifest(entries, datas)
        body = b"".join(bytes(chunk) for chunk in chunks)
        nodes = wire.parse_manifest({"manifest": length}, body)
        self.assertEqual([entry for entry, _ in nodes], entries)
        self.assertEqual([parts for _, parts in nodes], [[datas[0]], [b""], [datas[2]]])

    def test_a_commit_in_pieces_round_trips(self):
        datas = [os.urandom(2000), os.urandom(1)]
        length, chunks = wire.encode_manifest([{"id": "a", "size": 2000}, {"id": "b", "size": 1}], datas)
        message, = reassemble(wire.encode({"type": "commit", "manifest": length}, chunks, 128))
        self.assertEqual([parts for _, parts in wire.parse_manifest(message.header, message.body)], [[datas[0]], [datas[1]]])

    def test_a_nodes_reply_with_parts_and_removed_ids(self):
        manifest = wire.dumps([{"id": "a", "parts": [2, 3]}, {"id": "gone", "removed": True}, {"id": "b", "parts": [1]}])
        nodes = wire.parse_manifest({"manifest": len(manifest)}, manifest + b"xxyyyz")
        self.assertEqual([(entry["id"], parts) for entry, parts in nodes], [("a", [b"xx", b"yyy"]), ("gone", []), ("b", [b"z"])])

    def test_lengths_must_add_up_exactly(self):
        manifest = wire.dumps([{"id": "a", "size": 3}])
        for body in (manifest + b"ab", manifest + b"abcd"):
            with self.subTest(body=body):
                with self.assertRaises(Malformed):
                    wire.parse_manifest({"manifest": len(manifest)}, body)

    def test_malformed_manifests(self):
        def body(entries):
            text = entries if isinstance(entries, bytes) else wire.dumps(entries)
            return {"manifest": len(text)}, text + b"abc"

        cases = [
            ({"manifest": 100}, b"[]"),
            ({"manifest": -1}, b"[]"),
            ({"manifest": "2"}, b"[]"),
            ({}, b"[]"),
            body(b"{}"),
            body(b"[1]"),
            body(b"[{]"),
            body([{"id": "a", "size": -3}]),
            body([{"id": "a", "size": "3"}]),
            body([{"id": "a", "size": True}]),
            body([{"id": "a", "parts": 3}]),
            body([{"id": "a", "parts": [1, "2"]}]),
            body([{"id": "a", "size": 1 << 70}]),
        ]
        for header, data in cases:
            with self.subTest(header=header, data=data[:40]):
                with self.assertRaises(Malformed):
                    wire.parse_manifest(header, data)


if __name__ == "__main__":
    unittest.main()
