/**
 * A TreeCache mirrors a subtree while another session builds and changes it.
 * Run `npm start`, then `npx node examples/tree-cache.ts`.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { TreeCache } from "../client/recipes/index.ts";
import { open } from "./shared.ts";

const reader = await open("reader");
const writer = await open("writer");
const root = `/examples/tree-${Date.now()}`;
await writer.create(root, "");
const tree = new TreeCache(reader, root);
tree.on("change", ({ type, path, node }) => console.log(`${type} ${path} = ${new TextDecoder().decode(node.data)}`));
await tree.start();
await writer.create(`${root}/database`, "");
await writer.create(`${root}/database/url`, "jdbc:postgresql://db-1/app");
await writer.setData(`${root}/database/url`, "jdbc:postgresql://db-2/app");
await writer.create(`${root}/cache`, "redis://cache:6379");
await sleep(300);
console.log("children of root:", tree.children(root));
await tree.close();
await reader.close();
await writer.close();
