"""kazoo (Debian's python3-kazoo) through a silent partition: connects to argv[1] with
session timeout argv[3] seconds, creates argv[2]/eph (ephemeral) and sets a data watch
on argv[2]/data, then prints what it sees, one line each, as it happens:
`ready <session id>`, `state <KazooState>`, `event <type> <path>`. (kazoo 2.8 fires
its watches with type NONE when a connection drops, and does not set them again.)
On a line `done` on stdin it prints one JSON line (its session id, whether its
ephemeral is there, the value of argv[2]/data), then closes its session."""
import json, sys
from kazoo.client import KazooClient

hosts, root, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])

def say(line):
    print(line, flush=True)

def on_state(state):
    say("state " + state)

zk = KazooClient(hosts=hosts, timeout=timeout)
zk.add_listener(on_state)
zk.start(timeout=30)
zk.create(root + "/eph", b"mine", ephemeral=True)
zk.get(root + "/data", watch=lambda event: say("event %s %s" % (event.type, event.path)))
say("ready %d" % zk.client_id[0])
for line in sys.stdin:
    if line.strip() == "done":
        break
summary = {"session": zk.client_id[0], "eph": zk.exists(root + "/eph") is not None, "data": zk.get(root + "/data")[0].decode()}
zk.remove_listener(on_state)
say(json.dumps(summary))
zk.stop()
zk.close()
