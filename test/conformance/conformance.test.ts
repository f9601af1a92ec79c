/**
 * One suite of ZooKeeper semantics (cases.ts), run against a real ZooKeeper 3.8
 * (the reference) and against edgekeeper's wire bridge, both through
 * node-zookeeper-client. The reference runs first; each bridge case must then
 * observe what the reference observed (after normalise.ts), or be in the skip list
 * below with the documented reason edgekeeper differs. Only the reference's absence
 * (ZooKeeper or Java not installed) skips cases, the bridge's too, since they would
 * compare with nothing; a target that is installed but does not start fails its cases,
 * and so does a bridge case whose reference case failed.
 */
import { type TestContext, afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CaseContext, cases } from "./cases.ts";
import { normalise } from "./normalise.ts";
import { type Running, type Started, startBridge, startReference } from "./servers.ts";
import { Session } from "./target.ts";

/** Where edgekeeper differs from ZooKeeper on purpose: case name, and the reason as the docs give it. */
const BRIDGE_SKIPS: Record<string, string> = {
  "creates below /zookeeper":
    "docs/api.md, Where we differ: /zookeeper is reserved, creates below it are BadArguments (ZooKeeper 3.8 lets you create /zookeeper/x)",
  "a failed write takes a zxid": "docs/api.md, Where we differ: a failed write does not consume a zxid (ZooKeeper logs an error txn with one)",
};

/**
 * Differences that are bugs, not choices: the case runs and must still differ from the
 * reference (so a fix shows up as a failure here, asking for the entry to go).
 */
const BRIDGE_KNOWN_BUGS: Record<string, string> = {};

/** What the reference did in this run, per case: observed a result, or failed. */
const reference = new Map<string, { observed: unknown } | { failed: string }>();
/** Why the reference cannot run on this machine (absent), or why it did not start although installed (failed). */
let referenceAbsent: string | undefined;
let referenceFailed: string | undefined;

/**
 * What a bridge case compares with, or why it cannot compare: a skip when the reference
 * is absent or its case was not run (filtered out), a failure when it did not start or
 * its case failed.
 */
function referenceFor(name: string, ctx: TestContext): unknown {
  if (referenceAbsent) return ctx.skip(`no reference ZooKeeper to compare with: ${referenceAbsent}`);
  if (referenceFailed) throw new Error(`the reference ZooKeeper is installed but did not start: ${referenceFailed}`);
  const outcome = reference.get(name);
  if (!outcome) return ctx.skip("the reference's case did not run in this run");
  if ("failed" in outcome) throw new Error(`the reference ZooKeeper failed this case, so there is nothing to compare with: ${outcome.failed}`);
  return outcome.observed;
}

async function runCase(target: Running["target"], index: number, entry: (typeof cases)[number]): Promise<unknown> {
  const sessions = new Map<string, Session>();
  const context: CaseContext = {
    root: `/conformance-${index}`,
    async connect(sessionName, options) {
      const session = await Session.open(target, options);
      sessions.set(sessionName, session);
      return session;
    },
  };
  try {
    const observed = await entry.run(context);
    const ids = Object.fromEntries([...sessions].map(([sessionName, session]) => [sessionName, session.id]));
    return normalise(observed, ids);
  } finally {
    await Promise.all([...sessions.values()].map((session) => session.close()));
  }
}

describe("ZooKeeper 3.8 (reference)", () => {
  let started: Started | undefined;
  beforeAll(async () => {
    try {
      started = await startReference();
    } catch (error) {
      referenceFailed = (error as Error).message;
      throw error;
    }
    if ("absent" in started) {
      referenceAbsent = started.absent;
      console.warn(`conformance: every case skipped, no reference: ${referenceAbsent}`);
    }
  }, 180_000);
  afterAll(async () => {
    if (started && "target" in started) await started.stop();
  });

  for (const [index, entry] of cases.entries()) {
    it(entry.name, async (ctx) => {
      if (!started) throw new Error("the reference did not start");
      if ("absent" in started) return ctx.skip(started.absent);
      try {
        reference.set(entry.name, { observed: await runCase(started.target, index, entry) });
      } catch (error) {
        reference.set(entry.name, { failed: (error as Error).message });
        throw error;
      }
    }, 60_000);
  }
});

describe("edgekeeper bridge", () => {
  let started: Running | undefined;
  beforeAll(async () => {
    // Without a reference no case compares: starting the bridge would check nothing.
    if (!referenceAbsent && !referenceFailed) started = await startBridge();
  }, 180_000);
  afterAll(async () => {
    await started?.stop();
  });

  for (const [index, entry] of cases.entries()) {
    it(entry.name, async (ctx) => {
      if (BRIDGE_SKIPS[entry.name]) return ctx.skip(BRIDGE_SKIPS[entry.name]);
      const expected = referenceFor(entry.name, ctx);
      if (!started) throw new Error("the bridge did not start");
      const shown = await runCase(started.target, index, entry);
      const bug = BRIDGE_KNOWN_BUGS[entry.name];
      if (bug) {
        const same = JSON.stringify(shown) === JSON.stringify(expected);
        expect(same, `known bug no longer seen, remove it from the list: ${bug}`).toBe(false);
        console.warn(`conformance: the bridge still differs (known bug): ${entry.name}: ${bug}`);
      } else expect(shown, "the bridge observes what ZooKeeper 3.8 observes").toEqual(expected);
    }, 60_000);
  }
});
