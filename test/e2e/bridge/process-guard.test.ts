/**
 * The guard `npm start` and `proxy` install once they serve: in a real Node process,
 * errors nothing caught (thrown from a timer, a rejected promise) are logged, at most
 * ten lines a minute, and the process keeps running.
 */
import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { expect, it } from "vitest";

const guard = resolve(import.meta.dirname, "../../../bridge/cli/process-guard.ts");

it("uncaught exceptions and unhandled rejections are logged, bounded, and the process lives on", async () => {
  const script = `
    import { keepServingOnUncaughtErrors } from ${JSON.stringify(guard)};
    keepServingOnUncaughtErrors((line) => console.error(line.split("\\n")[0]));
    for (let i = 0; i < 15; i++) setTimeout(() => { throw new Error("boom " + i); });
    Promise.reject(new Error("rejected"));
    setTimeout(() => console.log("still serving"), 200);
  `;
  const { stdout, stderr } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script], { timeout: 30_000 });
  expect(stdout).toBe("still serving\n");
  const lines = stderr.split("\n").filter((line) => line.startsWith("edgekeeper:"));
  expect(lines).toHaveLength(10);
  expect(lines[0]).toMatch(/^edgekeeper: unhandled rejection, still serving: Error: rejected$/);
  expect(lines[1]).toBe("edgekeeper: uncaught exception, still serving: Error: boom 0");
});
