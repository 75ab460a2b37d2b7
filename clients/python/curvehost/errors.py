"""The exceptions the package raises on purpose, one per kind of trouble.

A caller (the Blender add-on) needs to tell three things apart: the server said no to one
request (ServerError: show its message, maybe retry), the connection itself does not work
(ConnectError: show the sentence, reconnect), and an invite file is unusable (InviteError:
ask for another). Anything a hostile or broken server sends ends up as one of these, or is
dropped; it never surfaces as a KeyError or a json error.
"""


class ServerError(Exception):
    """The server refused a request or a commit (PROTOCOL.md §10).

    `code` says what to do (`denied`, `rate_limited`, `too_old`…), `message` is the server's
    sentence for people, and `id` names the node at fault when there is one.
    """

    def __init__(self, code, message, id=None):
        super().__init__("%s (%s)" % (message, code))
        self.code = code
        self.message = message
        self.id = id


class ConnectError(Exception):
    """The connection does not work; the text is a sentence a collaborator can act on.

    The sentences follow `curvehost check`: cannot reach the server, the server refused the
    key, the handshake did not complete, the server speaks another protocol, no reply in time.
    """


class InviteError(ValueError):
    """An invite file cannot be used; the text says which file and what is wrong with it."""
