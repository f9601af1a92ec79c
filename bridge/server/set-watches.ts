/**
 * setWatches and setWatches2: a reconnecting client re-registers its watches with
 * the zxid it last saw (relativeZxid), and ZooKeeper fires at once those whose node
 * changed since (DataTree.setWatches):
 * - data watch: node gone -> NodeDeleted; mzxid > relativeZxid -> NodeDataChanged; else armed;
 * - exist watch: node there -> NodeCreated; else armed;
 * - child watch: node gone -> NodeDeleted; pzxid > relativeZxid -> NodeChildrenChanged; else armed;
 * - persistent and recursive watches: armed (changes while cut off are not replayed).
 *
 * The bridge does the same with one read per path, sent with `watch: true` so that
 * the read itself arms the host's watch with no gap. mzxid and pzxid are zxids of
 * the node's own shard while the client's view is the highest of any shard, so with
 * mounts "changed since" compares with what the client had been shown of the node's
 * shard (the answer names it) when its view was relativeZxid, where that is known
 * (a session resumed here from another bridge: BridgeSession.shownAt). It is also true
 * when the session's watch fired at the host lately and was not armed again
 * (WatchTable.firedUnarmed): the client re-sends only watches it was never told of. A
 * watch fired here is still armed at the host, so the node's next change may bring one
 * more notification, which clients ignore for a path they no longer watch.
 */
import type { SetWatches2 } from "../../protocol/jute/index.ts";
import { EVENT_TYPES, KEEPER_STATES, encodeNotification, encodeReplyHeader } from "../../protocol/jute/index.ts";
import type { SessionOp } from "../../protocol/session-protocol.ts";
import type { Plan } from "./request-plans.ts";
import type { ResMessage } from "./session.ts";

type Check = { path: string; kind: "data" | "exist" | "child" | "persistent" | "recursive" };

export function setWatchesPlan(xid: number, body: SetWatches2): Plan {
  const checks: Check[] = [
    ...body.dataWatches.map((path): Check => ({ path, kind: "data" })),
    ...body.existWatches.map((path): Check => ({ path, kind: "exist" })),
    ...body.childWatches.map((path): Check => ({ path, kind: "child" })),
    ...body.persistentWatches.map((path): Check => ({ path, kind: "persistent" })),
    ...body.persistentRecursiveWatches.map((path): Check => ({ path, kind: "recursive" })),
  ];
  const ops = checks.map((check): SessionOp => {
    switch (check.kind) {
      case "data":
        return { op: "getData", path: check.path, watch: true };
      case "exist":
        return { op: "exists", path: check.path, watch: true };
      case "child":
        return { op: "getChildren", path: check.path, watch: true };
      default:
        return { op: "addWatch", path: check.path, mode: check.kind };
    }
  });
  const relative = body.relativeZxid;
  return {
    kind: "upstream",
    ops,
    answer: (answers: ResMessage[], session) => {
      const frames: Uint8Array[] = [];
      const fire = (type: number, path: string) => frames.push(encodeNotification({ type, state: KEEPER_STATES.SyncConnected, path }));
      const shown = session.shownAt(relative);
      const changedSince = (res: ResMessage, zxid: number, path: string, kind: "data" | "child") => {
        const since = shown && res.shard !== undefined ? BigInt(shown[res.shard] ?? 0) : relative;
        return BigInt(zxid) > since || session.watches.firedUnarmed(path, kind);
      };
      checks.forEach((check, i) => {
        const res = answers[i]!;
        const stat = res.ok && "stat" in res.value ? res.value.stat : null;
        const missing = !res.ok && res.error.name === "NoNode";
        switch (check.kind) {
          case "data":
            if (missing) fire(EVENT_TYPES.NodeDeleted, check.path);
            else if (stat && changedSince(res, stat.mzxid, check.path, "data")) fire(EVENT_TYPES.NodeDataChanged, check.path);
            else if (res.ok) session.watches.add(check.path, "data");
            break;
          case "exist":
            if (stat) fire(EVENT_TYPES.NodeCreated, check.path);
            else if (res.ok) session.watches.add(check.path, "data");
            break;
          case "child":
            if (missing) fire(EVENT_TYPES.NodeDeleted, check.path);
            else if (stat && changedSince(res, stat.pzxid, check.path, "child")) fire(EVENT_TYPES.NodeChildrenChanged, check.path);
            else if (res.ok) session.watches.add(check.path, "child");
            break;
          default:
            if (res.ok) session.watches.add(check.path, check.kind);
        }
      });
      frames.push(encodeReplyHeader({ xid, zxid: BigInt(session.zxid), err: 0 }));
      return { frames };
    },
  };
}
