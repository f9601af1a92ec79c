/**
 * Token mode under `npm start`: the token settings a user gives (in the environment,
 * else .dev.vars) reach the Worker, and the bridge in front of it gets a token the
 * Worker takes for every namespace, since its clients may name any.
 */

const TOKEN_SETTINGS = ["EDGEKEEPER_TOKEN", "EDGEKEEPER_TOKENS"] as const;

export interface LocalTokens {
  /** The token settings for the Worker's bindings. */
  bindings: Partial<Record<(typeof TOKEN_SETTINGS)[number], string>>;
  /** What the bridge sends: EDGEKEEPER_TOKEN, else the first admin token for every namespace in EDGEKEEPER_TOKENS. */
  bridgeToken?: string;
}

/**
 * @example
 * localTokens(process.env, workerOptions.bindings).bridgeToken;
 */
export function localTokens(env: Record<string, string | undefined>, configured: Record<string, unknown> | undefined): LocalTokens {
  const bindings: LocalTokens["bindings"] = {};
  for (const name of TOKEN_SETTINGS) {
    const value = env[name] || configured?.[name];
    if (typeof value === "string" && value) bindings[name] = value;
  }
  const bridgeToken = bindings.EDGEKEEPER_TOKEN ?? adminTokenIn(bindings.EDGEKEEPER_TOKENS);
  return bridgeToken ? { bindings, bridgeToken } : { bindings };
}

/** The first admin token for namespaces "*" in a scoped-token list; the Worker checks the list itself. */
function adminTokenIn(list: string | undefined): string | undefined {
  let specs: unknown;
  try {
    specs = JSON.parse(list ?? "[]");
  } catch {
    return undefined;
  }
  if (!Array.isArray(specs)) return undefined;
  const admin = (specs as { token?: unknown; namespaces?: unknown; scope?: unknown }[]).find(
    (spec) => spec?.scope === "admin" && spec.namespaces === "*" && typeof spec.token === "string",
  );
  return admin?.token as string | undefined;
}
