/**
 * How the example Workers answer when edgekeeper refuses or fails them: the error's
 * ZooKeeper name and message, and a status that says whose fault it is (503 to try
 * again later, 502 for a refusal such as AuthFailed: this Worker's settings are wrong).
 */
import { isKeeperError } from "../../client/index.ts";

const RETRYABLE = new Set(["ConnectionLoss", "OperationTimeout", "SessionExpired"]);

/**
 * @example
 * try { ... } catch (error) { return errorResponse(error); }
 */
export function errorResponse(error: unknown): Response {
  if (!isKeeperError(error)) return Response.json({ error: "SystemError", message: String(error) }, { status: 500 });
  const status = RETRYABLE.has(error.keeperName) ? 503 : 502;
  return Response.json({ error: error.keeperName, message: error.message }, { status });
}
