"""Selecting an object asks the server for it and its data (lock); deselecting gives them back
(unlock). Who holds what is always read from the replica: the server's owner field."""
import time

from .outgoing import COMMON

# A request is not repeated while its rights event may still be on its way.
ANSWER_WAIT = 2.0
# With the same selection and no news from the server, the locks are looked at this often.
QUIET_RECHECK = 1.0


class Rights:
    def __init__(self, session):
        self.session = session
        self.asked = {}  # node id → when it was locked or unlocked
        self.refused = {}  # node id → who held it when our lock was refused
        self.news = True  # owners may have changed since the last look (set by the session)
        self._looked = (None, 0.0)  # the selection at the last look, and when

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
        groups = []
        for obj in selected:
            group = [registry.id_of(block, create=False) for block in (obj, obj.data) if block is not None]
            groups.append([nid for nid in group if nid in nodes])
        wanted = {nid for group in groups for nid in group}
        release = sorted(nid for nid, node in nodes.items() if node.owner == me and nid not in wanted and nid not in self.asked)
        if release:
            self._ask(session.client.unlock, release, now)
        for group in groups:
            need = [nid for nid in group if nodes[nid].owner != me and nid not in self.asked]
            if not need or any(self.refused.get(nid) == nodes[nid].owner for nid in need):
                continue
            if not self._ask(session.client.lock, need, now):
                holders = sorted({nodes[nid].owner for nid in need} - {COMMON, me})
                for nid in need:
                    self.refused[nid] = nodes[nid].owner
                session.report(f"{group_name(session, group)} is held by {', '.join(holders) or 'someone'}")

    def _ask(self, request, ids, now):
        try:
            request(ids)
        except self.session.ServerError as error:
            if error.code != "denied":
                self.session.report(f"the server refused: {error.message}")
            return False
        for nid in ids:
            self.asked[nid] = now
        return True


def group_name(session, group):
    block = session.registry.get(group[0])
    return block.name if block is not None else group[0]
