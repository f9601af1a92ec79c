/**
 * ZooKeeper's documented lock recipe (Programmer's Guide, "Recipes and Solutions:
 * Locks") for node-zookeeper-client, which has none, so that W5 runs the same
 * algorithm on both systems: create `<dir>/lock-` EPHEMERAL_SEQUENTIAL; getChildren
 * (no watch); the lowest sequence holds; otherwise `exists` with a watch on the next
 * lower node and wait for its event, then look again. Release deletes the node.
 * No timeouts, no re-entrancy, no recovery from connection loss: a benchmark's lock.
 */
import zookeeper from "node-zookeeper-client";

/** The calls used here, with node-zookeeper-client's callback shapes. */
interface ZkLockClient {
  create(path: string, data: Buffer, acls: unknown, mode: number, cb: (error: Error | null, path: string) => void): void;
  getChildren(path: string, cb: (error: Error | null, children: string[]) => void): void;
  exists(path: string, watcher: (event: unknown) => void, cb: (error: Error | null, stat: unknown) => void): void;
  remove(path: string, version: number, cb: (error: Error | null) => void): void;
  mkdirp(path: string, cb: (error: Error | null) => void): void;
}

const EPHEMERAL_SEQUENTIAL = 3; // node-zookeeper-client's CreateMode.EPHEMERAL_SEQUENTIAL
const OPEN_ACL_UNSAFE = (zookeeper as unknown as { ACL: { OPEN_ACL_UNSAFE: unknown } }).ACL.OPEN_ACL_UNSAFE;

function call<T>(run: (done: (error: Error | null, result?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => run((error, result) => (error ? reject(error) : resolve(result as T))));
}

const sequence = (name: string) => Number(name.slice(-10));

/** One contender's lock on `dir` (which must exist), on one node-zookeeper-client session. */
export class ZookeeperLock {
  private node: string | undefined;
  private readonly client: ZkLockClient;
  private readonly dir: string;

  constructor(client: unknown, dir: string) {
    this.client = client as ZkLockClient;
    this.dir = dir;
  }

  static ensureDir(client: unknown, dir: string): Promise<void> {
    return call((done) => (client as ZkLockClient).mkdirp(dir, done));
  }

  async acquire(): Promise<void> {
    const c = this.client;
    const node = await call<string>((done) => c.create(`${this.dir}/lock-`, Buffer.alloc(0), OPEN_ACL_UNSAFE, EPHEMERAL_SEQUENTIAL, done));
    const name = node.slice(this.dir.length + 1);
    for (;;) {
      const children = (await call<string[]>((done) => c.getChildren(this.dir, done))).sort((a, b) => sequence(a) - sequence(b));
      const index = children.indexOf(name);
      if (index === 0) {
        this.node = node;
        return;
      }
      const previous = `${this.dir}/${children[index - 1]}`;
      let fired!: () => void;
      const event = new Promise<void>((resolve) => (fired = resolve));
      const stat = await call((done) => c.exists(previous, () => fired(), done));
      if (stat) await event; // deleted (or changed): look again
    }
  }

  async release(): Promise<void> {
    const node = this.node;
    this.node = undefined;
    if (node) await call((done) => this.client.remove(node, -1, done));
  }
}
