"""curvehost: a Python client for curvehost sessions (wire protocol 2, PROTOCOL.md).

    from curvehost import Client, load_invite
    client = Client.from_invite("alice.invite")
    client.join()
    replica = client.sync()
    client.commit([{"id": "cube", "kind": "MESH"}], [data])
    for event in client.poll(0.1):
        ...
    client.leave()
    client.close()

Needs pyzmq (with libzmq's CURVE) and PyNaCl; nothing else outside the standard library.
"""
from .client import PROTOCOL, Client
from .errors import ConnectError, InviteError, ServerError
from .invite import Invite, load_invite, parse_invite
from .replica import Node, Replica

__version__ = "0.2.0"
__all__ = [
    "Client",
    "ConnectError",
    "Invite",
    "InviteError",
    "Node",
    "PROTOCOL",
    "Replica",
    "ServerError",
    "load_invite",
    "parse_invite",
]
