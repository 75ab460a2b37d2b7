"""Reconnecting off Blender's main thread: a server that does not answer must not freeze it."""
import threading


class Attempt(threading.Thread):
    """One reconnection: closes the lost client `old`, then a new client joins and resyncs
    `replica`; `outcome` is the joined client or the error. It touches nothing of Blender's."""

    def __init__(self, session, old, replica):
        super().__init__(name="curvehost reconnect", daemon=True)
        self.session, self.old, self.replica, self.outcome = session, old, replica, None

    def run(self):
        session = self.session
        try:
            self.old.close()  # lost, and no longer used by the main thread: closing may linger
        except Exception:
            pass
        try:
            client = session.curvehost.Client.from_invite(session.invite, timeout=session.timeout, replica=self.replica)
            self.outcome = session._join(client)
        except Exception as error:
            self.outcome = error
            return
        if session.closed:  # closed meanwhile: leave at once
            try:
                self.outcome.leave()
            finally:
                self.outcome.close()


def copy_replica(curvehost, replica):
    """A replica of the same state whose nodes, users and presence the copy's owner may change."""
    copy = curvehost.Replica()
    copy.load(replica.seq, [(n.id, n.owner, n.kind, n.deps, n.parts) for n in replica.nodes.values()])
    copy.state, copy.users, copy.presence = replica.state, list(replica.users), dict(replica.presence)
    return copy
