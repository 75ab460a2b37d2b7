"""Selecting an object asks the server for it and its data (lock); deselecting gives them back
(unlock). Who holds what is always read from the replica: the server's owner field.

The requests go without waiting for the answer (the client's wait=False), so a selection
never freezes Blender for a round trip. What the server did shows in the replica (the rights
event); a refusal comes back through the session's poll() and lands in `refused`."""
import time

from .outgoing import COMMON

# A request is not repeated while its answer or its rights event may still be on its way.
ANSWER_WAIT = 2.0
# With the same selection and no news from the server, the locks are looked at this often.
QUIET_RECHECK = 1.0
# Who held a node when our lock was refused, before the replica shows it: the refusal may
# arrive before the rights event of the user who took the node.
UNKNOWN = object()


class Rights:
    def __init__(self, session):
        self.session = session
        self.asked = {}  # node id → when it was locked or unlocked
        self.denied = {}  # node id → who held it when our lock was refused (UNKNOWN until the replica says)
        self.requests = {}  # ref → (request type, node ids, the selected object's group) of requests unanswered
        self.news = True  # owners may have changed since the last look (set by the session)
        self._looked = (None, 0.0)  # the selection at the last look, and when
        self._unreported = []  # (group, node ids, when) of refused locks whose holder is not known yet

    def update(self):
        session = self.session
        nodes, me, registry = session.client.replica.nodes, session.name, session.registry
        now = time.monotonic()
        selected = session.selected_objects()
        key = tuple(obj.as_pointer() for obj in selected)
        if not self.news and key == self._looked[0] and now - self._looked[1] < QUIET_RECHECK:
            return  # walking every node each tick costs more than a tick should
        self.news, self._looked = False, (key, now)
        self.asked = {nid: when for nid, when in self.asked.items() if now - when < ANSWER_WAIT}
        self._learn_holders(nodes, me, now)
        groups = []
        for obj in selected:
            group = [registry.id_of(block, create=False) for block in (obj, obj.data) if block is not None]
            groups.append([nid for nid in group if nid in nodes])
        wanted = {nid for group in groups for nid in group}
        release = sorted(nid for nid, node in nodes.items() if node.owner == me and nid not in wanted and nid not in self.asked)
        if release:
            self._ask("unlock", release, now)
        for group in groups:
            need = [nid for nid in group if nodes[nid].owner != me and nid not in self.asked]
            if not need or any(self.denied.get(nid) == nodes[nid].owner for nid in need):
                continue
            self._ask("lock", need, now, group)

    def _ask(self, kind, ids, now, group=None):
        ref = getattr(self.session.client, kind)(ids, wait=False)
        self.requests[ref] = (kind, ids, group)
        for nid in ids:
            self.asked[nid] = now
            self.denied.pop(nid, None)

    def answered(self, event):
        """A lock or unlock was carried out (through poll(), once the replica shows it)."""
        if self.requests.pop(event.get("ref"), None) is not None:
            self.news = True

    def refused(self, event):
        """A lock or unlock was refused (through poll()). A lock denied because someone else
        holds a node is not asked again while they hold it; which user that is, the replica
        says, maybe only once their rights event has come: it is reported then."""
        kind, ids, group = self.requests.pop(event.get("ref"), (event.get("request"), [], None))
        self.news = True
        if kind == "lock" and event.get("code") == "denied":
            for nid in ids:
                self.denied[nid] = UNKNOWN  # and still asked: not asked again for ANSWER_WAIT
            self._unreported.append((group or ids, ids, time.monotonic()))
            return
        for nid in ids:
            self.asked.pop(nid, None)
        self.session.report(f"the server refused to {kind} {group_name(self.session, group or ids)}: {event.get('message')}")

    def forget_requests(self):
        """A new connection: the old one's requests get no answer any more."""
        self.requests.clear()
        self.asked.clear()
        self.denied.clear()
        self._unreported.clear()
        self.news = True

    def _learn_holders(self, nodes, me, now):
        """Puts a name to the refusals whose holder the replica now shows, and reports them."""
        waiting = []
        for group, ids, when in self._unreported:
            holders = sorted({nodes[nid].owner for nid in ids if nid in nodes} - {COMMON, me})
            if not holders and now - when < ANSWER_WAIT:
                waiting.append((group, ids, when))
                continue
            for nid in ids:
                owner = nodes[nid].owner if nid in nodes else None
                if owner in holders:
                    self.denied[nid] = owner
                elif self.denied.get(nid) is UNKNOWN:
                    del self.denied[nid]  # free, or ours, after all: it may be asked again
            self.session.report(f"{group_name(self.session, group)} is held by {', '.join(holders) or 'someone else'}")
        self._unreported = waiting


def group_name(session, group):
    block = session.registry.get(group[0])
    return block.name if block is not None else group[0]
