/**
 * ZooKeeper's semantics as cases, written once and run against every target
 * (conformance.test.ts). A case works under its own `root`, opens sessions with
 * `connect`, asserts the facts ZooKeeper's documentation states, and returns what a
 * client observed; the runner normalises that (normalise.ts) and compares it with
 * what the reference ZooKeeper returned for the same case.
 */
import { createHash } from "node:crypto";
import { expect } from "vitest";
import { type Acl, MODE, OP, OPEN_ACL, type Session, type Stat, codeOf, failed } from "./target.ts";

export interface CaseContext {
  /** A path of this case's own, not yet created. */
  root: string;
  /** Opens a session named `name`; its id reads as `session <name>` in ephemeralOwner. */
  connect(name: string, options?: { sessionTimeoutMs?: number }): Promise<Session>;
}

export interface ConformanceCase {
  name: string;
  run(context: CaseContext): Promise<unknown>;
}

const PERMS = { read: 1, write: 2, create: 4, delete: 8, admin: 16, all: 31 } as const;

function digestId(user: string, password: string): string {
  return `${user}:${createHash("sha1").update(`${user}:${password}`).digest("base64")}`;
}

/** The value, or a failed test saying which error came instead. */
function ok<T>(outcome: T | { error: string }): T {
  if (failed(outcome)) throw new Error(`expected success, got ${outcome.error}`);
  return outcome;
}

async function stat(session: Session, path: string): Promise<Stat> {
  const found = ok(await session.exists(path));
  if (!found) throw new Error(`${path} does not exist`);
  return found;
}

export const cases: ConformanceCase[] = [
  {
    name: "create persistent: the path back, the data and a fresh node's Stat",
    async run({ root, connect }) {
      const a = await connect("A");
      const created = await a.create(root, "hello");
      expect(created).toBe(root);
      const read = ok(await a.getData(root));
      expect(read.data).toBe("hello");
      expect(read.stat).toMatchObject({ version: 0, cversion: 0, aversion: 0, dataLength: 5, numChildren: 0, ephemeralOwner: 0n });
      expect(read.stat.mzxid).toBe(read.stat.czxid);
      expect(read.stat.pzxid).toBe(read.stat.czxid);
      const unicode = ok(await a.create(`${root}/ü`, "€"));
      return { created, read, unicode, unicodeStat: await stat(a, unicode) };
    },
  },
  {
    name: "create with null data reads back null",
    async run({ root, connect }) {
      const a = await connect("A");
      ok(await a.create(root, null));
      return ok(await a.getData(root));
    },
  },
  {
    name: "create ephemeral: ephemeralOwner is the creating session's id",
    async run({ root, connect }) {
      const a = await connect("A");
      const b = await connect("B");
      ok(await a.create(root));
      const path = ok(await a.create(`${root}/e`, "x", { mode: MODE.ephemeral }));
      const seen = await stat(b, path);
      expect(seen.ephemeralOwner).toBe(a.id);
      return { path, seen };
    },
  },
  {
    name: "sequence suffixes: 10 digits from the parent's cversion, per parent",
    async run({ root, connect }) {
      const a = await connect("A");
      ok(await a.create(root));
      ok(await a.create(`${root}/p`));
      ok(await a.create(`${root}/q`));
      const names: unknown[] = [];
      names.push(await a.create(`${root}/p/s-`, "", { mode: MODE.sequential }));
      names.push(await a.create(`${root}/p/plain`));
      names.push(await a.create(`${root}/p/s-`, "", { mode: MODE.sequential }));
      names.push(await a.create(`${root}/p/e-`, "", { mode: MODE.ephemeralSequential }));
      names.push(await a.delete(`${root}/p/plain`));
      names.push(await a.createRaw(OP.create, `${root}/p/`, "", OPEN_ACL, MODE.sequential));
      names.push(await a.create(`${root}/q/s-`, "", { mode: MODE.sequential }));
      expect(names[0]).toBe(`${root}/p/s-0000000000`);
      expect(names[2]).toBe(`${root}/p/s-0000000002`);
      expect(names[3]).toBe(`${root}/p/e-0000000003`);
      expect(names[6]).toBe(`${root}/q/s-0000000000`);
      return { names, parent: await stat(a, `${root}/p`), children: await a.getChildren(`${root}/p`) };
    },
  },
  {
    name: "create2 answers the path as create does",
    async run({ root, connect }) {
      const a = await connect("A");
      const path = await a.createRaw(OP.create2, root, "v", OPEN_ACL, MODE.persistent);
      expect(path).toBe(root);
      const sequential = await a.createRaw(OP.create2, `${root}/s-`, "", OPEN_ACL, MODE.sequential);
      return { path, sequential, stat: await stat(a, root) };
    },
  },
  {
    name: "createContainer: a container node, ephemeralOwner 0; create with the container flag",
    async run({ root, connect }) {
      const a = await connect("A");
      ok(await a.create(root));
      const container = await a.createRaw(OP.createContainer, `${root}/c`, "v", OPEN_ACL, MODE.container);
      expect(container).toBe(`${root}/c`);
      const child = await a.create(`${root}/c/child`);
      const containerStat = await stat(a, `${root}/c`);
      expect(containerStat.ephemeralOwner).toBe(0n);
      const wrongFlags = await a.createRaw(OP.createContainer, `${root}/d`, "v", OPEN_ACL, MODE.persistent);
      return { container, child, containerStat, wrongFlags };
    },
  },
  {
    name: "createTTL: TTL and TTL-sequential nodes; a bad TTL or mode is BadArguments",
    async run({ root, connect }) {
      const a = await connect("A");
      ok(await a.create(root));
      const ttl = await a.createRaw(OP.createTTL, `${root}/t`, "v", OPEN_ACL, MODE.ttl, 60_000n);
      expect(ttl).toBe(`${root}/t`);
      const ttlSequential = await a.createRaw(OP.createTTL, `${root}/s-`, "v", OPEN_ACL, MODE.ttlSequential, 60_000n);
      const ttlStat = await stat(a, `${root}/t`);
      return {
        ttl,
        ttlSequential,
        ttlStat,
        zeroTtl: await a.createRaw(OP.createTTL, `${root}/z`, "", OPEN_ACL, MODE.ttl, 0n),
        negativeTtl: await a.createRaw(OP.createTTL, `${root}/n`, "", OPEN_ACL, MODE.ttl, -5n),
        persistentWithTtl: await a.createRaw(OP.createTTL, `${root}/p`, "", OPEN_ACL, MODE.persistent, 60_000n),
        ephemeralWithTtl: await a.createRaw(OP.createTTL, `${root}/e`, "", OPEN_ACL, MODE.ephemeral, 60_000n),
        ttlFlagsOnPlainCreate: await a.createRaw(OP.create, `${root}/f`, "", OPEN_ACL, MODE.ttl),
      };
    },
  },
  {
    name: "NodeExists: a second create of a path, persistent or ephemeral",
    async run({ root, connect }) {
      const a = await connect("A");
      const b = await connect("B");
      ok(await a.create(root));
      const again = await a.create(root);
      const ephemeral = ok(await a.create(`${root}/e`, "", { mode: MODE.ephemeral }));
      const otherSession = await b.create(ephemeral, "", { mode: MODE.ephemeral });
      expect(codeOf(again)).toBe("NodeExists");
      return { again, otherSession, unchanged: await stat(a, root) };
    },
  },
  {
    name: "NoNode: create under a missing parent, and every op on a missing node",
    async run({ root, connect }) {
      const a = await connect("A");
      const missing = `${root}/missing`;
      ok(await a.create(root));
      const out = {
        createUnderMissing: await a.create(`${missing}/child`),
        getData: await a.getData(missing),
        setData: await a.setData(missing, "x"),
        delete: await a.delete(missing),
        getChildren: await a.getChildren(missing),
        getACL: await a.getACL(missing),
        setACL: await a.setACL(missing, OPEN_ACL),
        exists: await a.exists(missing),
      };
      expect(codeOf(out.createUnderMissing)).toBe("NoNode");
      expect(out.exists).toBeNull();
      return out;
    },
  },
  {
    name: "NotEmpty: deleting a node with children; fine once they are gone",
    async run({ root, connect }) {
      const a = await connect("A");
      ok(await a.create(root));
      ok(await a.create(`${root}/child`));
      const notEmpty = await a.delete(root);
      expect(codeOf(notEmpty)).toBe("NotEmpty");
      return { notEmpty, child: await a.delete(`${root}/child`), parent: await a.delete(root), gone: await a.exists(root) };
    },
  },
  {
    name: "NoChildrenForEphemerals: no child, plain or sequential, under an ephemeral",
    async run({ root, connect }) {
      const a = await connect("A");
      const b = await connect("B");
      ok(await a.create(root));
      ok(await a.create(`${root}/e`, "", { mode: MODE.ephemeral }));
      const plain = await a.create(`${root}/e/child`);
      expect(codeOf(plain)).toBe("NoChildrenForEphemerals");
      return {
        plain,
        sequential: await a.create(`${root}/e/s-`, "", { mode: MODE.sequential }),
        ephemeral: await b.create(`${root}/e/x`, "", { mode: MODE.ephemeral }),
        inMulti: await a.multi([{ op: "create", path: `${root}/e/m` }]),
      };
    },
  },
  {
    name: "BadArguments: malformed paths, unknown create flags, delete of /",
    async run({ root, connect }) {
      const a = await connect("A");
      ok(await a.create(root));
      const raw = (path: string, flags = 0) => a.createRaw(OP.create, path, "", OPEN_ACL, flags);
      const out = {
        relative: await raw("relative"),
        trailingSlash: await raw(`${root}/`),
        dot: await raw(`${root}/.`),
        dotDot: await raw(`${root}/..`),
        nul: await raw(`${root}/a\u0000b`),
        empty: await raw(""),
        unknownFlags: await raw(`${root}/f`, 7),
        negativeFlags: await raw(`${root}/g`, -1),
        deleteRoot: await a.delete("/"),
        rootCreate: await raw("/"),
      };
      expect(codeOf(out.relative)).toBe("BadArguments");
      expect(codeOf(out.trailingSlash)).toBe("BadArguments");
      expect(codeOf(out.deleteRoot)).toBe("BadArguments");
      return out;
    },
  },
  {
    name: "a malformed path under a missing parent: create checks the parent first (NoNode)",
    async run({ root, connect }) {
      const a = await connect("A");
      ok(await a.create(root));
      const raw = (path: string) => a.createRaw(OP.create, path, "", OPEN_ACL, 0);
      return {
        trailingSlash: await raw(`${root}/missing/`),
        doubleSlash: await raw(`${root}//x`),
        dotParent: await raw(`${root}/./x`),
        dotDotParent: await raw(`${root}/../x`),
      };
    },
  },
  {
    name: "InvalidACL: an empty ACL, auth without an authenticated id, malformed ids",
    async run({ root, connect }) {
      const a = await connect("A");
      ok(await a.create(root));
      const raw = (name: string, acl: Acl[]) => a.createRaw(OP.create, `${root}/${name}`, "", acl, 0);
      const out = {
        empty: await raw("empty", []),
        authUnauthenticated: await a.create(`${root}/auth`, "", { acl: [{ perms: PERMS.all, scheme: "auth", id: "" }] }),
        digestWithoutHash: await a.create(`${root}/digest`, "", { acl: [{ perms: PERMS.all, scheme: "digest", id: "alice" }] }),
        worldNotAnyone: await a.create(`${root}/world`, "", { acl: [{ perms: PERMS.all, scheme: "world", id: "nobody" }] }),
        badIp: await a.create(`${root}/ip`, "", { acl: [{ perms: PERMS.all, scheme: "ip", id: "not-an-ip" }] }),
        unknownScheme: await a.create(`${root}/scheme`, "", { acl: [{ perms: PERMS.all, scheme: "nosuch", id: "x" }] }),
        goodIp: await a.create(`${root}/ip-ok`, "", { acl: [{ perms: PERMS.all, scheme: "ip", id: "127.0.0.1" }] }),
      };
      expect(codeOf(out.empty)).toBe("InvalidACL");
      expect(codeOf(out.authUnauthenticated)).toBe("InvalidACL");
      return out;
    },
  },
  {
    name: "digest ACLs: NoAuth without the right id, access with it; auth scheme stores the digest",
    async run({ root, connect }) {
      const owner = await connect("A");
      const stranger = await connect("B");
      const friend = await connect("C");
      await owner.addAuth("digest", "alice:secret");
      ok(await owner.create(root));
      const alice = digestId("alice", "secret");
      const acl: Acl[] = [{ perms: PERMS.all, scheme: "digest", id: alice }];
      ok(await owner.create(`${root}/digest`, "private", { acl }));
      ok(await owner.create(`${root}/auth`, "mine", { acl: [{ perms: PERMS.all, scheme: "auth", id: "" }] }));
      ok(await owner.create(`${root}/read-only`, "r", { acl: [{ perms: PERMS.read, scheme: "world", id: "anyone" }] }));
      const stranger0 = {
        getData: await stranger.getData(`${root}/digest`),
        setData: await stranger.setData(`${root}/digest`, "x"),
        getChildren: await stranger.getChildren(`${root}/digest`),
        createChild: await stranger.create(`${root}/digest/child`),
        exists: await stranger.exists(`${root}/digest`),
        getACL: await stranger.getACL(`${root}/digest`),
        setACL: await stranger.setACL(`${root}/digest`, OPEN_ACL),
        authNode: await stranger.getData(`${root}/auth`),
        readOnlyRead: await stranger.getData(`${root}/read-only`),
        readOnlyWrite: await stranger.setData(`${root}/read-only`, "w"),
        readOnlyChild: await stranger.create(`${root}/read-only/c`),
      };
      expect(codeOf(stranger0.getData)).toBe("NoAuth");
      await stranger.addAuth("digest", "alice:wrong");
      const wrongPassword = await stranger.getData(`${root}/digest`);
      await friend.addAuth("digest", "alice:secret");
      const friend0 = {
        getData: await friend.getData(`${root}/digest`),
        setData: await friend.setData(`${root}/digest`, "shared"),
        authNode: await friend.getData(`${root}/auth`),
        createChild: await friend.create(`${root}/digest/child`),
        deleteChild: await friend.delete(`${root}/digest/child`),
      };
      expect(codeOf(friend0.getData)).toBe("ok");
      const authAcl = ok(await owner.getACL(`${root}/auth`));
      expect(authAcl.acl).toEqual([{ perms: PERMS.all, scheme: "digest", id: alice }]);
      return { stranger0, wrongPassword, friend0, authAcl, digestAcl: await owner.getACL(`${root}/digest`) };
    },
  },
  {
    name: "ACL permissions one by one: create, delete, write, admin",
    async run({ root, connect }) {
      const a = await connect("A");
      ok(await a.create(root));
      const only = (name: string, perms: number) => a.create(`${root}/${name}`, "", { acl: [{ perms, scheme: "world", id: "anyone" }] });
      ok(await only("no-create", PERMS.all & ~PERMS.create));
      ok(await only("no-delete", PERMS.all & ~PERMS.delete));
      ok(await only("no-write", PERMS.all & ~PERMS.write));
      ok(await only("no-admin", PERMS.all & ~PERMS.admin));
      ok(await a.create(`${root}/no-delete/child`));
      return {
        createUnderNoCreate: await a.create(`${root}/no-create/child`),
        deleteUnderNoDelete: await a.delete(`${root}/no-delete/child`),
        deleteNodeWithoutDeleteOfItsOwn: await a.delete(`${root}/no-create`),
        setDataNoWrite: await a.setData(`${root}/no-write`, "x"),
        setAclNoAdmin: await a.setACL(`${root}/no-admin`, OPEN_ACL),
        getAclNoAdmin: await a.getACL(`${root}/no-admin`),
      };
    },
  },
  {
    name: "Stat bookkeeping: create, setData, setACL and delete each move the right fields",
    async run({ root, connect }) {
      const a = await connect("A");
      ok(await a.create(root, "p"));
      const history: Record<string, unknown> = { fresh: await stat(a, root) };
      ok(await a.create(`${root}/c1`, "one"));
      history.afterChildCreate = await stat(a, root);
      history.child = await stat(a, `${root}/c1`);
      history.childSet = ok(await a.setData(`${root}/c1`, "longer value"));
      history.afterChildSet = await stat(a, root);
      history.parentSet = ok(await a.setData(root, ""));
      history.aclSet = ok(await a.setACL(`${root}/c1`, [{ perms: PERMS.all, scheme: "world", id: "anyone" }]));
      history.childAfterAcl = await stat(a, `${root}/c1`);
      ok(await a.create(`${root}/c2`));
      ok(await a.delete(`${root}/c1`));
      history.afterDelete = await stat(a, root);
      history.children2 = ok(await a.getChildren(root));
      const { childSet, afterChildCreate, afterDelete } = history as Record<string, Stat>;
      expect(childSet!.version).toBe(1);
      expect(childSet!.dataLength).toBe(12);
      expect(afterChildCreate!.cversion).toBe(1);
      expect(afterDelete!.cversion).toBe(3);
      expect(afterDelete!.pzxid > afterChildCreate!.pzxid).toBe(true);
      return history;
    },
  },
  {
    name: "getChildren2: the children and the parent's Stat, which exists agrees with",
    async run({ root, connect }) {
      const a = await connect("A");
      ok(await a.create(root));
      for (const name of ["b", "a", "c"]) ok(await a.create(`${root}/${name}`));
      ok(await a.create(`${root}/a/deeper`));
      const listed = ok(await a.getChildren(root));
      expect(listed.children).toEqual(["a", "b", "c"]);
      expect(listed.stat).toEqual(await stat(a, root));
      return { listed, leaf: await a.getChildren(`${root}/b`) };
    },
  },
  {
    name: "setData versions: each write adds one, a stale version is BadVersion, -1 always matches",
    async run({ root, connect }) {
      const a = await connect("A");
      ok(await a.create(root, "v0"));
      const steps = [
        await a.setData(root, "v1", 0),
        await a.setData(root, "stale", 0),
        await a.setData(root, "v2", 1),
        await a.setData(root, "v3", -1),
        await a.setData(root, "ahead", 9),
      ];
      expect(steps.map((step) => (failed(step) ? step.error : step.version))).toEqual([1, "BadVersion", 2, 3, "BadVersion"]);
      return { steps, final: await a.getData(root) };
    },
  },
  {
    name: "delete versions: a wrong version is BadVersion, the right one deletes, then NoNode",
    async run({ root, connect }) {
      const a = await connect("A");
      ok(await a.create(root, "x"));
      ok(await a.setData(root, "y"));
      const steps = [await a.delete(root, 0), await a.delete(root, 5), await a.delete(root, 1), await a.delete(root, 1), await a.delete(root, -1)];
      expect(steps.map(codeOf)).toEqual(["BadVersion", "BadVersion", "ok", "NoNode", "NoNode"]);
      return steps;
    },
  },
  {
    name: "multi: every op applied at one zxid, results per op",
    async run({ root, connect }) {
      const a = await connect("A");
      ok(await a.create(root));
      ok(await a.create(`${root}/old`));
      const result = await a.multi([
        { op: "create", path: `${root}/x`, data: "1" },
        { op: "create", path: `${root}/s-`, mode: MODE.sequential },
        { op: "setData", path: `${root}/x`, data: "2", version: 0 },
        { op: "check", path: `${root}/x`, version: 1 },
        { op: "delete", path: `${root}/old`, version: 0 },
      ]);
      expect(result.error).toBeUndefined();
      const x = ok(await a.getData(`${root}/x`));
      expect(x.data).toBe("2");
      expect(x.stat.mzxid).toBe(x.stat.czxid);
      return { result, x, parent: await stat(a, root), children: await a.getChildren(root) };
    },
  },
  {
    name: "multi failure: nothing applied; 0 before the failing op, its error, RuntimeInconsistency after",
    async run({ root, connect }) {
      const a = await connect("A");
      ok(await a.create(root));
      ok(await a.create(`${root}/y`, "y"));
      const before = await stat(a, root);
      const badVersion = await a.multi([
        { op: "create", path: `${root}/a` },
        { op: "setData", path: `${root}/y`, data: "z", version: 7 },
        { op: "create", path: `${root}/b` },
      ]);
      expect(badVersion).toEqual({ error: "BadVersion", results: ["ok", "BadVersion", "RuntimeInconsistency"] });
      const failures = {
        badVersion,
        nodeExistsFirst: await a.multi([{ op: "create", path: `${root}/y` }, { op: "delete", path: `${root}/y` }]),
        noNodeLast: await a.multi([{ op: "create", path: `${root}/c` }, { op: "check", path: `${root}/y`, version: 0 }, { op: "delete", path: `${root}/nope` }]),
        checkFails: await a.multi([{ op: "check", path: `${root}/y`, version: 3 }, { op: "setData", path: `${root}/y`, data: "w" }]),
        notEmpty: await a.multi([{ op: "create", path: `${root}/y/k` }, { op: "delete", path: `${root}/y` }]),
        createThenDeleteOk: await a.multi([{ op: "create", path: `${root}/t` }, { op: "delete", path: `${root}/t` }]),
      };
      return { failures, before, after: await stat(a, root), y: await a.getData(`${root}/y`), children: await a.getChildren(root) };
    },
  },
  {
    name: "exists watches: NodeCreated on a missing node, NodeDataChanged on a present one, each once",
    async run({ root, connect }) {
      const writer = await connect("A");
      const watcher = await connect("B");
      ok(await writer.create(root));
      const path = `${root}/w`;
      expect(await watcher.exists(path, true)).toBeNull();
      ok(await writer.create(path, "1"));
      ok(await writer.setData(path, "2"));
      const first = await watcher.eventsAfter(1);
      ok(await watcher.exists(path, true));
      ok(await writer.setData(path, "3"));
      ok(await writer.delete(path));
      const second = await watcher.eventsAfter(2);
      expect(first).toEqual([{ type: "NODE_CREATED", path }]);
      return { first, second };
    },
  },
  {
    name: "getData watches: NodeDataChanged once, then NodeDeleted on a fresh watch",
    async run({ root, connect }) {
      const writer = await connect("A");
      const watcher = await connect("B");
      ok(await writer.create(root, "0"));
      ok(await watcher.getData(root, true));
      ok(await writer.setData(root, "1"));
      ok(await writer.setData(root, "2"));
      const changed = await watcher.eventsAfter(1);
      const read = ok(await watcher.getData(root, true));
      ok(await writer.delete(root));
      const deleted = await watcher.eventsAfter(2);
      expect(deleted).toEqual([
        { type: "NODE_DATA_CHANGED", path: root },
        { type: "NODE_DELETED", path: root },
      ]);
      return { changed, read, deleted };
    },
  },
  {
    name: "a getData or getChildren of a missing node is NoNode and leaves no watch; exists does",
    async run({ root, connect }) {
      const writer = await connect("A");
      const watcher = await connect("B");
      ok(await writer.create(root));
      const path = `${root}/later`;
      const reads = { getData: await watcher.getData(path, true), getChildren: await watcher.getChildren(path, true) };
      ok(await writer.create(path));
      ok(await writer.delete(path));
      const afterReads = await watcher.eventsAfter(0);
      expect(afterReads).toEqual([]);
      return { reads, afterReads };
    },
  },
  {
    name: "setData with the same bytes is still a write: version, mzxid and a watch event",
    async run({ root, connect }) {
      const writer = await connect("A");
      const watcher = await connect("B");
      ok(await writer.create(root, "same"));
      const before = ok(await watcher.getData(root, true));
      const after = ok(await writer.setData(root, "same"));
      expect(after.version).toBe(1);
      return { before: before.stat, after, events: await watcher.eventsAfter(1) };
    },
  },
  {
    name: "getChildren watches: NodeChildrenChanged once on a child create, NodeDeleted when the parent goes",
    async run({ root, connect }) {
      const writer = await connect("A");
      const watcher = await connect("B");
      ok(await writer.create(root));
      ok(await watcher.getChildren(root, true));
      ok(await writer.create(`${root}/one`));
      ok(await writer.create(`${root}/two`));
      ok(await writer.setData(root, "parent data does not fire a child watch"));
      const created = await watcher.eventsAfter(1);
      ok(await watcher.getChildren(root, true));
      ok(await writer.setData(`${root}/one`, "a child's data does not fire it either"));
      ok(await writer.delete(`${root}/one`));
      const removed = await watcher.eventsAfter(2);
      ok(await watcher.getChildren(root, true));
      ok(await writer.delete(`${root}/two`));
      await watcher.eventsAfter(3);
      ok(await watcher.getChildren(root, true));
      ok(await writer.delete(root));
      const parentGone = await watcher.eventsAfter(4);
      expect(parentGone).toEqual([
        { type: "NODE_CHILDREN_CHANGED", path: root },
        { type: "NODE_CHILDREN_CHANGED", path: root },
        { type: "NODE_CHILDREN_CHANGED", path: root },
        { type: "NODE_DELETED", path: root },
      ]);
      return { created, removed, parentGone };
    },
  },
  {
    name: "one change fires the data and the child watches it touches, each with its own type and path",
    async run({ root, connect }) {
      const writer = await connect("A");
      const watcher = await connect("B");
      ok(await writer.create(root));
      ok(await writer.create(`${root}/n`, "x"));
      ok(await watcher.getData(`${root}/n`, true));
      ok(await watcher.exists(`${root}/n`, true));
      ok(await watcher.getChildren(root, true));
      ok(await writer.delete(`${root}/n`));
      const events = await watcher.eventsAfter(2);
      // Both watches of one path are one registration in the client; sort to compare what fired.
      return [...events].sort((a, b) => `${a.path} ${a.type}`.localeCompare(`${b.path} ${b.type}`));
    },
  },
  {
    name: "ephemerals vanish on close: another session's watches see NodeDeleted and the parent change",
    async run({ root, connect }) {
      const owner = await connect("A");
      const watcher = await connect("B");
      ok(await owner.create(root));
      const plain = ok(await owner.create(`${root}/e`, "", { mode: MODE.ephemeral }));
      const sequential = ok(await owner.create(`${root}/s-`, "", { mode: MODE.ephemeralSequential }));
      ok(await watcher.exists(plain, true));
      ok(await watcher.getData(sequential, true));
      ok(await watcher.getChildren(root, true));
      await owner.close();
      const events = await watcher.eventsAfter(3);
      const sorted = [...events].sort((a, b) => `${a.path} ${a.type}`.localeCompare(`${b.path} ${b.type}`));
      expect(sorted).toContainEqual({ type: "NODE_DELETED", path: plain });
      expect(sorted).toContainEqual({ type: "NODE_DELETED", path: sequential });
      return { sorted, plain: await watcher.exists(plain), children: await watcher.getChildren(root) };
    },
  },
  {
    name: "/zookeeper and /zookeeper/config as Curator reads them: present, config empty, watchable",
    async run({ connect }) {
      const a = await connect("A");
      const config = ok(await a.getData("/zookeeper/config", true));
      expect(config.data ?? "").toBe("");
      const children = ok(await a.getChildren("/zookeeper"));
      expect(children.children).toContain("config");
      return {
        config: { data: config.data, dataLength: config.stat.dataLength, version: config.stat.version, ephemeralOwner: config.stat.ephemeralOwner },
        children: children.children,
        exists: (await a.exists("/zookeeper")) !== null,
        configAcl: await a.getACL("/zookeeper/config"),
      };
    },
  },
  {
    name: "/zookeeper/config Stat",
    async run({ connect }) {
      const a = await connect("A");
      return await a.exists("/zookeeper/config");
    },
  },
  {
    name: "creates below /zookeeper",
    async run({ root, connect }) {
      const a = await connect("A");
      const name = `/zookeeper/${root.slice(1)}`;
      return { create: await a.create(name), cleanup: await a.delete(name) };
    },
  },
  {
    name: "a failed write takes a zxid",
    async run({ root, connect }) {
      const a = await connect("A");
      ok(await a.create(root));
      const first = await stat(a, root);
      expect(codeOf(await a.create(root))).toBe("NodeExists");
      expect(codeOf(await a.setData(root, "x", 9))).toBe("BadVersion");
      ok(await a.create(`${root}/next`));
      const next = await stat(a, `${root}/next`);
      // Not normalised away: the gap between the two successful creates.
      return { gap: Number(next.czxid - first.czxid) };
    },
  },
  {
    name: "session timeout: the asked timeout clamped to [2, 20] ticks",
    async run({ connect }) {
      const short = await connect("A", { sessionTimeoutMs: 1_000 });
      const long = await connect("B", { sessionTimeoutMs: 100_000 });
      const middle = await connect("C", { sessionTimeoutMs: 10_000 });
      return { short: short.timeoutMs, long: long.timeoutMs, middle: middle.timeoutMs };
    },
  },
  {
    name: "setACL: aversion moves, version and mzxid do not; a stale ACL version is BadVersion",
    async run({ root, connect }) {
      const a = await connect("A");
      ok(await a.create(root, "d"));
      const before = await stat(a, root);
      const readOnly: Acl[] = [{ perms: PERMS.read | PERMS.admin, scheme: "world", id: "anyone" }];
      const set = await a.setACL(root, readOnly, 0);
      const stale = await a.setACL(root, OPEN_ACL, 0);
      const acl = await a.getACL(root);
      const write = await a.setData(root, "blocked");
      return { before, set, stale, acl, write };
    },
  },
];
