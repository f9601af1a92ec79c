/**
 * A simulated router running multis across shards one at a time, through the
 * router's own plan (durable/directory/cross-shard-multi.ts), as a Worker would: it
 * finds each shard's leader from its directory, runs a plan again (a new
 * transaction) while a shard answers it does not lead, sends a part to apply again at
 * the leader now, and at times sets a hot node by a plain write. A crash ends it for
 * good: every call it waits on is forgotten.
 */
import { type CrossShardCalls, planCrossShardMulti, runCrossShardMulti } from "../../durable/directory/cross-shard-multi.ts";
import type { Placement } from "../../durable/replication/core/index.ts";
import type { MultiOp, Outcome } from "../../protocol/index.ts";
import type { WhereRequest } from "./directory.ts";
import { HOT, type MultiRecord, TABLE, newMulti, shardOf } from "./multi-workload.ts";
import type { SimNetwork } from "./network.ts";
import type { Prng } from "./prng.ts";
import type { Owner, Scheduler } from "./scheduler.ts";
import type { TxnShardRequest } from "./txn-shards.ts";

/** What a router needs of the run. */
export interface RouterWorld {
  scheduler: Scheduler;
  network: SimNetwork;
  prng: Prng;
  /** Counts a step of the router (a call, before it is sent or once it is); says whether the step crashed it (`crash`). */
  step(moment: "before" | "after", crash: () => void): boolean;
  /** The directory naming `shard`'s leader. */
  directoryOf(shard: string): string;
  /** How many multis are left to run, by every router. */
  multisLeft(): number;
  /** Takes the next multi's id. */
  takeMulti(): number;
  /** Records a multi as begun; its answer is filled in as it comes. */
  record(multi: MultiRecord): void;
}

/** How often a call is sent again (a plan run again, or a part to apply) while a shard says it does not lead, and how long apart. */
const ELSEWHERE_TRIES = 10;
const ELSEWHERE_PAUSE_MS = 200;

export class SimRouter {
  readonly name: string;
  private readonly world: RouterWorld;
  private readonly owner: Owner = { alive: true };
  /** Resolves (to undefined) once this router crashes: what each of its waits races. */
  private readonly gone: Promise<undefined>;
  private crashed!: () => void;
  /** The copy leading each shard, as its directory last said. */
  private readonly leaders = new Map<string, string>();
  private txns = 0;
  /** The multi running (its transaction id is noted as its plan begins one). */
  private current: MultiRecord | undefined;
  private readonly calls: CrossShardCalls;

  constructor(name: string, world: RouterWorld) {
    this.name = name;
    this.world = world;
    this.gone = new Promise((resolve) => (this.crashed = () => resolve(undefined)));
    this.calls = {
      begin: () => ({ id: (this.current!.txn = `${name}-${String(++this.txns).padStart(4, "0")}`), startedAt: world.scheduler.now }),
      prepare: (mount, txn, part) => this.send(this.leaderOf(mount.shard), { type: "prepare", txn, ops: part.ops }),
      release: (mount, txn) => this.send(this.leaderOf(mount.shard), { type: "release", txn }),
      inBackground: (work) => void work,
      write: (mount, multi) => this.applyAt(mount.shard, { type: "apply", txn: multi.txn!, ops: multi.ops }),
      commit: (part) => this.applyAt(shardOf(part.ops[0]!.path), { type: "apply", txn: part.txn!, ops: part.ops }),
      deciderOf: (mount) => this.leaderOf(mount.shard),
    };
  }

  get alive(): boolean {
    return this.owner.alive;
  }

  crash(): void {
    this.owner.alive = false;
    this.crashed();
  }

  /** Runs multis until none is left or this router crashes. */
  async run(): Promise<void> {
    const { world } = this;
    while (this.alive && world.multisLeft() > 0) {
      // A plain write at times, which waits while a prepared part holds the node.
      if (world.prng.chance(0.2)) {
        const hot = world.prng.pick(HOT);
        await this.untilAnswered(this.applyAt(shardOf(hot), { type: "plain-write", ops: [{ op: "setData", path: hot, data: null, version: -1 }] }));
        if (!this.alive) return;
      }
      const versionOf = (path: string) => this.untilAnswered(this.send<number>(this.leaderOf(shardOf(path)), { type: "version", path })).then((version) => version ?? 0);
      const record = (this.current = await newMulti(world.takeMulti(), world.prng, versionOf));
      if (!this.alive) return;
      world.record(record);
      const answer = await Promise.race([this.runMulti({ op: "multi", ops: record.ops }).catch(() => "lost" as const), this.gone]);
      if (answer === undefined) return;
      // ConnectionLoss and, at a geo-tier shard, OperationTimeout leave the multi's fate unknown.
      const unknown = answer === "lost" || answer === "elsewhere" || (!answer.ok && (answer.error.name === "ConnectionLoss" || answer.error.name === "OperationTimeout"));
      record.answer = unknown ? "unknown" : answer.ok ? "applied" : "failed";
      await this.untilAnswered(world.scheduler.sleep(world.prng.int(0, 50), this.owner));
    }
  }

  /** Runs the multi's plan, again from the leaders now while a shard answers it does not lead. */
  private async runMulti(multi: MultiOp): Promise<Outcome | "elsewhere"> {
    const plan = planCrossShardMulti(TABLE, multi)!;
    for (let attempt = 1; ; attempt++) {
      const answer = await runCrossShardMulti(plan, multi, this.calls);
      if (answer !== "elsewhere" || attempt === ELSEWHERE_TRIES) return answer;
      await this.world.scheduler.sleep(ELSEWHERE_PAUSE_MS, this.owner);
      await this.findLeaders(TABLE.mounts.map((mount) => mount.shard));
    }
  }

  /** Sends a part to apply at its shard's leader, again at the leader now while the copy asked no longer leads (as the router's untilServed). */
  private async applyAt(shard: string, request: TxnShardRequest): Promise<Outcome> {
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.send<Outcome>(this.leaderOf(shard), request);
      if (outcome.ok || outcome.notLeader !== true || attempt === ELSEWHERE_TRIES) return outcome;
      await this.world.scheduler.sleep(ELSEWHERE_PAUSE_MS, this.owner);
      await this.findLeaders([shard]);
    }
  }

  private leaderOf(shard: string): string {
    return this.leaders.get(shard) ?? `${shard}.L`;
  }

  private findLeaders(shards: readonly string[]): Promise<unknown> {
    const where = (shard: string) => this.send<Placement>(this.world.directoryOf(shard), { type: "where" } satisfies WhereRequest);
    return Promise.all(shards.map((shard) => where(shard).then((placement) => void this.leaders.set(shard, placement.leader), () => undefined)));
  }

  /** One call, each a step of the run: crashed before it, it is never sent. */
  private send<T>(to: string, request: TxnShardRequest | WhereRequest): Promise<T> {
    if (this.world.step("before", () => this.crash())) return this.gone as Promise<never>;
    const sent = this.world.network.request<T>(this.name, this.owner, to, request);
    this.world.step("after", () => this.crash());
    return sent;
  }

  /** `call`'s answer, or undefined once it failed or this router crashed. */
  private untilAnswered<T>(call: Promise<T>): Promise<T | undefined> {
    return Promise.race([call.catch(() => undefined), this.gone]);
  }
}
