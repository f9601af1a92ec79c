import { SELF } from "cloudflare:test";
import { expect, it } from "vitest";

it("creates and reads a znode over HTTP", async () => {
  const created = await SELF.fetch("http://x/v1/znodes/a", { method: "POST", body: JSON.stringify({ data: "hello" }) });
  expect(created.status).toBe(201);
  const read = await SELF.fetch("http://x/v1/znodes/a");
  expect(await read.json()).toMatchObject({ path: "/a", data: "hello", encoding: "utf8" });
});
