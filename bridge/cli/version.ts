/**
 * The package's version, for `--version` on every command: read from the nearest
 * package.json above this file (bridge/cli/ in a clone, dist/bridge/cli/ once installed).
 *
 * @example
 * console.log(packageVersion()); // "0.1.0"
 */
import { readFileSync } from "node:fs";

export function packageVersion(): string {
  for (let dir = new URL("./", import.meta.url); ; dir = new URL("../", dir)) {
    try {
      return (JSON.parse(readFileSync(new URL("package.json", dir), "utf8")) as { version: string }).version;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT" || dir.pathname === "/") throw error;
    }
  }
}
