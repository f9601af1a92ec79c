/**
 * Where the HTTP recipes (withLock, getConfig) send their requests: a base URL, a
 * service binding (any object with a `fetch` like the global one), or a Worker's
 * `env` holding one (`EDGEKEEPER` binding or `EDGEKEEPER_URL`, and optionally
 * `EDGEKEEPER_TOKEN`). fetch only: no WebSocket, nothing that outlives a request.
 * Not exported from recipes/index.ts on its own: its types are.
 */
import { KeeperError, type KeeperErrorName } from "../index.ts";
import { BOOKMARK_HEADER, type Bookmark, advanceBookmark, decodeBookmark, emptyBookmark, encodeBookmark } from "../../protocol/bookmark.ts";
import { validatePath } from "../../protocol/paths.ts";

/** Anything with a fetch like the global one: a service binding (`env.EDGEKEEPER`), or a wrapper in tests. */
export interface FetchLike {
  fetch(input: string, init?: RequestInit): Promise<Response>;
}

/** A base URL, a service binding, or a Worker `env` with `EDGEKEEPER_URL` (which wins) / `EDGEKEEPER` (binding or URL), and `EDGEKEEPER_TOKEN`. */
export type HttpTarget = string | URL | FetchLike | { EDGEKEEPER?: FetchLike | string; EDGEKEEPER_URL?: string; EDGEKEEPER_TOKEN?: string };

export interface HttpOptions {
  /** The tenant (`X-Edgekeeper-Namespace`). */
  namespace?: string;
  /** The bearer token of a deployed Worker (default: `env.EDGEKEEPER_TOKEN` when given an env). */
  token?: string;
}

/**
 * Requests to one edgekeeper, as JSON, with its errors turned into KeeperErrors.
 * Each request carries what earlier answers showed (their bookmarks, merged), so a
 * read served by a replica sees the endpoint's own writes (docs/consistency.md).
 */
export class HttpEndpoint {
  private readonly base: string;
  private readonly fetcher: FetchLike;
  private readonly headers: Record<string, string> = {};
  private readonly bookmark: Bookmark;

  constructor(target: HttpTarget, options: HttpOptions = {}) {
    let token = options.token;
    if (typeof target === "string" || target instanceof URL) {
      this.base = String(target).replace(/\/$/, "");
      this.fetcher = { fetch: (input, init) => fetch(input, init) };
    } else if ("fetch" in target && typeof target.fetch === "function") {
      this.base = "http://localhost"; // a binding ignores the host; a loopback one passes the local API's host check
      this.fetcher = target;
    } else {
      const env = target as { EDGEKEEPER?: FetchLike | string; EDGEKEEPER_URL?: string; EDGEKEEPER_TOKEN?: string };
      // A URL, when set, wins: `wrangler dev --var EDGEKEEPER_URL:...` points a Worker
      // whose wrangler.toml also declares a binding at a local server, and under wrangler
      // dev that binding is there but reaches nothing.
      const via = env.EDGEKEEPER_URL || env.EDGEKEEPER;
      if (!via) throw new TypeError("env has neither an EDGEKEEPER binding nor EDGEKEEPER_URL");
      const inner = new HttpEndpoint(via, options);
      this.base = inner.base;
      this.fetcher = inner.fetcher;
      token ??= env.EDGEKEEPER_TOKEN;
    }
    if (token) this.headers.authorization = `Bearer ${token}`;
    if (options.namespace) this.headers["x-edgekeeper-namespace"] = options.namespace;
    this.bookmark = emptyBookmark(options.namespace ?? "default");
  }

  /** Sends a request; resolves with the JSON body and headers of a 2xx answer, rejects with the KeeperError of any other. */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<{ body: T; headers: Headers }> {
    const { status, body, headers } = await this.send<T>(method, path, options);
    if (status >= 200 && status < 300) return { body, headers };
    throw errorOf(body, status, `${method} ${path}`);
  }

  /** Sends a request; resolves with whatever status came back (fails only when nothing did). */
  async send<T>(method: string, path: string, options: RequestOptions = {}): Promise<{ status: number; body: T; headers: Headers }> {
    let response: Response;
    try {
      response = await this.fetcher.fetch(`${this.base}${path}`, {
        method,
        headers: {
          ...this.headers,
          ...(this.bookmark.shards.size > 0 ? { [BOOKMARK_HEADER]: encodeBookmark(this.bookmark) } : {}),
          ...(options.body === undefined ? {} : { "content-type": "application/json" }),
          ...options.headers,
        },
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: options.signal,
      });
    } catch (error) {
      if (options.signal?.aborted) throw error;
      throw new KeeperError("ConnectionLoss", `${method} ${path}: ${error instanceof Error ? error.message : String(error)}`);
    }
    this.remember(response.headers.get(BOOKMARK_HEADER));
    const body = (await response.json().catch(() => ({}))) as T;
    return { status: response.status, body, headers: response.headers };
  }

  /**
   * Merges an answer's bookmark into the endpoint's (answers of concurrent requests,
   * a keep-alive's, may show less than one before). One of a namespace other than the
   * endpoint's (a request whose own headers named another) is not the endpoint's to keep.
   */
  private remember(shown: string | null): void {
    if (!shown) return;
    let bookmark: Bookmark;
    try {
      bookmark = decodeBookmark(shown, this.bookmark.namespace);
    } catch {
      return;
    }
    for (const [shard, zxid] of bookmark.shards) advanceBookmark(this.bookmark, shard, zxid);
  }
}

interface RequestOptions {
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** The KeeperError an error answer carries (ConnectionLoss for a 5xx without one). */
export function errorOf(body: unknown, status: number, what: string): KeeperError {
  const error = (body as { error?: { name?: string; message?: string; path?: string } }).error;
  const name = (error?.name ?? (status >= 500 ? "ConnectionLoss" : "SystemError")) as KeeperErrorName;
  try {
    return new KeeperError(name, error?.message ?? `${what}: HTTP ${status}`, error?.path);
  } catch {
    return new KeeperError("SystemError", `${what}: HTTP ${status} ${error?.name ?? ""}`);
  }
}

/** ZooKeeper's rules for a path; the server's size limits are the server's to check. */
const PATH_RULES = { maxPathBytes: Number.MAX_SAFE_INTEGER, maxPathDepth: Number.MAX_SAFE_INTEGER };

/**
 * Throws BadArguments for a path ZooKeeper's client refuses. Checked before a URL is
 * built from it, since URL parsing would turn `/a/../b` into `/b`, another node.
 */
export function checkZnodePath(path: string): void {
  validatePath(path, PATH_RULES);
}

/** `/v1/znodes` + the path (checked), each segment percent-encoded. */
export function znodeUrl(path: string): string {
  checkZnodePath(path);
  return `/v1/znodes${path.split("/").map(encodeURIComponent).join("/")}`;
}
