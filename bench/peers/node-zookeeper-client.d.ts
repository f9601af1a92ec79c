/** The part of node-zookeeper-client 1.1.3 (plain JS, no types) the benchmark uses. */
declare module "node-zookeeper-client" {
  interface ZkError extends Error {
    getCode?(): number;
  }
  interface Client {
    connect(): void;
    close(): void;
    once(event: "connected" | "disconnected" | "expired" | "authenticationFailed", listener: () => void): this;
    create(path: string, data: Buffer, callback: (error: ZkError | null, path: string) => void): void;
    remove(path: string, version: number, callback: (error: ZkError | null) => void): void;
    setData(path: string, data: Buffer, version: number, callback: (error: ZkError | null) => void): void;
    getData(path: string, callback: (error: ZkError | null, data: Buffer | undefined) => void): void;
    getData(path: string, watcher: (event: unknown) => void, callback: (error: ZkError | null, data: Buffer | undefined) => void): void;
  }
  interface ClientOptions {
    sessionTimeout?: number;
    spinDelay?: number;
    retries?: number;
  }
  const zookeeper: {
    createClient(connectionString: string, options?: ClientOptions): Client;
  };
  export default zookeeper;
}
