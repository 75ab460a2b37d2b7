"""Invite files and keys: what `curvehost invite` writes is read, anything else is refused with
a sentence naming the file and the fault."""
import json
import os
import tempfile
import unittest

import zmq

from curvehost import Client, InviteError, load_invite, parse_invite
from curvehost.keys import decode_key, encode_key, public_key_of


def keypair():
    public, secret = zmq.curve_keypair()
    return public.decode(), secret.decode()


def invite(**changes):
    server, client = keypair(), keypair()
    document = {
        "format": "curvehost-invite",
        "version": 1,
        "warning": "This file holds a secret key.",
        "name": "alice",
        "role": "member",
        "server": {"host": "example.org", "port": 5555, "publicKey": server[0], "fingerprint": "SHA256:x"},
        "client": {"publicKey": client[0], "secretKey": client[1]},
    }
    for key, value in changes.items():
        section, _, field = key.partition("__")
        if field:
            document[section][field] = value
        elif value is None:
            del document[section]
        else:
            document[section] = value
    return document


class Invites(unittest.TestCase):
    def test_a_good_invite(self):
        document = invite()
        read = parse_invite(json.dumps(document, indent=2))
        self.assertEqual((read.name, read.role, read.host, read.port), ("alice", "member", "example.org", 5555))
        self.assertEqual((read.server_key, read.public_key, read.secret_key),
                         (document["server"]["publicKey"], document["client"]["publicKey"], document["client"]["secretKey"]))

    def test_the_secret_never_shows_in_repr(self):
        read = parse_invite(json.dumps(invite()))
        self.assertNotIn(read.secret_key, repr(read))

    def test_an_invite_without_a_secret(self):
        document = invite()
        del document["client"]["secretKey"]
        read = parse_invite(json.dumps(document))
        self.assertIsNone(read.secret_key)
        with self.assertRaisesRegex(InviteError, "holds no secret key"):
            Client.from_invite(read)

    def test_bad_invites_say_what_is_wrong(self):
        other_secret = keypair()[1]
        for document, why in (
            ("not json", "it is not JSON"),
            (json.dumps([1]), "it is not a curvehost invite"),
            (json.dumps(invite(format="something")), "it is not a curvehost invite"),
            (json.dumps(invite(version=2)), "it is version 2"),
            (json.dumps(invite(name="")), "it has no name"),
            (json.dumps(invite(role="owner")), "neither admin nor member"),
            (json.dumps(invite(server=None)), "it has no server"),
            (json.dumps(invite(server__host="a b")), "no usable server host"),
            (json.dumps(invite(server__port=65533)), "its port"),
            (json.dumps(invite(server__port="5555")), "its port"),
            (json.dumps(invite(server__port=True)), "its port"),
            (json.dumps(invite(server__publicKey="short")), "server public key"),
            (json.dumps(invite(client__publicKey="#" * 40)), "client public key"),
            (json.dumps(invite(client__secretKey="x")), "client secret key is not"),
            (json.dumps(invite(client__secretKey=other_secret)), "does not match"),
        ):
            with self.subTest(why=why):
                with self.assertRaisesRegex(InviteError, "^This document is not a usable invite: .*" + why):
                    parse_invite(document)

    def test_files(self):
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "alice.invite")
            with open(path, "w") as file:
                json.dump(invite(), file)
            self.assertEqual(load_invite(path).name, "alice")
            with open(path, "w") as file:
                file.write("{")
            with self.assertRaisesRegex(InviteError, "%s is not a usable invite" % path):
                load_invite(path)
            with self.assertRaisesRegex(InviteError, "There is no invite at"):
                load_invite(os.path.join(directory, "missing.invite"))
            with self.assertRaisesRegex(InviteError, "cannot be read"):
                load_invite(directory)

    def test_from_invite_reads_the_file(self):
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "alice.invite")
            with open(path, "w") as file:
                json.dump(invite(), file)
            client = Client.from_invite(path, timeout=1)
            client.close()
            self.assertIsNone(client.name)


class Keys(unittest.TestCase):
    def test_z85_matches_libzmq(self):
        public, secret = keypair()
        self.assertEqual(encode_key(decode_key(public)), public)
        self.assertEqual(public_key_of(secret), public)

    def test_bad_keys(self):
        for text in ("", "x" * 39, "x" * 41, "~" * 40, "#" * 40, None, 12):
            with self.subTest(text=text):
                with self.assertRaises(ValueError):
                    decode_key(text)

    def test_the_client_checks_its_keys(self):
        server, mine, other = keypair(), keypair(), keypair()
        with self.assertRaisesRegex(ValueError, "server_key"):
            Client("localhost", 5555, "x", *mine)
        with self.assertRaisesRegex(ValueError, "is not the secret key"):
            Client("localhost", 5555, server[0], mine[0], other[1])
        with self.assertRaisesRegex(ValueError, "port"):
            Client("localhost", 70000, server[0], *mine)


if __name__ == "__main__":
    unittest.main()
