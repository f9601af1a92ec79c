"""kazoo (Debian's python3-kazoo) against a ZooKeeper-protocol server: creates,
watches, ephemeral and sequential nodes, transactions, and kazoo's Lock, Election,
Queue and Counter recipes with a few contenders. Prints one JSON line of results;
the test compares them with what ZooKeeper's semantics require."""
import json, sys, threading, time
from kazoo.client import KazooClient
from kazoo.exceptions import BadVersionError, NoNodeError, NodeExistsError, RolledBackError, RuntimeInconsistency

hosts, root = sys.argv[1], sys.argv[2]
out = {}

def client():
    zk = KazooClient(hosts=hosts, timeout=10)
    zk.start(timeout=20)
    return zk

zk = client()
out["session_ok"] = zk.client_id[0] > 0
zk.ensure_path(root + "/data")
out["create"] = zk.create(root + "/data/a", b"v1")
# a value created None reads back None (a -1 length on the wire), an empty one b""
zk.create(root + "/values/none", None, makepath=True)
zk.create(root + "/values/empty", b"")
out["none_and_empty"] = [zk.get(root + "/values/none")[0], zk.get(root + "/values/empty")[0].decode()]
try:
    zk.create(root + "/data/a", b"again")
except NodeExistsError:
    out["exists_error"] = "NodeExists"
out["seq"] = [zk.create(root + "/data/s-", b"", sequence=True) for _ in range(3)]
eph = zk.create(root + "/data/e", b"mine", ephemeral=True)
out["ephemeral_owner_is_session"] = zk.exists(eph).ephemeralOwner == zk.client_id[0]

# watches: one data watch, one child watch, one exists watch on a missing node
events = []
done = threading.Event()
def record(event):
    events.append([event.type, event.path])
    if len(events) >= 3:
        done.set()
zk.get(root + "/data/a", watch=record)
zk.get_children(root + "/data", watch=record)
zk.exists(root + "/data/later", watch=record)
zk.set(root + "/data/a", b"v2")
zk.create(root + "/data/later", b"")
done.wait(10)
out["events"] = sorted(events)

# transactions
t = zk.transaction()
t.create(root + "/data/t1", b"1")
t.set_data(root + "/data/a", b"v3", version=1)
t.check(root + "/data/a", 2)
out["txn"] = [r if isinstance(r, (str, bool)) else "stat" for r in t.commit()]
t = zk.transaction()
t.create(root + "/data/t2", b"1")
t.check(root + "/data/a", 99)
t.delete(root + "/data/t1")
out["failed_txn"] = [type(r).__name__ for r in t.commit()]
out["t2_absent"] = zk.exists(root + "/data/t2") is None

# Lock: 4 contenders, each increments a shared value under the lock
clients = [client() for _ in range(4)]
zk.create(root + "/locked-value", b"0")
def locked_increments(c, n):
    lock = c.Lock(root + "/lock")
    for _ in range(n):
        with lock:
            value, stat = c.get(root + "/locked-value")
            c.set(root + "/locked-value", str(int(value) + 1).encode(), version=stat.version)
threads = [threading.Thread(target=locked_increments, args=(c, 5)) for c in clients]
[t.start() for t in threads]
[t.join(60) for t in threads]
out["lock_total"] = int(zk.get(root + "/locked-value")[0])

# Counter: 4 contenders x 5 increments (kazoo retries on BadVersion)
def count(c, n):
    counter = c.Counter(root + "/counter")
    for _ in range(n):
        counter += 1
threads = [threading.Thread(target=count, args=(c, 5)) for c in clients]
[t.start() for t in threads]
[t.join(60) for t in threads]
out["counter"] = zk.Counter(root + "/counter").value

# Election: the first contender leads; when it leaves, another does
leaders = []
lead_events = [threading.Event() for _ in clients]
release = [threading.Event() for _ in clients]
def run(i):
    leaders.append(i)
    lead_events[i].set()
    release[i].wait(30)
elections = [c.Election(root + "/election", "c%d" % i) for i, c in enumerate(clients[:3])]
threads = [threading.Thread(target=e.run, args=(run, i)) for i, e in enumerate(elections)]
for t in threads:
    t.start()
    time.sleep(0.3)
lead_events[0].wait(10)
out["election_contenders"] = len(elections[0].contenders())
release[0].set()
lead_events[1].wait(10) or lead_events[2].wait(10)
for r in release:
    r.set()
[t.join(30) for t in threads]
out["leaders"] = leaders

# Queue: FIFO across clients
q = clients[0].Queue(root + "/queue")
for item in [b"one", b"two", b"three"]:
    q.put(item)
q2 = clients[1].Queue(root + "/queue")
out["queue"] = [q2.get().decode(), q2.get().decode(), q2.get().decode()]
out["queue_empty"] = q2.get() is None

for c in clients:
    c.stop(); c.close()
zk.stop(); zk.close()

# ephemeral gone after close
zk = client()
out["ephemeral_gone"] = zk.exists(eph) is None
zk.stop(); zk.close()
print(json.dumps(out))
