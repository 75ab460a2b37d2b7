"""Invite files (`curvehost invite` writes them; src/keys/invite.ts is the reference).

An invite is one JSON document: format "curvehost-invite", version 1, the collaborator's
name and role, the server {host, port, publicKey, fingerprint} and the client {publicKey,
secretKey?}. Everything in it is checked here, so that a wrong file fails with a sentence
naming the file and the fault rather than later as a refused handshake.
"""
import dataclasses
import json
import re

from .errors import InviteError
from .keys import is_key, public_key_of

INVITE_FORMAT = "curvehost-invite"
INVITE_VERSION = 1
ROLES = ("admin", "member")
# The base port P; the server uses P to P+3.
MAX_BASE_PORT = 65535 - 3
_HOST = re.compile(r"[A-Za-z0-9.:_-]{1,253}|\[[0-9A-Fa-f:.]+\]")


@dataclasses.dataclass(frozen=True)
class Invite:
    name: str
    role: str
    host: str
    port: int
    server_key: str
    public_key: str
    # None when the collaborator made their own keypair and kept the secret elsewhere.
    # Left out of repr() so that printing an invite never prints the secret.
    secret_key: "str | None" = dataclasses.field(default=None, repr=False)


def load_invite(path):
    """Reads and checks an invite file; InviteError says what is wrong with it."""
    try:
        with open(path, "rb") as file:
            data = file.read()
    except FileNotFoundError:
        raise InviteError("There is no invite at %s." % path) from None
    except OSError as error:
        raise InviteError("%s cannot be read: %s." % (path, error.strerror or error)) from None
    return parse_invite(data, str(path))


def parse_invite(data, source="This document"):
    """Checks an invite given as text or bytes; `source` names it in errors."""

    def fail(why):
        raise InviteError("%s is not a usable invite: %s." % (source, why))

    try:
        document = json.loads(data)
    except (ValueError, RecursionError):
        fail("it is not JSON")
    if not isinstance(document, dict) or document.get("format") != INVITE_FORMAT:
        fail("it is not a curvehost invite")
    if document.get("version") != INVITE_VERSION:
        fail("it is version %s, this client reads version %d" % (document.get("version"), INVITE_VERSION))
    name, role = document.get("name"), document.get("role")
    server, client = document.get("server"), document.get("client")
    if not isinstance(name, str) or not name:
        fail("it has no name")
    if role not in ROLES:
        fail("its role is neither admin nor member")
    if not isinstance(server, dict):
        fail("it has no server")
    host, port = server.get("host"), server.get("port")
    if not isinstance(host, str) or not _HOST.fullmatch(host):
        fail("it has no usable server host")
    if type(port) is not int or not 1 <= port <= MAX_BASE_PORT:
        fail("its port is not a whole number from 1 to %d" % MAX_BASE_PORT)
    if not is_key(server.get("publicKey")):
        fail("its server public key is not a Z85 key")
    if not isinstance(client, dict) or not is_key(client.get("publicKey")):
        fail("its client public key is not a Z85 key")
    secret = client.get("secretKey")
    if secret is not None:
        if not is_key(secret):
            fail("its client secret key is not a Z85 key")
        if public_key_of(secret) != client["publicKey"]:
            fail("its client secret key does not match its public key")
    return Invite(name, role, host, port, server["publicKey"], client["publicKey"], secret)
