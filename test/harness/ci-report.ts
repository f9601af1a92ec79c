/**
 * The test report CI reads. With EDGEKEEPER_TEST_REPORT_DIR set (.ci/run sets it),
 * each vitest config writes a JSON report of its run there beside the default
 * reporter; `checkReports` then fails CI on what vitest's exit code lets through: a
 * skip not named in .ci/expected-skips, a run that executed no test, a test file
 * that failed outside its tests (at load, or in a file-level hook).
 *
 * @example
 * // vitest.config.ts
 * test: { reporters: testReporters("workerd") }
 * // .ci/run, after `npm test`
 * npx node test/harness/ci-report.ts "$EDGEKEEPER_TEST_REPORT_DIR" .ci/expected-skips
 */
import { existsSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

export const REPORT_DIR_VARIABLE = "EDGEKEEPER_TEST_REPORT_DIR";

/**
 * The vitest runs of `npm test`, each writing `<name>.json`: workerd (vitest.config.ts),
 * Node (vitest.e2e.config.ts), and Node again with simulated regions (vitest.regions.config.ts).
 */
export const RUNS = ["workerd", "node", "regions"] as const;
export type RunName = (typeof RUNS)[number];

/** The reporters of one vitest config: the default one, plus the JSON report when CI asks for it. */
export function testReporters(run: RunName): (string | [string, { outputFile: string }])[] {
  const dir = process.env[REPORT_DIR_VARIABLE];
  return dir ? ["default", ["json", { outputFile: join(dir, `${run}.json`) }]] : ["default"];
}

/** The part of vitest's JSON report the check reads. */
export interface JsonReport {
  testResults: {
    name: string;
    status: string;
    message: string;
    assertionResults: { ancestorTitles: string[]; title: string; status: string }[];
  }[];
}

/** How .ci/expected-skips and the check's messages name a test: `file > suite > test`. */
export function testId(file: string, titles: string[]): string {
  return [file, ...titles].join(" > ");
}

/**
 * The tests that may skip, from .ci/expected-skips: one test id a line, each under a
 * `#` comment saying why (an entry without one is refused); blank lines separate.
 */
export function parseExpectedSkips(text: string): Set<string> {
  const expected = new Set<string>();
  let reason = false;
  for (const [index, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (line === "") reason = false;
    else if (line.startsWith("#")) reason = true;
    else if (!reason) throw new Error(`expected skip on line ${index + 1} has no '#' comment above it saying why: ${line}`);
    else expected.add(line);
  }
  return expected;
}

const EXECUTED = new Set(["passed", "failed"]);

/**
 * What makes the run fail beyond vitest's exit code (`problems`), and expected skips
 * that did not skip (`notes`: the list may be out of date, which fails nothing).
 * `root` is the directory the test ids' files are relative to.
 */
export function checkReports(
  reports: Record<RunName, JsonReport | undefined>,
  expected: Set<string>,
  root: string,
): { problems: string[]; notes: string[] } {
  const problems: string[] = [];
  const skipped = new Set<string>();
  for (const run of RUNS) {
    const report = reports[run];
    if (!report) {
      problems.push(`the ${run} run wrote no report (it did not run, or stopped before its end)`);
      continue;
    }
    let executed = 0;
    for (const file of report.testResults) {
      const path = relative(root, file.name);
      if (file.message) problems.push(`${path} failed outside its tests: ${file.message}`);
      for (const test of file.assertionResults) {
        if (EXECUTED.has(test.status)) executed++;
        else skipped.add(testId(path, [...test.ancestorTitles, test.title]));
      }
    }
    if (executed === 0) problems.push(`the ${run} run executed no test`);
  }
  for (const id of skipped) if (!expected.has(id)) problems.push(`skipped, and not in .ci/expected-skips: ${id}`);
  const notes = [...expected].filter((id) => !skipped.has(id)).map((id) => `in .ci/expected-skips but not skipped: ${id}`);
  return { problems, notes };
}

/** Reads the reports of `dir` and the list at `expectedPath`; prints what it finds; false when CI must fail. */
export function checkReportDir(dir: string, expectedPath: string, root = process.cwd()): boolean {
  const reports = Object.fromEntries(
    RUNS.map((run) => {
      const path = join(dir, `${run}.json`);
      return [run, existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as JsonReport) : undefined];
    }),
  ) as Record<RunName, JsonReport | undefined>;
  const { problems, notes } = checkReports(reports, parseExpectedSkips(readFileSync(expectedPath, "utf8")), root);
  for (const note of notes) console.log(`ci: note: ${note}`);
  for (const problem of problems) console.log(`ci: ${problem}`);
  return problems.length === 0;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [dir, expectedPath] = process.argv.slice(2);
  if (!dir || !expectedPath) throw new Error("usage: node test/harness/ci-report.ts REPORT_DIR EXPECTED_SKIPS");
  process.exitCode = checkReportDir(dir, expectedPath) ? 0 : 1;
}
