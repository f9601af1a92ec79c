/**
 * A small HTTP client for the Worker's API as tests drive it through `SELF.fetch`:
 * one namespace per client (so tests never share state), JSON in and out, helpers
 * that assert ZooKeeper errors, and a snapshot of a whole namespace's tree (data,
 * Stat and ACL of every node) to prove a refused request wrote nothing.
 *
 * @example
 * const zk = new HttpClient();
 * await zk.create("/a", { data: "hi" });
 * await expectKeeperError(await zk.create("/a"), "NodeExists");
 */
import { SELF } from "cloudflare:test";
import { expect } from "vitest";
import { KEEPER_ERRORS, type KeeperErrorName, type Stat } from "../../protocol/index.ts";

/** Locally the API answers loopback hosts only (worker/middleware/origin-guard.ts). */
export const ORIGIN = "http://localhost";
export const SUPER_AUTH = "digest super:test";

let counter = 0;

/** A namespace no other test uses. */
export function uniqueNamespace(label = "t"): string {
  counter += 1;
  return `${label}-${counter}-${crypto.randomUUID().slice(0, 8)}`;
}

/** The API URL of a znode path, each component percent-encoded. */
export function znodeUrl(path: string, query: Record<string, string> = {}): string {
  const encoded = path === "/" ? "/" : path.split("/").map(encodeURIComponent).join("/");
  const search = new URLSearchParams(query).toString();
  return `${ORIGIN}/v1/znodes${encoded}${search ? `?${search}` : ""}`;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  /** A string is sent as is; anything else as JSON. */
  body?: unknown;
  query?: Record<string, string>;
}

/** What a successful znode read returns. */
export interface DataJson {
  path: string;
  data: string;
  encoding: "utf8" | "base64";
  stat: Stat;
}

export interface ErrorJson {
  error: { name: KeeperErrorName; code: number; message: string; path?: string };
  results?: { op: string; error?: { name: string; code: number } }[];
}

export class HttpClient {
  readonly namespace: string;
  private readonly headers: Record<string, string>;

  constructor(options: { namespace?: string; auth?: string; headers?: Record<string, string> } = {}) {
    this.namespace = options.namespace ?? uniqueNamespace();
    this.headers = { "X-Edgekeeper-Namespace": this.namespace, ...options.headers };
    if (options.auth) this.headers["X-Edgekeeper-Auth"] = options.auth;
  }

  /** The same namespace as another identity ("digest user:pw"), or anonymous (undefined). */
  as(auth: string | undefined): HttpClient {
    const headers = { ...this.headers };
    delete headers["X-Edgekeeper-Auth"];
    return new HttpClient({ namespace: this.namespace, headers, ...(auth ? { auth } : {}) });
  }

  /** Any request to the API, relative to the origin ("/v1/multi") or absolute. */
  fetch(method: string, url: string, options: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { ...this.headers, ...options.headers };
    let body: string | undefined;
    if (options.body !== undefined) {
      body = typeof options.body === "string" ? options.body : JSON.stringify(options.body);
      headers["Content-Type"] ??= "application/json";
    }
    const full = url.startsWith("/") ? `${ORIGIN}${url}` : url;
    return SELF.fetch(full, { method, headers, ...(body === undefined ? {} : { body }) });
  }

  get(path: string, query: Record<string, string> = {}, headers: Record<string, string> = {}): Promise<Response> {
    return this.fetch("GET", znodeUrl(path, query), { headers });
  }

  create(path: string, body: unknown = {}, headers: Record<string, string> = {}): Promise<Response> {
    return this.fetch("POST", znodeUrl(path), { body, headers });
  }

  set(path: string, body: unknown, options: { query?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<Response> {
    return this.fetch("PUT", znodeUrl(path, options.query), { body, headers: options.headers ?? {} });
  }

  delete(path: string, options: { query?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<Response> {
    return this.fetch("DELETE", znodeUrl(path, options.query), { headers: options.headers ?? {} });
  }

  multi(ops: unknown[]): Promise<Response> {
    return this.fetch("POST", "/v1/multi", { body: { ops } });
  }

  multiRead(ops: unknown[], query: Record<string, string> = {}): Promise<Response> {
    const search = new URLSearchParams(query).toString();
    return this.fetch("POST", `/v1/multi-read${search ? `?${search}` : ""}`, { body: { ops } });
  }

  /** Mounts `prefix` on a shard of its own (`acl`: the mount point's, else as a create's). */
  mount(prefix: unknown, options: { acl?: unknown } = {}): Promise<Response> {
    return this.fetch("POST", "/v1/admin/mounts", { body: { prefix, ...options } });
  }

  unmount(prefix: string): Promise<Response> {
    return this.fetch("DELETE", `/v1/admin/mounts${prefix.split("/").map(encodeURIComponent).join("/")}`);
  }

  /** Whether the node is there (200 to a stat read; any other answer is no). */
  async exists(path: string): Promise<boolean> {
    const res = await this.get(path, { view: "stat" });
    await res.body?.cancel();
    return res.status === 200;
  }

  /** Creates a node and asserts it worked; returns the created path and Stat. */
  async mustCreate(path: string, body: unknown = {}): Promise<{ path: string; stat: Stat }> {
    const res = await this.create(path, body);
    if (res.status !== 201) throw new Error(`create ${path}: ${res.status} ${await res.text()}`);
    return res.json();
  }

  /** Reads a node and asserts it exists. */
  async mustGet(path: string, query: Record<string, string> = {}): Promise<DataJson> {
    const res = await this.get(path, query);
    if (res.status !== 200) throw new Error(`get ${path}: ${res.status} ${await res.text()}`);
    return res.json();
  }

  /**
   * Every node of the namespace, read as super: path, value (base64), Stat and ACL.
   * Equal snapshots before and after a request mean it wrote nothing.
   */
  async snapshot(): Promise<Record<string, { data: string; stat: Stat; acl: unknown }>> {
    const root = this.as(SUPER_AUTH);
    const out: Record<string, { data: string; stat: Stat; acl: unknown }> = {};
    const visit = async (path: string): Promise<void> => {
      const data = await root.mustGet(path, { encoding: "base64" });
      const acl = await (await root.get(path, { view: "acl" })).json<{ acl: unknown }>();
      out[path] = { data: data.data, stat: data.stat, acl: acl.acl };
      const children = await (await root.get(path, { view: "children" })).json<{ children: string[] }>();
      for (const child of children.children) await visit(path === "/" ? `/${child}` : `${path}/${child}`);
    };
    await visit("/");
    return out;
  }
}

/**
 * Asserts a response is the named ZooKeeper error, with its code and the HTTP
 * status of the error table, and returns the body.
 */
export async function expectKeeperError(res: Response, name: KeeperErrorName): Promise<ErrorJson> {
  const text = await res.text();
  let body: ErrorJson;
  try {
    body = JSON.parse(text) as ErrorJson;
  } catch {
    throw new Error(`expected a ${name} error in JSON, got ${res.status}: ${text}`);
  }
  expect(body.error?.name, `${res.status} ${text}`).toBe(name);
  expect(body.error.code).toBe(KEEPER_ERRORS[name].code);
  expect(typeof body.error.message).toBe("string");
  expect(res.status).toBe(KEEPER_ERRORS[name].httpStatus);
  expect(res.headers.get("Content-Type")).toMatch(/^application\/json/);
  return body;
}

/** Asserts a response is a client error (4xx) carrying some ZooKeeper error name. */
export async function expectClientError(res: Response): Promise<ErrorJson> {
  const text = await res.text();
  expect(res.status, text).toBeGreaterThanOrEqual(400);
  expect(res.status, text).toBeLessThan(500);
  const body = JSON.parse(text) as ErrorJson;
  expect(Object.keys(KEEPER_ERRORS)).toContain(body.error.name);
  expect(body.error.code).toBe(KEEPER_ERRORS[body.error.name].code);
  return body;
}

/** Bytes as base64 (for building request bodies). */
export function base64(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}
