/**
 * Znode paths in the page's URL: `#/config/db` names /config/db, each component
 * percent-encoded, so that a deep link opens that node.
 */

/** The path the fragment names; `/` when it names none. */
export function pathOfHash(hash: string): string {
  const raw = hash.replace(/^#/, "");
  if (!raw.startsWith("/")) return "/";
  try {
    const path = raw.split("/").map(decodeURIComponent).join("/");
    return path.length > 1 ? path.replace(/\/+$/, "") : "/";
  } catch {
    return "/";
  }
}

/** The fragment naming `path`. */
export const hashOf = (path: string): string => `#${path.split("/").map(encodeURIComponent).join("/")}`;

export const parentOf = (path: string): string => (path.lastIndexOf("/") <= 0 ? "/" : path.slice(0, path.lastIndexOf("/")));

export const nameOf = (path: string): string => (path === "/" ? "/" : path.slice(path.lastIndexOf("/") + 1));

export const childPath = (parent: string, name: string): string => (parent === "/" ? `/${name}` : `${parent}/${name}`);

/** `path` and each of its ancestors, root first. */
export function ancestorsOf(path: string): string[] {
  const chain = ["/"];
  let at = "";
  for (const part of path.split("/").slice(1)) {
    if (!part) continue;
    at += `/${part}`;
    chain.push(at);
  }
  return chain;
}
