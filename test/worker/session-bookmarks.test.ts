/**
 * A session host's bookmarks (durable/session/session-bookmarks.ts): where a
 * session's sequential reads go after its client hands its bookmark back, on the
 * host instance that opened the session and on one that restarted since.
 */
import { describe, expect, it } from "vitest";
import { type Outcome, makeZxid } from "../../protocol/index.ts";
import type { EdgekeeperEnv } from "../../durable/env.ts";
import { SessionBookmarks } from "../../durable/session/session-bookmarks.ts";

const env = { EDGEKEEPER_REGIONS: "wnam,weur", EDGEKEEPER_SEQUENTIAL_WAIT_MS: "50" } as unknown as EdgekeeperEnv;
const getData = { op: "getData", path: "/a" } as const;
const ok = (zxid: number): Outcome => ({ ok: true, zxid, value: {} });
const SESSION = 7;

/** A host in weur, the leaders in wnam. */
function host(): SessionBookmarks {
  return new SessionBookmarks(env, () => "ns", "weur");
}

/** What the client had been shown: root up to zxid 20 of epoch 1. */
const handedBack = () => ({ namespace: "ns", shards: new Map([["root", makeZxid(1, 20)]]) });

describe("a session's bookmark on its host", () => {
  it("on the instance that opened the session, reads at the replica once it has applied what the client handed back", () => {
    const bookmarks = host();
    bookmarks.opened(SESSION);
    bookmarks.merge(SESSION, handedBack());
    expect(bookmarks.readsOf(SESSION).place({ shard: "root" }, [getData])).toMatchObject({ at: "replica", region: "weur", minZxid: makeZxid(1, 20) });
  });

  it("on an instance that restarted since, reads each shard first at its leader, even one the client's bookmark names: a write whose answer the restart lost is in no bookmark", () => {
    const bookmarks = host();
    bookmarks.merge(SESSION, handedBack());
    const reads = bookmarks.readsOf(SESSION);
    expect(reads.place({ shard: "root" }, [getData]).at).toBe("leader");
    // The leader has the session's lost write at zxid 21: its answer shows it, and later reads wait for it at the replica.
    reads.answered("root", { at: "leader", servedBy: "wnam/leader" }, [getData], [ok(makeZxid(1, 21))]);
    expect(bookmarks.readsOf(SESSION).place({ shard: "root" }, [getData])).toMatchObject({ at: "replica", minZxid: makeZxid(1, 21) });
    expect(bookmarks.readsOf(SESSION).place({ shard: "m1" }, [getData]).at).toBe("leader");
  });

  it("on an instance that restarted since, still refuses reads when the handed-back bookmark is beyond the leader's commit point", () => {
    const bookmarks = host();
    bookmarks.merge(SESSION, handedBack());
    const reads = bookmarks.readsOf(SESSION);
    const answers = [ok(makeZxid(1, 10))];
    reads.answered("root", { at: "leader", servedBy: "wnam/leader" }, [getData], answers);
    expect(answers[0]).toMatchObject({ ok: false, error: { name: "BadArguments" } });
  });
});
