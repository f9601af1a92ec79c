/**
 * edgekeeper's sessions through our TypeScript client (client/, docs/client.md):
 * `connect()` per session, so one WebSocket per session. Requests issued in one tick
 * go out in one frame, which is what the 64-in-flight workloads exercise.
 */
import { type ConnectOptions, type KeeperClient, connect } from "../../client/index.ts";
import { type OpenOptions, type SessionDriver, type SessionTarget, closeAll } from "../session-workloads.ts";

/** What the client asks for; the server negotiates it (4-40 s). Long, so idle sessions only ping. */
export const SESSION_TIMEOUT_MS = 30_000;

function clientTarget(client: KeeperClient): SessionTarget {
  return {
    name: "edgekeeper client",
    async create(path, data) {
      await client.create(path, data);
    },
    async remove(path) {
      await client.delete(path);
    },
    async setData(path, data) {
      await client.setData(path, data);
    },
    async getData(path) {
      return (await client.getData(path)).data.length;
    },
    async watchData(path, onEvent) {
      await client.getData(path, { watch: () => onEvent() });
    },
    async close() {
      await client.close();
    },
  };
}

/** Opens `count` things with at most `concurrency` under way; on any failure closes what opened. */
export async function openBounded(
  count: number,
  concurrency: number,
  deadline: number,
  open: () => Promise<SessionTarget>,
): Promise<SessionTarget[]> {
  const sessions: SessionTarget[] = [];
  let started = 0;
  let failure: unknown;
  const worker = async () => {
    while (started < count && failure === undefined) {
      if (performance.now() > deadline) {
        failure ??= new Error(`opened ${sessions.length} of ${count} sessions before the time limit`);
        return;
      }
      started++;
      try {
        sessions.push(await open());
      } catch (error) {
        failure ??= new Error(`opening session ${sessions.length + 1} of ${count} failed: ${(error as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  if (failure !== undefined) {
    await closeAll(sessions);
    throw failure;
  }
  return sessions;
}

/** `onHops`: each answer's hop stamps, from a server started with --trace-hops. */
export function clientDriver(base: string, onHops?: ConnectOptions["onHops"]): SessionDriver {
  return {
    id: "client",
    label: () => "TypeScript client, a WebSocket per session",
    open(count: number, options: OpenOptions) {
      const settings: ConnectOptions = { servers: [base], sessionTimeoutMs: SESSION_TIMEOUT_MS, connectTimeoutMs: 30_000, attemptTimeoutMs: 20_000 };
      const open = async () => clientTarget(await connect(onHops ? { ...settings, onHops } : settings));
      return openBounded(count, 50, performance.now() + options.timeLimitMs, open);
    },
  };
}
