/**
 * A small client for the admin routes (/v1/admin/...), as the snapshot command
 * uses them: JSON in and out, the bearer token and namespace on every request,
 * ZooKeeper errors thrown as KeeperErrors, and a connection failure that names
 * the URL it tried.
 */
import { KeeperError, type KeeperErrorBody } from "../../protocol/index.ts";

export interface AdminTarget {
  /** The server's base URL (http://127.0.0.1:8787 for npm start). */
  url: string;
  token?: string | undefined;
  namespace: string;
  /** X-Edgekeeper-Auth, e.g. "digest super:secret" (a write token used as super). */
  auth?: string | undefined;
}

/** A `--url` value as a base URL: "host:port" means http. */
export function baseUrlOf(server: string): string {
  const url = /^[a-z]+:\/\//i.test(server) ? server : `http://${server}`;
  return url.replace(/\/+$/, "");
}

export class AdminApi {
  private readonly target: AdminTarget;

  constructor(target: AdminTarget) {
    this.target = target;
  }

  get(route: string): Promise<unknown> {
    return this.request("GET", route);
  }

  post(route: string, body: unknown = {}): Promise<unknown> {
    return this.request("POST", route, JSON.stringify(body));
  }

  private async request(method: string, route: string, body?: string): Promise<unknown> {
    const url = `${this.target.url}${route}`;
    const headers: Record<string, string> = { "X-Edgekeeper-Namespace": this.target.namespace };
    if (this.target.token) headers.Authorization = `Bearer ${this.target.token}`;
    if (this.target.auth) headers["X-Edgekeeper-Auth"] = this.target.auth;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response: Response;
    try {
      response = await fetch(url, { method, headers, ...(body === undefined ? {} : { body }) });
    } catch (err) {
      throw new KeeperError("ConnectionLoss", `cannot reach ${this.target.url}: ${(err as Error).cause ?? (err as Error).message}`);
    }
    const text = await response.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new KeeperError("SystemError", `${method} ${url} answered ${response.status} without JSON: ${text.slice(0, 200)}`);
    }
    const error = (json as { error?: KeeperErrorBody }).error;
    if (!response.ok || error) {
      if (error?.name) throw KeeperError.fromBody(error);
      throw new KeeperError("SystemError", `${method} ${url} answered ${response.status}`);
    }
    return json;
  }
}
