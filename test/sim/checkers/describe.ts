/** How a violation prints a call: one line with its session, time span, op and answer. */
import type { Call } from "../history.ts";

/** One line per call, e.g. `#12 s3 [5..9] set /a "x" v-1 -> ok "x" v2 mzxid 7 (zxid 7)`. */
export function describeCall(c: Call): string {
  const op = c.op;
  const args =
    op.type === "create" ? ` ${JSON.stringify(op.value)}` : op.type === "set" ? ` ${JSON.stringify(op.value)} v${op.expectedVersion}` : op.type === "delete" ? ` v${op.expectedVersion}` : "";
  const span = `[${c.invokedAt}..${c.returnedAt ?? "?"}]`;
  let result = "no answer";
  if (c.result && c.returnedAt !== undefined) {
    const r = c.result;
    if (!r.ok) result = `${r.error} (zxid ${r.zxid})`;
    else if (!r.state.exists) result = `ok absent (zxid ${r.zxid})`;
    else result = `ok ${JSON.stringify(r.state.value)} v${r.state.version} mzxid ${r.state.mzxid} (zxid ${r.zxid})`;
  }
  return `#${c.id} s${c.session} ${span} ${op.type} ${op.path}${args} -> ${result}`;
}
