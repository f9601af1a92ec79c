/**
 * The conformance suite never passes a case it did not compare: run as CI runs it,
 * without a reference ZooKeeper (no Java) every case is reported skipped, saying why;
 * with ZooKeeper installed but not starting, every case fails. Neither run starts a
 * server of ours: without a reference the bridge would check nothing.
 */
import { execFile } from "node:child_process";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type JsonReport, REPORT_DIR_VARIABLE } from "../harness/ci-report.ts";
import { zookeeperUnavailable } from "../harness/zookeeper/launch.ts";

const VITEST = resolve("node_modules/vitest/vitest.mjs");
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgekeeper-conformance-skips-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The conformance suite's test statuses, run in a vitest of its own with `java` as the Java command. */
async function conformanceWith(java: string): Promise<{ status: string; name: string; message: string }[]> {
  const report = join(dir, `report-${Date.now()}.json`);
  const env: NodeJS.ProcessEnv = { ...process.env, JAVA: java };
  delete env[REPORT_DIR_VARIABLE]; // the run of CI is not this one
  const args = [VITEST, "run", "-c", "vitest.e2e.config.ts", "test/conformance", "--reporter=json", `--outputFile.json=${report}`];
  await promisify(execFile)(process.execPath, args, { env, maxBuffer: 16 * 1024 * 1024 }).catch(() => undefined);
  const { testResults } = JSON.parse(await readFile(report, "utf8")) as JsonReport & { testResults: { message: string }[] };
  return testResults.flatMap((file) => file.assertionResults.map((test) => ({ status: test.status, name: [...test.ancestorTitles, test.title].join(" > "), message: file.message })));
}

it("skips every case, the bridge's too, when there is no Java to run the reference", async () => {
  const tests = await conformanceWith(join(dir, "no-such-java"));
  expect(tests.length).toBeGreaterThan(20);
  expect(tests.filter((t) => t.status !== "skipped")).toEqual([]);
});

it("fails every case when ZooKeeper is installed but does not start", async (ctx) => {
  const missing = await zookeeperUnavailable();
  if (missing?.startsWith("ZooKeeper not installed")) ctx.skip(missing);
  // A Java that answers -version but runs nothing.
  const java = join(dir, "broken-java");
  await writeFile(java, '#!/bin/sh\nif [ "$1" = -version ]; then echo "openjdk version \\"0\\" (broken)" >&2; exit 0; fi\nexit 1\n');
  await chmod(java, 0o755);
  const tests = await conformanceWith(java);
  const passed = tests.filter((t) => t.status === "passed");
  expect(passed).toEqual([]);
  const bridge = tests.filter((t) => t.name.startsWith("edgekeeper bridge > "));
  // All but the bridge's documented differences (skipped as always) fail.
  expect(bridge.filter((t) => t.status === "failed").length).toBeGreaterThan(20);
  expect(new Set(bridge.map((t) => t.status))).toEqual(new Set(["failed", "skipped"]));
});
