/** A replica object's name says whom it follows and where it is created; its lag counts zxids across epochs. */
import { describe, expect, it } from "vitest";
import { replicaIdentityOf, replicaLocationHint, replicaNamesOf, replicaObjectName } from "../../durable/replication/replica-name.ts";
import { zxidLag } from "../../durable/replication/replica-runner.ts";
import { makeZxid } from "../../protocol/index.ts";

describe("replica names", () => {
  it("name the leader object and the region, and read back", () => {
    const name = replicaObjectName("default/m1-ab12cd34", "apac");
    expect(name).toBe("default/m1-ab12cd34@apac");
    expect(replicaIdentityOf(name)).toEqual({ leader: "default/m1-ab12cd34", region: "apac" });
  });

  it("are no replica's when they hold no region: a leader's name, or none", () => {
    for (const name of ["default/root", "default/root@", "@weur", undefined]) expect(replicaIdentityOf(name)).toBeUndefined();
  });

  it("of a shard are one per region but the leader's, and none without regions", () => {
    expect(replicaNamesOf("default/root", ["wnam", "weur", "apac"])).toEqual(["default/root@weur", "default/root@apac"]);
    expect(replicaNamesOf("default/root", ["wnam"])).toEqual([]);
    expect(replicaNamesOf("default/root", undefined)).toEqual([]);
  });

  it("give a location hint only for a region that is one", () => {
    expect(replicaLocationHint("default/root@weur")).toBe("weur");
    expect(replicaLocationHint("default/root@eeur")).toBe("eeur");
    expect(replicaLocationHint("default/root@mars")).toBeUndefined();
    expect(replicaLocationHint("default/root")).toBeUndefined();
  });
});

describe("zxidLag", () => {
  it("is the counter gap within an epoch, nothing when caught up, and the new epoch's entries across one", () => {
    expect(zxidLag(makeZxid(1, 5), makeZxid(1, 9))).toBe(4);
    expect(zxidLag(makeZxid(1, 9), makeZxid(1, 9))).toBe(0);
    expect(zxidLag(makeZxid(1, 9), makeZxid(2, 3))).toBe(4);
  });
});
