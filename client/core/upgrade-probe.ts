/**
 * Why a session socket did not open. The WebSocket API hides the status of a
 * refused upgrade: a 401 for a missing or wrong token looks like a network failure,
 * so a client would retry until its connect timeout and report ConnectionLoss. The
 * same URL asked over plain HTTP (no upgrade) passes the Worker's token and
 * namespace checks first and answers with the error that refused the upgrade;
 * with the token right it answers BadArguments (not an upgrade) without touching
 * any object, so the question is cheap.
 */
import type { KeeperError, KeeperErrorBody } from "../../protocol/errors.ts";
import { refusesRegion } from "../../protocol/regions.ts";
import { errorFromBody } from "./wire.ts";

/** What the socket route says to a plain GET. */
export type ProbeAnswer =
  /** An edgekeeper server that would take this token for this namespace. */
  | { kind: "accepted" }
  /** It refuses the token or the namespace: the error to give the caller. */
  | { kind: "refused"; error: KeeperError }
  /** Nothing answered (network error, timeout): `detail` says what. */
  | { kind: "unreachable"; detail: string }
  /** Something answered that is not an edgekeeper server. */
  | { kind: "foreign"; status: number };

/** Refusals the Worker gives before the upgrade: wrong credentials, or a namespace out of the token's scope. */
const REFUSALS = new Set(["AuthFailed", "NoAuth"]);

/**
 * Asks the session socket's URL (ws, wss, http or https) over HTTP whether it would
 * take `token`. Never throws.
 *
 * @example
 * const answer = await probeSocketRoute("ws://127.0.0.1:8787/v1/sessions/socket?namespace=app", "wrong");
 * if (answer.kind === "refused") throw answer.error; // AuthFailed
 */
export async function probeSocketRoute(socketUrl: string, token: string | undefined, timeoutMs = 5_000): Promise<ProbeAnswer> {
  const url = new URL(socketUrl);
  if (url.protocol === "ws:") url.protocol = "http:";
  else if (url.protocol === "wss:") url.protocol = "https:";
  let response: Response;
  try {
    response = await fetch(url, {
      headers: token === undefined ? {} : { Authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return { kind: "unreachable", detail: cause?.code ?? cause?.message ?? (error as Error).message };
  }
  let body: { error?: Partial<KeeperErrorBody> } | undefined;
  try {
    body = (await response.json()) as typeof body;
  } catch {
    return { kind: "foreign", status: response.status };
  }
  const name = body?.error?.name;
  if (name !== undefined && REFUSALS.has(name)) return { kind: "refused", error: errorFromBody(body?.error) };
  // A region the server does not simulate is BadArguments too, but said before the upgrade check.
  if (name === "BadArguments" && refusesRegion(body?.error?.message)) return { kind: "refused", error: errorFromBody(body?.error) };
  if (response.status === 400 && name === "BadArguments") return { kind: "accepted" };
  return { kind: "foreign", status: response.status };
}
