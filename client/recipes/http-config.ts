/**
 * getConfig: configuration for code that lives for one request (a Worker, a
 * serverless function), over HTTP only. Values are served from an in-memory cache
 * (per isolate or process) and refreshed by long-poll: a blocking read
 * (`GET /v1/znodes/<path>?index=<zxid>&wait=<s>`) that the server answers as soon as
 * the node changes. So a hot path costs no request at all, and a change shows up
 * within one round trip of being written.
 *
 * Freshness: while a long-poll is running, the cached value is current (give or take
 * the answer's way back). When none is running (an idle isolate), a value last
 * confirmed more than `maxStaleMs` ago is read again before it is served. A call
 * starts a long-poll if none runs; it goes on while the value keeps being asked for
 * and ends after one quiet round with no calls. In a Worker, pass
 * `waitUntil: (p) => ctx.waitUntil(p)` so the poll may finish after the response;
 * without it (Node) the poll just runs in the background.
 *
 * Status: beta. Tested serving from cache, converging on writes by long-poll, a
 * missing node, and a restart of the server (test/client/recipes-http.test.ts). See
 * docs/recipes/get-config.md.
 */
import { HttpEndpoint, type FetchLike, type HttpOptions, type HttpTarget, errorOf, znodeUrl } from "./http-endpoint.ts";

export interface GetConfigOptions<T> extends HttpOptions {
  /** Turns the node's text into the value (default: the text itself). */
  parse?: (text: string) => T;
  /** Serve a value confirmed this recently without asking again, when no long-poll runs (default 1,000 ms). */
  maxStaleMs?: number;
  /** One long-poll round, seconds (default 25: under a Worker's 30 s of waitUntil). */
  waitSeconds?: number;
  /** A Worker's `ctx.waitUntil`, so the long-poll may outlive the response. */
  waitUntil?: (promise: Promise<unknown>) => void;
}

interface Entry {
  /** The node's text, or undefined while it does not exist. */
  text: string | undefined;
  index: string;
  mzxid: number;
  checkedAt: number;
  polling: boolean;
  /** When the current poll round began (a round that never ends is given up after waitSeconds + 5 s). */
  roundAt: number;
  /** Which poll loop is current: an older one stops at its next answer. */
  poll: number;
  /** Asked for during the current poll round. */
  wanted: boolean;
}

interface DataBody {
  data?: string;
  encoding?: "utf8" | "base64";
  stat?: { mzxid: number };
}

const entries = new Map<string, Entry>();
const targetIds = new WeakMap<object, number>();
let nextTargetId = 0;

/**
 * The value of a configuration node: from the cache when it is current, else read now;
 * undefined while the node does not exist.
 *
 * @example
 * // In a Worker's fetch(request, env, ctx):
 * const url = await getConfig(env, "/config/database/url", { waitUntil: (p) => ctx.waitUntil(p) });
 *
 * // In Node:
 * const limits = await getConfig("http://127.0.0.1:8787", "/config/limits", { parse: JSON.parse });
 */
export async function getConfig<T = string>(target: HttpTarget, path: string, options: GetConfigOptions<T> = {}): Promise<T | undefined> {
  const http = new HttpEndpoint(target, options);
  const key = `${targetKey(target)}|${options.namespace ?? ""}|${path}`;
  let entry = entries.get(key);
  const maxStaleMs = options.maxStaleMs ?? 1_000;
  const waitSeconds = options.waitSeconds ?? 25;
  // A Worker's runtime may cancel a poll left over from an earlier request without
  // settling it: a round past its time counts as no poll.
  const polling = (e: Entry) => e.polling && Date.now() - e.roundAt < (waitSeconds + 5) * 1000;
  if (!entry || (!polling(entry) && Date.now() - entry.checkedAt > maxStaleMs)) {
    const read = await readNode(http, path, undefined, 0);
    entry = entries.get(key) ?? { ...read, checkedAt: Date.now(), polling: false, wanted: false, roundAt: 0, poll: 0 };
    Object.assign(entry, read, { checkedAt: Date.now() });
    entries.set(key, entry);
  }
  entry.wanted = true;
  if (!polling(entry)) {
    entry.polling = true;
    entry.roundAt = Date.now();
    const poll = longPoll(http, path, entry, waitSeconds, ++entry.poll);
    options.waitUntil?.(poll);
  }
  const parse = options.parse ?? ((text: string) => text as T);
  return entry.text === undefined ? undefined : parse(entry.text);
}

/** Forgets every cached value (for tests, or to force fresh reads). */
export function clearConfigCache(): void {
  entries.clear();
}

/** Blocking reads while the value keeps being asked for; ends after one quiet round without calls, or on an error. */
async function longPoll(http: HttpEndpoint, path: string, entry: Entry, waitSeconds: number, id: number): Promise<void> {
  try {
    for (;;) {
      entry.wanted = false;
      entry.roundAt = Date.now();
      const read = await readNode(http, path, entry.index, waitSeconds);
      if (entry.poll !== id) return; // a newer poll took over
      Object.assign(entry, read, { checkedAt: Date.now() });
      if (!entry.wanted) return;
    }
  } catch {
    // The next call reads again once the value is older than maxStaleMs.
  } finally {
    if (entry.poll === id) entry.polling = false;
  }
}

async function readNode(http: HttpEndpoint, path: string, index: string | undefined, waitSeconds: number): Promise<Pick<Entry, "text" | "index" | "mzxid">> {
  const query = index === undefined ? "" : `?index=${index}&wait=${waitSeconds}`;
  const { status, body, headers } = await http.send<DataBody>("GET", `${znodeUrl(path)}${query}`);
  const nextIndex = headers.get("x-edgekeeper-index") ?? index ?? "0";
  if (status === 404) return { text: undefined, index: nextIndex, mzxid: -1 };
  if (status !== 200) throw errorOf(body, status, `GET ${path}`);
  return { text: decode(body), index: nextIndex, mzxid: body.stat?.mzxid ?? -1 };
}

function decode(body: DataBody): string {
  if (body.encoding !== "base64") return body.data ?? "";
  return new TextDecoder().decode(Uint8Array.from(atob(body.data ?? ""), (c) => c.charCodeAt(0)));
}

/** Caches are per target: its URL, or the identity of its binding object. */
function targetKey(target: HttpTarget): string {
  if (typeof target === "string" || target instanceof URL) return String(target);
  const env = target as { EDGEKEEPER?: FetchLike | string; EDGEKEEPER_URL?: string };
  const identity: object | string = "fetch" in target && typeof target.fetch === "function" ? target : (env.EDGEKEEPER_URL || env.EDGEKEEPER || target);
  if (typeof identity === "string") return identity;
  let id = targetIds.get(identity);
  if (id === undefined) targetIds.set(identity, (id = ++nextTargetId));
  return `#${id}`;
}
