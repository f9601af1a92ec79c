/**
 * The bridge's link to a session host sends the bearer token in its WebSocket's
 * Authorization header, never in the URL. Played against a WebSocket server on
 * loopback that records the opening request.
 */
import type { IncomingHttpHeaders } from "node:http";
import { afterAll, beforeAll, expect, it } from "vitest";
import { HostLink } from "../../../bridge/upstream/host-link.ts";
import { type WsServer, startWsServer } from "../../harness/ws-server.ts";

let server: WsServer;
const opened: { headers: IncomingHttpHeaders; url: string }[] = [];
let onOpened: () => void = () => {};

beforeAll(async () => {
  server = await startWsServer((_conn, request) => {
    opened.push({ headers: request.headers, url: request.url ?? "" });
    onOpened();
  });
});

afterAll(async () => {
  await server?.close();
});

it("opens its socket with the token in the Authorization header", async () => {
  const seen = new Promise<void>((resolve) => (onOpened = resolve));
  const link = new HostLink({ url: server.base, namespace: "app", token: "secret-token" }, 3, () => {});
  try {
    await seen;
  } finally {
    link.close();
  }
  const [request] = opened;
  expect(request!.headers.authorization).toBe("Bearer secret-token");
  const url = new URL(request!.url, server.base);
  expect(url.searchParams.get("token")).toBeNull();
  expect(url.searchParams.get("host")).toBe("3");
  expect(url.searchParams.get("namespace")).toBe("app");
});
