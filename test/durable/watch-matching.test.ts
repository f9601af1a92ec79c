/**
 * The one rule of which watches a change fires (protocol/watch-matching.ts), as
 * ZooKeeper's WatchManager applies it; the shard and the session host look their
 * watches up by it.
 */
import { describe, expect, it } from "vitest";
import { type ChangeEventType, WATCH_KINDS, type WatchKind, firesOnce, watchFires, watchesFiredBy } from "../../protocol/index.ts";

const EVENTS: ChangeEventType[] = ["NodeCreated", "NodeDeleted", "NodeDataChanged", "NodeChildrenChanged", "ACLChanged"];

describe("watch matching", () => {
  it("fires each kind on the event's own path as ZooKeeper does", () => {
    const fired = (event: ChangeEventType): WatchKind[] => WATCH_KINDS.filter((kind) => watchFires({ kind, path: "/a" }, { event, path: "/a" }));
    expect(fired("NodeCreated")).toEqual(["data", "persistent", "recursive"]);
    expect(fired("NodeDataChanged")).toEqual(["data", "persistent", "recursive"]);
    expect(fired("NodeDeleted")).toEqual(["data", "child", "persistent", "recursive"]);
    expect(fired("NodeChildrenChanged")).toEqual(["child", "persistent"]);
    expect(fired("ACLChanged")).toEqual([]);
  });

  it("fires only recursive watches on ancestors, never for a child-list change", () => {
    for (const kind of WATCH_KINDS) expect(watchFires({ kind, path: "/a" }, { event: "NodeCreated", path: "/a/b" })).toBe(kind === "recursive");
    expect(watchFires({ kind: "recursive", path: "/" }, { event: "NodeDataChanged", path: "/a/b" })).toBe(true);
    expect(watchFires({ kind: "recursive", path: "/a" }, { event: "NodeChildrenChanged", path: "/a/b" })).toBe(false);
    // A sibling whose name starts with the watched one's is not below it.
    expect(watchFires({ kind: "recursive", path: "/a" }, { event: "NodeCreated", path: "/ab" })).toBe(false);
  });

  it("gives lookups that find exactly the watches watchFires fires", () => {
    const watches = ["/", "/a", "/a/b", "/a/b/c", "/ab"].flatMap((path) => WATCH_KINDS.map((kind) => ({ kind, path })));
    for (const event of EVENTS) {
      for (const path of ["/", "/a", "/a/b", "/ab"]) {
        const { kinds, recursivePaths } = watchesFiredBy(event, path);
        const lookedUp = watches.filter((w) => (w.path === path && kinds.includes(w.kind)) || (w.kind === "recursive" && recursivePaths.includes(w.path)));
        expect(lookedUp, `${event} at ${path}`).toEqual(watches.filter((w) => watchFires(w, { event, path })));
      }
    }
  });

  it("uses up one-shot watches only", () => {
    expect(WATCH_KINDS.filter(firesOnce)).toEqual(["data", "child"]);
  });
});
