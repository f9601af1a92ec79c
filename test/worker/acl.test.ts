/**
 * ZooKeeper ACLs over HTTP: digest identities from X-Edgekeeper-Auth, NoAuth for
 * callers without the permission, super passing everything.
 */
import { describe, expect, it } from "vitest";
import { digestId } from "../../protocol/index.ts";
import { HttpClient, SUPER_AUTH, expectKeeperError } from "../harness/http.ts";

const ALICE = "digest alice:secret";
const BOB = "digest bob:hunter2";

/** A namespace holding /private, readable and writable by alice only. */
async function withPrivateNode() {
  const anon = new HttpClient();
  const alice = anon.as(ALICE);
  const id = await digestId("alice:secret");
  await alice.mustCreate("/private", { data: "alice's", acl: [{ perms: "cdrwa", scheme: "digest", id }] });
  return { anon, alice, bob: anon.as(BOB), root: anon.as(SUPER_AUTH), id };
}

describe("digest ACLs", () => {
  it("refuses an anonymous caller with 403 NoAuth on every operation", async () => {
    const { anon, root } = await withPrivateNode();
    const before = await root.snapshot();
    for (const res of [
      await anon.get("/private"),
      await anon.get("/private", { view: "children" }),
      await anon.get("/private", { view: "acl" }),
      await anon.set("/private", { data: "x" }),
      await anon.create("/private/child"),
      await anon.set("/private", { acl: [{ perms: 31, scheme: "world", id: "anyone" }] }, { query: { view: "acl" } }),
      await anon.multi([{ op: "setData", path: "/private", data: "x" }]),
    ]) {
      const body = await expectKeeperError(res, "NoAuth");
      expect(body.error.path).toBe("/private");
    }
    // A delete needs DELETE on the parent, which is open: ZooKeeper's rule.
    expect(await root.snapshot()).toEqual(before);
  });

  it("refuses a caller with another digest", async () => {
    const { bob } = await withPrivateNode();
    await expectKeeperError(await bob.get("/private"), "NoAuth");
    await expectKeeperError(await bob.set("/private", { data: "bob's" }), "NoAuth");
  });

  it("refuses the right user with a wrong password", async () => {
    const { anon } = await withPrivateNode();
    await expectKeeperError(await anon.as("digest alice:wrong").get("/private"), "NoAuth");
  });

  it("serves the digest caller", async () => {
    const { alice, id } = await withPrivateNode();
    expect(await alice.mustGet("/private")).toMatchObject({ data: "alice's" });
    expect((await alice.set("/private", { data: "still alice's" })).status).toBe(200);
    expect((await alice.create("/private/child")).status).toBe(201);
    expect(await (await alice.get("/private", { view: "acl" })).json()).toMatchObject({ acl: [{ perms: 31, scheme: "digest", id }] });
  });

  it("lets super (super:test) pass every ACL", async () => {
    const { root } = await withPrivateNode();
    expect(await root.mustGet("/private")).toMatchObject({ data: "alice's" });
    expect((await root.set("/private", { data: "super's" })).status).toBe(200);
    expect((await root.create("/private/by-super")).status).toBe(201);
    expect((await root.set("/private", { acl: [{ perms: 31, scheme: "world", id: "anyone" }] }, { query: { view: "acl" } })).status).toBe(200);
    expect((await root.as(undefined).get("/private")).status).toBe(200);
  });

  it("does not make a wrong super password super", async () => {
    const { anon } = await withPrivateNode();
    await expectKeeperError(await anon.as("digest super:nottest").get("/private"), "NoAuth");
  });

  it("expands the auth scheme to the caller's digest", async () => {
    const anon = new HttpClient();
    const alice = anon.as(ALICE);
    await alice.mustCreate("/mine", { acl: [{ perms: 31, scheme: "auth", id: "" }] });
    expect(await (await alice.get("/mine", { view: "acl" })).json()).toMatchObject({
      acl: [{ perms: 31, scheme: "digest", id: await digestId("alice:secret") }],
    });
    await expectKeeperError(await anon.get("/mine"), "NoAuth");
    expect((await alice.get("/mine")).status).toBe(200);
  });

  it("hides digest hashes from a reader without ADMIN", async () => {
    const anon = new HttpClient();
    const alice = anon.as(ALICE);
    await alice.mustCreate("/shared", {
      acl: [
        { perms: "r", scheme: "world", id: "anyone" },
        { perms: "cdrwa", scheme: "digest", id: await digestId("alice:secret") },
      ],
    });
    const seen = await (await anon.get("/shared", { view: "acl" })).json<{ acl: { id: string }[] }>();
    expect(seen.acl.map((e) => e.id)).toEqual(["anyone", "alice:x"]);
    await expectKeeperError(await anon.set("/shared", { data: "x" }), "NoAuth");
    expect((await anon.get("/shared")).status).toBe(200);
  });
});
