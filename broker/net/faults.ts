/**
 * Request faults for tests: delay, hold or cut requests by API key before their handler runs, or
 * lose a response after it ran (docs/decisions/0024). Replication and failover are judged by what
 * happens when a follower's fetch or a leader's AlterPartition arrives late or never, or a
 * producer's acknowledgement is lost; these faults make such moments happen on purpose, inside
 * one process, without touching the network. Network namespaces (issue 14's chaos tests) cut
 * whole links; this cuts single APIs.
 *
 * Faults apply to Kafka frames (TCP and WebSocket), not to the HTTP routes. With no fault set,
 * `apply` is one map lookup.
 */
import type { RequestContext } from "../api/types.js";

export type FaultAction =
  /** Run the handler `delayMs` later. */
  | "delay"
  /** Hold the request unanswered until the fault is removed, then run it (a paused peer). */
  | "hold"
  /** Close the connection without running the handler (a cut link). */
  | "close"
  /**
   * Run the handler, then close the connection instead of answering (a response lost on its way
   * back: the request took effect, the caller cannot know it and retries).
   */
  | "drop";

export interface RequestFault {
  apiKey: number;
  action: FaultAction;
  /** For "delay". */
  delayMs?: number;
  /** Only requests this accepts (default: all of `apiKey`); e.g. `(ctx) => ctx.interBroker`. */
  match?: (ctx: RequestContext) => boolean;
  /**
   * Apply to this many requests, then stop matching (default: until removed). Requests a "hold"
   * fault took stay held until the fault is removed.
   */
  times?: number;
}

/**
 * What the dispatcher does after `apply`: go on with the handler, close the connection, or run the
 * handler and close the connection in place of its answer.
 */
export type FaultOutcome = "run" | "close" | "drop";

interface ActiveFault {
  fault: RequestFault;
  left: number;
  /** Resolved when the fault is removed (releases held requests). */
  removed: Promise<void>;
  release: () => void;
}

export class RequestFaults {
  private readonly byKey = new Map<number, ActiveFault[]>();
  /** Requests that met a fault, by API key (tests wait on these). */
  readonly hits = new Map<number, number>();

  /** Adds a fault; returns the function that removes it (and releases requests it holds). */
  add(fault: RequestFault): () => void {
    let release = () => {};
    const removed = new Promise<void>((resolve) => {
      release = resolve;
    });
    const active: ActiveFault = { fault, left: fault.times ?? Number.POSITIVE_INFINITY, removed, release };
    const list = this.byKey.get(fault.apiKey) ?? [];
    list.push(active);
    this.byKey.set(fault.apiKey, list);
    return () => this.remove(active);
  }

  /** Removes every fault, releasing what they hold. */
  clear(): void {
    for (const list of [...this.byKey.values()]) for (const active of [...list]) this.remove(active);
  }

  private remove(active: ActiveFault): void {
    this.detach(active);
    active.release();
  }

  /** Stops `active` matching new requests. */
  private detach(active: ActiveFault): void {
    const list = this.byKey.get(active.fault.apiKey);
    const at = list?.indexOf(active) ?? -1;
    if (list && at >= 0) {
      list.splice(at, 1);
      if (list.length === 0) this.byKey.delete(active.fault.apiKey);
    }
  }

  /** Applies the first fault matching this request, if any. */
  async apply(ctx: RequestContext): Promise<FaultOutcome> {
    const list = this.byKey.get(ctx.apiKey);
    if (!list) return "run";
    const active = list.find((a) => a.fault.match?.(ctx) ?? true);
    if (!active) return "run";
    this.hits.set(ctx.apiKey, (this.hits.get(ctx.apiKey) ?? 0) + 1);
    active.left -= 1;
    if (active.left <= 0) this.detach(active);
    const { action, delayMs = 0 } = active.fault;
    if (action === "close" || action === "drop") return action;
    if (action === "hold") await active.removed;
    else await new Promise((resolve) => setTimeout(resolve, delayMs));
    return "run";
  }
}
