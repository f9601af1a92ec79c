/**
 * One suite of ZooKeeper semantics (cases.ts), run against a real ZooKeeper 3.8
 * (the reference) and against edgekeeper's wire bridge, both through
 * node-zookeeper-client. The reference runs first; each bridge case must then
 * observe what the reference observed (after normalise.ts), or be in the skip list
 * below with the documented reason edgekeeper differs. A target that cannot start
 * here skips, saying why; the other still runs.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CaseContext, cases } from "./cases.ts";
import { normalise } from "./normalise.ts";
import { type Started, startBridge, startReference } from "./servers.ts";
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

const targets: { name: string; start(): Promise<Started>; skips: Record<string, string>; bugs: Record<string, string> }[] = [
  { name: "ZooKeeper 3.8 (reference)", start: startReference, skips: {}, bugs: {} },
  { name: "edgekeeper bridge", start: startBridge, skips: BRIDGE_SKIPS, bugs: BRIDGE_KNOWN_BUGS },
];

for (const name of [...Object.keys(BRIDGE_SKIPS), ...Object.keys(BRIDGE_KNOWN_BUGS)]) {
  if (!cases.some((entry) => entry.name === name)) throw new Error(`skip list names no case: ${name}`);
}

/** What the reference observed, per case, for the other targets to match. */
const reference = new Map<string, unknown>();

for (const [targetIndex, { name, start, skips, bugs }] of targets.entries()) {
  describe(name, () => {
    let started: Started = { unavailable: "not started" };
    beforeAll(async () => {
      started = await start();
      if ("unavailable" in started) console.warn(`conformance: ${name} skipped: ${started.unavailable}`);
    }, 180_000);
    afterAll(async () => {
      if ("target" in started) await started.stop();
    });

    for (const [index, entry] of cases.entries()) {
      it(entry.name, async (ctx) => {
        if ("unavailable" in started) return ctx.skip(started.unavailable);
        if (skips[entry.name]) return ctx.skip(skips[entry.name]);
        const { target } = started;
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
          const shown = normalise(observed, ids);
          if (targetIndex === 0) reference.set(entry.name, shown);
          else if (!reference.has(entry.name)) return;
          else if (bugs[entry.name]) {
            const same = JSON.stringify(shown) === JSON.stringify(reference.get(entry.name));
            expect(same, `known bug no longer seen, remove it from the list: ${bugs[entry.name]}`).toBe(false);
            console.warn(`conformance: ${name} still differs (known bug): ${entry.name}: ${bugs[entry.name]}`);
          } else expect(shown, `${name} observes what ZooKeeper 3.8 observes`).toEqual(reference.get(entry.name));
        } finally {
          await Promise.all([...sessions.values()].map((session) => session.close()));
        }
      }, 60_000);
    }
  });
}
