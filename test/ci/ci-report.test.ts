/**
 * The check .ci/run makes of vitest's JSON reports (test/harness/ci-report.ts), on
 * sample reports shaped as vitest 5 writes them: CI fails on a skip outside
 * .ci/expected-skips, a file that failed to load, a run of zero tests, a missing
 * report, in any of the three runs; it passes today's expected skips, in the node run
 * and in the regions run alike. The last test runs the check as .ci/run does.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { type JsonReport, checkReports, parseExpectedSkips } from "../harness/ci-report.ts";

const ROOT = "/repo";
const CONFORMANCE = `${ROOT}/test/conformance/conformance.test.ts`;
const BRIDGE_SKIPS = ["creates below /zookeeper", "a failed write takes a zxid"];

type Status = "passed" | "failed" | "skipped" | "pending" | "todo";
const test = (title: string, status: Status, ancestorTitles: string[] = []) => ({ ancestorTitles, title, status });

/** A report of one file's tests (and the file's own error message, empty when it loaded). */
const report = (name: string, tests: ReturnType<typeof test>[], message = ""): JsonReport => ({
  testResults: [{ name, status: message || tests.some((t) => t.status === "failed") ? "failed" : "passed", message, assertionResults: tests }],
});

/** A node run as today's: the conformance suite with the bridge's documented differences skipped. */
const nodeRun = (extra: ReturnType<typeof test>[] = []) =>
  report(CONFORMANCE, [
    test("create persistent", "passed", ["ZooKeeper 3.8 (reference)"]),
    test("create persistent", "passed", ["edgekeeper bridge"]),
    ...BRIDGE_SKIPS.map((name) => test(name, "skipped", ["edgekeeper bridge"])),
    ...extra,
  ]);
const workerdRun = () => report(`${ROOT}/test/worker/znodes.test.ts`, [test("creates a node", "passed", ["znodes"])]);

const expectedSkips = async () => parseExpectedSkips(await readFile(".ci/expected-skips", "utf8"));

describe("the CI report check", () => {
  it("passes a run whose only skips are the ones .ci/expected-skips names", async () => {
    // The regions run repeats the conformance suite: the same documented skips are expected there.
    expect(checkReports({ workerd: workerdRun(), node: nodeRun(), regions: nodeRun() }, await expectedSkips(), ROOT)).toEqual({ problems: [], notes: [] });
  });

  it("fails on a skipped, pending or todo test the list does not name, naming it as file > suite > test", async () => {
    const node = nodeRun([test("reads", "skipped", ["client"]), test("later", "todo"), test("someday", "pending", ["a", "b"])]);
    const { problems } = checkReports({ workerd: workerdRun(), node, regions: nodeRun() }, await expectedSkips(), ROOT);
    expect(problems).toEqual([
      "skipped, and not in .ci/expected-skips: test/conformance/conformance.test.ts > client > reads",
      "skipped, and not in .ci/expected-skips: test/conformance/conformance.test.ts > later",
      "skipped, and not in .ci/expected-skips: test/conformance/conformance.test.ts > a > b > someday",
    ]);
  });

  it("fails on a test file that failed to load, on a run that executed no test, and on a missing report", async () => {
    const broken = report(`${ROOT}/test/ci/broken.test.ts`, [], "boom at load");
    const allSkipped = report(CONFORMANCE, BRIDGE_SKIPS.map((name) => test(name, "skipped", ["edgekeeper bridge"])));
    expect(checkReports({ workerd: broken, node: allSkipped, regions: nodeRun() }, await expectedSkips(), ROOT).problems).toEqual([
      "test/ci/broken.test.ts failed outside its tests: boom at load",
      "the workerd run executed no test",
      "the node run executed no test",
    ]);
    expect(checkReports({ workerd: undefined, node: nodeRun(), regions: undefined }, await expectedSkips(), ROOT).problems).toEqual([
      "the workerd run wrote no report (it did not run, or stopped before its end)",
      "the regions run wrote no report (it did not run, or stopped before its end)",
    ]);
  });

  it("notes, without failing, a listed test that no longer skips", async () => {
    const node = nodeRun().testResults[0]!;
    node.assertionResults = node.assertionResults.map((t) => (t.title === "a failed write takes a zxid" ? { ...t, status: "passed" } : t));
    expect(checkReports({ workerd: workerdRun(), node: { testResults: [node] }, regions: { testResults: [node] } }, await expectedSkips(), ROOT)).toEqual({
      problems: [],
      notes: ["in .ci/expected-skips but not skipped: test/conformance/conformance.test.ts > edgekeeper bridge > a failed write takes a zxid"],
    });
  });

  it("refuses a list entry without a comment above it saying why", () => {
    expect(() => parseExpectedSkips("# why\na > b\n\nc > d\n")).toThrow(/line 4 has no '#' comment above it/);
    expect([...parseExpectedSkips("# why\na > b\n# why too\nc > d\n")]).toEqual(["a > b", "c > d"]);
  });

  it("fails or passes .ci/run's call on reports written to a directory", async () => {
    const dir = await mkdtemp(join(tmpdir(), "edgekeeper-ci-report-"));
    const cwd = process.cwd();
    const run = (regions: JsonReport) =>
      Promise.all([
        writeFile(join(dir, "workerd.json"), JSON.stringify(report(`${cwd}/test/worker/znodes.test.ts`, [test("creates a node", "passed")]))),
        writeFile(join(dir, "node.json"), JSON.stringify(report(`${cwd}/test/ci/ci-report.test.ts`, [test("passes", "passed")]))),
        writeFile(join(dir, "regions.json"), JSON.stringify(regions)),
      ]).then(() => promisify(execFile)(process.execPath, ["test/harness/ci-report.ts", dir, ".ci/expected-skips"]).then(
        ({ stdout }) => ({ code: 0, stdout }),
        (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
      ));
    try {
      const skips = BRIDGE_SKIPS.map((name) => test(name, "skipped", ["edgekeeper bridge"]));
      const good = report(`${cwd}/test/conformance/conformance.test.ts`, [test("create persistent", "passed", ["edgekeeper bridge"]), ...skips]);
      expect(await run(good)).toEqual({ code: 0, stdout: "" });
      const bad = report(`${cwd}/test/client/e2e.test.ts`, [test("creates, reads, sets and deletes", "skipped"), test("resumes", "passed")]);
      const failed = await run(bad);
      expect(failed.code).toBe(1);
      expect(failed.stdout).toContain("ci: skipped, and not in .ci/expected-skips: test/client/e2e.test.ts > creates, reads, sets and deletes\n");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
