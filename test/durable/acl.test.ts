/**
 * ACLs: the schemes world, auth, digest and ip; each permission refusing with
 * NoAuth when missing; getACL's redaction; setACL as compare-and-set; super.
 */
import { describe, expect, it } from "vitest";
import { type Acl, type Caller, type MultiWriteOp, type ShardRequest, OPEN_ACL_UNSAFE, Perms, digestId, parseIpAddress } from "../../protocol/index.ts";
import { ANON, bytes, createAll, digestCaller, exists, fails, newShard, ok, run, statOf, superCaller, text, type ShardStub } from "../harness/shard.ts";

const ALL = Perms.ALL;
const world = (perms: number): Acl => ({ perms, scheme: "world", id: "anyone" });

/** Creates `path` with `acl` as super, so the ACL applies from the start. */
async function createWithAcl(stub: ShardStub, path: string, acl: Acl[], data = ""): Promise<void> {
  await ok(stub, await superCaller(), { op: "create", path, acl, data: bytes(data) });
}

describe("the digest scheme", () => {
  it("names identities user:base64(sha1(user:password))", async () => {
    // SHA-1("alice:secret") in base64, as DigestAuthenticationProvider.generateDigest makes it.
    expect(await digestId("super:test")).toBe("super:D/InIHSb7yEEbrWz8b9l71RjZJU=");
    expect(await digestId("alice:secret")).toMatch(/^alice:[A-Za-z0-9+/]{27}=$/);
  });

  it("lets the named user in and keeps others out", async () => {
    const { stub } = newShard();
    const alice = await digestCaller("alice:secret");
    const aliceWrongPassword = await digestCaller("alice:guess");
    const bob = await digestCaller("bob:secret");
    await createWithAcl(stub, "/d", [{ perms: ALL, scheme: "digest", id: await digestId("alice:secret") }], "x");
    expect(text((await ok(stub, alice, { op: "getData", path: "/d" })).data)).toBe("x");
    for (const caller of [bob, aliceWrongPassword, ANON]) {
      expect(await fails(stub, caller, { op: "getData", path: "/d" })).toBe("NoAuth");
      expect(await fails(stub, caller, { op: "setData", path: "/d", data: bytes("y") })).toBe("NoAuth");
    }
    await ok(stub, alice, { op: "setData", path: "/d", data: bytes("y") });
  });
});

describe("the auth scheme", () => {
  it("is replaced by the caller's digest identities", async () => {
    const { stub } = newShard();
    const alice = await digestCaller("alice:secret");
    await ok(stub, alice, { op: "create", path: "/mine", acl: [{ perms: Perms.READ | Perms.WRITE | Perms.ADMIN, scheme: "auth", id: "" }] });
    const { acl } = await ok(stub, alice, { op: "getACL", path: "/mine" });
    expect(acl).toEqual([{ perms: Perms.READ | Perms.WRITE | Perms.ADMIN, scheme: "digest", id: await digestId("alice:secret") }]);
    expect(await fails(stub, ANON, { op: "getData", path: "/mine" })).toBe("NoAuth");
    await ok(stub, alice, { op: "getData", path: "/mine" });
  });

  it("names every digest identity the caller holds", async () => {
    const { stub } = newShard();
    const both: Caller = { sessionId: 0, ids: [...(await digestCaller("alice:a")).ids, ...(await digestCaller("bob:b")).ids] };
    await ok(stub, both, { op: "create", path: "/shared", acl: [{ perms: ALL, scheme: "auth", id: "" }] });
    const ids = (await ok(stub, both, { op: "getACL", path: "/shared" })).acl.map((a) => a.id).sort();
    expect(ids).toEqual([await digestId("alice:a"), await digestId("bob:b")].sort());
    await ok(stub, await digestCaller("bob:b"), { op: "getData", path: "/shared" });
  });

  it("is InvalidACL without an authenticated identity (an ip identity does not count)", async () => {
    const { stub } = newShard();
    const ipOnly: Caller = { sessionId: 0, ids: [{ scheme: "ip", id: "10.0.0.1" }] };
    for (const caller of [ANON, ipOnly]) {
      expect(await fails(stub, caller, { op: "create", path: "/x", acl: [{ perms: ALL, scheme: "auth", id: "" }] })).toBe("InvalidACL");
    }
    expect(await exists(stub, "/x")).toBe(false);
    await createAll(stub, ANON, "/y");
    expect(await fails(stub, ANON, { op: "setACL", path: "/y", acl: [{ perms: ALL, scheme: "auth", id: "" }] })).toBe("InvalidACL");
    expect((await statOf(stub, "/y")).aversion).toBe(0);
  });
});

describe("the ip scheme", () => {
  const from = (ip: string): Caller => ({ sessionId: 0, ids: [{ scheme: "ip", id: ip }] });

  it.each([
    ["an exact address", "10.1.2.3", "10.1.2.3", true],
    ["another exact address", "10.1.2.3", "10.1.2.4", false],
    ["a /16 it is inside", "10.1.0.0/16", "10.1.200.7", true],
    ["a /16 it is outside", "10.1.0.0/16", "10.2.0.1", false],
    ["a /24 it is inside", "192.168.5.0/24", "192.168.5.255", true],
    ["a /24 it is outside", "192.168.5.0/24", "192.168.6.0", false],
    ["a /0", "0.0.0.0/0", "8.8.8.8", true],
    ["a /32", "1.2.3.4/32", "1.2.3.4", true],
    ["an exact IPv6 address", "::1", "::1", true],
    ["an IPv6 address written in full", "::1", "0:0:0:0:0:0:0:1", true],
    ["another IPv6 address", "::1", "::2", false],
    ["a /32 IPv6 prefix it is inside", "2001:db8::/32", "2001:db8:85a3::8a2e:370:7334", true],
    ["a /32 IPv6 prefix it is outside", "2001:db8::/32", "2001:db9::1", false],
    ["a /127 IPv6 prefix", "2001:db8::/127", "2001:db8::1", true],
    ["an IPv6 pattern, for an IPv4 caller", "::/0", "10.0.0.1", false],
    ["an IPv4 pattern, for an IPv6 caller", "0.0.0.0/0", "::1", false],
  ] as const)("matches %s", async (_, pattern, caller, allowed) => {
    const { stub } = newShard();
    await createWithAcl(stub, "/ip", [{ perms: Perms.READ, scheme: "ip", id: pattern }]);
    const outcome = await run(stub, from(caller), { op: "getData", path: "/ip" });
    expect(outcome.ok ? "allowed" : outcome.error.name).toBe(allowed ? "allowed" : "NoAuth");
  });

  it("reads IPv6 addresses as ZooKeeper's provider does", () => {
    // IPAuthenticationProviderTest.testParsingOfIPv6Address: full, compressed, shortened, loopback.
    const hex = (text: string) => [...(parseIpAddress(text) ?? [])].map((b) => b.toString(16).padStart(2, "0")).join("");
    expect(hex("2001:0db8:85a3:0000:0000:8a2e:0370:7334")).toBe("20010db885a3000000008a2e03707334");
    expect(hex("2001:db8::8a2e:370:7334")).toBe("20010db8000000000000" + "8a2e03707334");
    expect(hex("2001:db8::1")).toBe("20010db8" + "0".repeat(22) + "01");
    expect(hex("::1")).toBe("0".repeat(30) + "01");
    expect(hex("::ffff:10.1.2.3")).toBe("0".repeat(20) + "ffff0a010203");
  });

  it("refuses malformed patterns with InvalidACL", async () => {
    const { stub } = newShard();
    for (const id of ["nonsense", "10.0.0.0/33", "10.0.0.256", "10.0.0/8", "::1/129", "1::2::3", "2001:db8:::1", "12345::", "fe80::1%eth0"]) {
      expect(await fails(stub, ANON, { op: "create", path: "/x", acl: [{ perms: ALL, scheme: "ip", id }] })).toBe("InvalidACL");
    }
  });
});

describe("permissions", () => {
  /** For each permission, an op on /n (or its child) that needs exactly it. */
  const needs: [string, number, ShardRequest[]][] = [
    ["READ", Perms.READ, [{ op: "getData", path: "/n" }, { op: "getChildren", path: "/n" }, { op: "getAllChildrenNumber", path: "/n" }, { op: "check", path: "/n", version: 0 }]],
    ["WRITE", Perms.WRITE, [{ op: "setData", path: "/n", data: bytes("w") }]],
    ["CREATE", Perms.CREATE, [{ op: "create", path: "/n/new" }]],
    ["DELETE", Perms.DELETE, [{ op: "delete", path: "/n/child" }]],
    ["ADMIN", Perms.ADMIN, [{ op: "setACL", path: "/n", acl: [world(ALL)] }]],
  ];

  it.each(needs)("without %s: NoAuth, and nothing changes", async (_, perm, requests) => {
    const { stub } = newShard();
    await createWithAcl(stub, "/n", [world(ALL)]);
    await createAll(stub, ANON, "/n/child");
    await ok(stub, await superCaller(), { op: "setACL", path: "/n", acl: [world(ALL & ~perm)] });
    const before = await statOf(stub, "/n");
    for (const request of requests) expect(await fails(stub, ANON, request)).toBe("NoAuth");
    // The same op inside a multi is refused too.
    const write = requests.find((r) => r.op !== "getData" && r.op !== "getChildren" && r.op !== "getAllChildrenNumber" && r.op !== "setACL");
    if (write) {
      const outcome = await run(stub, ANON, { op: "multi", ops: [write as MultiWriteOp] });
      expect(outcome.ok ? "ok" : outcome.error.name).toBe("NoAuth");
    }
    expect(await statOf(stub, "/n")).toEqual(before);
    expect(await exists(stub, "/n/child")).toBe(true);
    expect(await exists(stub, "/n/new")).toBe(false);
  });

  it.each(needs)("with only %s: allowed", async (_, perm, requests) => {
    const { stub } = newShard();
    await createWithAcl(stub, "/n", [world(ALL)]);
    await createAll(stub, ANON, "/n/child");
    await ok(stub, await superCaller(), { op: "setACL", path: "/n", acl: [world(perm)] });
    for (const request of requests) await ok(stub, ANON, request);
  });

  it("exists needs no permission", async () => {
    const { stub } = newShard();
    await createWithAcl(stub, "/n", [{ perms: ALL, scheme: "digest", id: await digestId("alice:a") }]);
    expect((await ok(stub, ANON, { op: "exists", path: "/n" })).stat).not.toBeNull();
  });

  it("delete is decided by the parent's ACL, not the node's", async () => {
    const { stub } = newShard();
    await createWithAcl(stub, "/p", [world(ALL)]);
    await createWithAcl(stub, "/p/locked", [world(Perms.READ)]);
    await ok(stub, ANON, { op: "delete", path: "/p/locked" });
    expect(await exists(stub, "/p/locked")).toBe(false);
  });

  it("ACLs are not inherited: a child of a locked node gets its own ACL", async () => {
    const { stub } = newShard();
    await createWithAcl(stub, "/p", [world(Perms.CREATE)]);
    await ok(stub, ANON, { op: "create", path: "/p/c", data: bytes("open") });
    expect(text((await ok(stub, ANON, { op: "getData", path: "/p/c" })).data)).toBe("open");
    expect(await fails(stub, ANON, { op: "getData", path: "/p" })).toBe("NoAuth");
  });
});

describe("getACL", () => {
  it("needs READ or ADMIN", async () => {
    const { stub } = newShard();
    await createWithAcl(stub, "/w", [world(Perms.WRITE | Perms.CREATE | Perms.DELETE)]);
    await createWithAcl(stub, "/r", [world(Perms.READ)]);
    await createWithAcl(stub, "/a", [world(Perms.ADMIN)]);
    expect(await fails(stub, ANON, { op: "getACL", path: "/w" })).toBe("NoAuth");
    expect((await ok(stub, ANON, { op: "getACL", path: "/r" })).acl).toEqual([world(Perms.READ)]);
    expect((await ok(stub, ANON, { op: "getACL", path: "/a" })).acl).toEqual([world(Perms.ADMIN)]);
    expect(await fails(stub, ANON, { op: "getACL", path: "/missing" })).toBe("NoNode");
  });

  it("hides digest hashes (user:x) from a caller without ADMIN", async () => {
    const { stub } = newShard();
    const aliceId = await digestId("alice:secret");
    const acl: Acl[] = [{ perms: ALL, scheme: "digest", id: aliceId }, world(Perms.READ)];
    await createWithAcl(stub, "/n", acl);
    const seen = await ok(stub, ANON, { op: "getACL", path: "/n" });
    expect(seen.acl).toEqual([{ perms: ALL, scheme: "digest", id: "alice:x" }, world(Perms.READ)]);
    expect(seen.stat).toEqual(await statOf(stub, "/n"));
    expect((await ok(stub, await digestCaller("alice:secret"), { op: "getACL", path: "/n" })).acl).toEqual(acl);
    expect((await ok(stub, await superCaller(), { op: "getACL", path: "/n" })).acl).toEqual(acl);
  });
});

describe("setACL", () => {
  it("uses aversion as compare-and-set", async () => {
    const { stub } = newShard();
    await createAll(stub, ANON, "/n");
    const first = await ok(stub, ANON, { op: "setACL", path: "/n", acl: [world(ALL)], version: 0 });
    expect(first.stat.aversion).toBe(1);
    // The data version does not count: version 0 is stale now.
    expect(await fails(stub, ANON, { op: "setACL", path: "/n", acl: [world(Perms.READ)], version: 0 })).toBe("BadVersion");
    expect((await ok(stub, ANON, { op: "getACL", path: "/n" })).acl).toEqual([world(ALL)]);
    expect((await ok(stub, ANON, { op: "setACL", path: "/n", acl: [world(ALL)], version: -1 })).stat.aversion).toBe(2);
    expect((await ok(stub, ANON, { op: "setACL", path: "/n", acl: [world(Perms.READ)], version: 2 })).stat.aversion).toBe(3);
    expect((await statOf(stub, "/n")).version).toBe(0);
    expect(await fails(stub, ANON, { op: "setData", path: "/n", data: bytes("x") })).toBe("NoAuth");
  });

  it("answers NoNode for a missing node", async () => {
    const { stub } = newShard();
    expect(await fails(stub, ANON, { op: "setACL", path: "/missing", acl: [world(ALL)] })).toBe("NoNode");
  });

  it("drops duplicate entries", async () => {
    const { stub } = newShard();
    await createAll(stub, ANON, "/n");
    await ok(stub, ANON, { op: "setACL", path: "/n", acl: [world(ALL), world(ALL)] });
    expect((await ok(stub, ANON, { op: "getACL", path: "/n" })).acl).toEqual([world(ALL)]);
  });
});

describe("invalid ACL lists", () => {
  const invalid: [string, Acl[]][] = [
    ["an empty list", []],
    ["an unknown scheme", [{ perms: ALL, scheme: "kerberos", id: "alice" }]],
    ["world with an id other than anyone", [{ perms: ALL, scheme: "world", id: "someone" }]],
    ["a digest id without a hash", [{ perms: ALL, scheme: "digest", id: "alice" }]],
    ["a super entry", [{ perms: ALL, scheme: "super", id: "" }]],
  ];

  it.each(invalid)("refuses %s with InvalidACL on create and setACL", async (_, acl) => {
    const { stub } = newShard();
    expect(await fails(stub, ANON, { op: "create", path: "/x", acl })).toBe("InvalidACL");
    expect(await exists(stub, "/x")).toBe(false);
    await createAll(stub, ANON, "/y");
    expect(await fails(stub, ANON, { op: "setACL", path: "/y", acl })).toBe("InvalidACL");
    expect((await ok(stub, ANON, { op: "getACL", path: "/y" })).acl).toEqual([...OPEN_ACL_UNSAFE]);
  });
});

describe("super", () => {
  it("passes every ACL", async () => {
    const { stub } = newShard();
    const su = await superCaller();
    await createWithAcl(stub, "/locked", [{ perms: Perms.READ, scheme: "digest", id: await digestId("alice:a") }], "x");
    await ok(stub, await digestCaller("alice:a"), { op: "getData", path: "/locked" });
    expect(await fails(stub, await digestCaller("alice:a"), { op: "setData", path: "/locked", data: bytes("y") })).toBe("NoAuth");
    await ok(stub, su, { op: "getData", path: "/locked" });
    await ok(stub, su, { op: "setData", path: "/locked", data: bytes("y") });
    await ok(stub, su, { op: "create", path: "/locked/child" });
    await ok(stub, su, { op: "getChildren", path: "/locked" });
    await ok(stub, su, { op: "delete", path: "/locked/child" });
    await ok(stub, su, { op: "setACL", path: "/locked", acl: [world(Perms.READ)] });
    expect((await ok(stub, ANON, { op: "getData", path: "/locked" })).stat.version).toBe(1);
  });

  it("needs the right password", async () => {
    const { stub } = newShard();
    await createWithAcl(stub, "/locked", [{ perms: ALL, scheme: "digest", id: await digestId("alice:a") }]);
    expect(await fails(stub, await digestCaller("super:wrong"), { op: "getData", path: "/locked" })).toBe("NoAuth");
  });
});
