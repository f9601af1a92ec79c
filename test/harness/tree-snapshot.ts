/**
 * For Node-side fuzz tests: every node of a namespace outside a sandbox path, read
 * through `npm start`'s HTTP API (data, Stat, ACL, children). Equal snapshots before
 * and after a fuzz mean it changed nothing outside its sandbox.
 *
 * @example
 * const before = await treeOutside(server.base, { sandbox: "/fuzz", auth: "digest keeper:secret" });
 * // ... fuzz ...
 * expect(await treeOutside(server.base, { sandbox: "/fuzz", auth: "digest keeper:secret" })).toEqual(before);
 */

export interface NodeView {
  data: string;
  stat: unknown;
  acl: unknown;
  children: string[];
}

export interface TreeOptions {
  /** The path whose subtree is left out (the fuzz may change it). */
  sandbox: string;
  /** `X-Edgekeeper-Auth` of an identity that may read every node. */
  auth: string;
  /** The namespace (default: none sent, so "default"). */
  namespace?: string;
}

export async function treeOutside(base: string, options: TreeOptions): Promise<Record<string, NodeView>> {
  const headers: Record<string, string> = { "X-Edgekeeper-Auth": options.auth };
  if (options.namespace) headers["X-Edgekeeper-Namespace"] = options.namespace;
  const get = async (path: string, view: string) => {
    const encoded = path === "/" ? "" : path.split("/").map(encodeURIComponent).join("/");
    const res = await fetch(`${base}/v1/znodes${encoded}?view=${view}&encoding=base64`, { headers });
    if (res.status !== 200) throw new Error(`GET ${path} ?view=${view}: ${res.status} ${await res.text()}`);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    return (await res.json()) as any;
  };
  const out: Record<string, NodeView> = {};
  const visit = async (path: string): Promise<void> => {
    const [data, acl, children] = await Promise.all([get(path, "data"), get(path, "acl"), get(path, "children")]);
    out[path] = { data: data.data, stat: data.stat, acl: acl.acl, children: children.children };
    for (const child of children.children as string[]) {
      const full = path === "/" ? `/${child}` : `${path}/${child}`;
      if (full !== options.sandbox) await visit(full);
    }
  };
  await visit("/");
  return out;
}
