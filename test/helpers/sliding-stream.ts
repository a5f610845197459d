/**
 * A producer load for failover tests: records s0, s1, ... to partition 0 of a topic, `window`
 * unacknowledged at a time. Each settled send makes the next, so records keep arriving while
 * requests are in flight (and batches queue behind a request that a kill interrupts).
 */
import type { Producer, RecordMetadata } from "../../client/index.js";
import { waitFor } from "./wait.js";

export class SlidingStream {
  readonly acked: { value: string; offset: number }[] = [];
  readonly failed: unknown[] = [];
  private sent = 0;
  private outstanding = 0;
  private stopped = false;

  constructor(
    private readonly producer: Producer,
    private readonly topic: string,
    window: number,
  ) {
    for (let i = 0; i < window; i++) this.next();
  }

  private next(): void {
    if (this.stopped) return;
    const value = `s${this.sent++}`;
    this.outstanding++;
    const settled = () => {
      this.outstanding--;
      this.next();
    };
    this.producer.send({ topic: this.topic, partition: 0, value }).then(
      (m: RecordMetadata) => {
        this.acked.push({ value, offset: m.offset });
        settled();
      },
      (err: unknown) => {
        this.failed.push(err);
        settled();
      },
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await waitFor(() => this.outstanding === 0, "every send settled");
  }

  /** Resolves once `n` more records are acknowledged; fails at the first failed send. */
  async progress(n: number, what: string): Promise<void> {
    const target = this.acked.length + n;
    await waitFor(() => this.acked.length >= target || this.failed.length > 0, what);
    if (this.failed.length > 0) throw new Error(`${what}: a send failed: ${String(this.failed[0])}`);
  }

  /** The acknowledged values in offset order. */
  inOffsetOrder(): string[] {
    return [...this.acked].sort((a, b) => a.offset - b.offset).map((a) => a.value);
  }
}
