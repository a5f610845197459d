/**
 * One connection's requests, whatever transport frames them (TCP in net/kafka-server.ts, WebSocket
 * in http/kafka-ws.ts): started one at a time in arrival order, answered in arrival order, and
 * counted against the connection's in-flight limits so that the transport stops reading while
 * they are exceeded.
 *
 * Admission: the next request starts once the previous one is admitted (a produce once its
 * appends hold their place in the logs, a fetch at once, anything else when it completes), so a
 * connection's requests take effect in the order it sent them while produce and fetch still
 * overlap. A request that gets no response (acks=0) keeps its place and sends nothing.
 *
 * Backpressure: reading pauses while the requests read and not yet answered, plus the responses
 * written and not yet taken by the kernel, reach maxInFlightRequests, or their bytes (or the
 * transport's unsent bytes) reach maxInFlightBytes; it resumes once they drop below.
 */
import type { Logger } from "pino";
import type { Connection, Dispatcher, DispatchResult } from "../dispatch.js";

export interface PipelineLimits {
  maxInFlightRequests: number;
  maxInFlightBytes: number;
}

/** What a pipeline needs from its transport. */
export interface PipelineTransport {
  /**
   * Writes one response frame (its chunks, length prefix included) and calls `sent` once the
   * transport has handed all of it to the kernel (or failed to).
   */
  write(chunks: Buffer[], sent: () => void): void;
  /** Response bytes written and not yet taken by the kernel. */
  writableLength(): number;
  /** Stops reading requests. */
  pause(): void;
  /** Reads requests again. */
  resume(): void;
  /**
   * The queue reached a close: closes after the responses written before it. `internal` tells a
   * failure of the broker from a request the broker refused.
   */
  close(reason: string, internal: boolean): void;
  /** Brackets the writes of one flush (TCP corks the socket). */
  cork?(): void;
  uncork?(): void;
}

/** The reason given when dispatching a request failed inside the broker. */
export const INTERNAL_ERROR_REASON = "internal error";

interface Slot {
  size: number;
  /** The request bytes until the request is started. */
  frame: Buffer | null;
  result: DispatchResult | null;
  internal: boolean;
}

export class RequestPipeline {
  private readonly slots: Slot[] = [];
  private inFlightBytes = 0;
  /** Responses written to the transport and not yet taken by the kernel. */
  private unsent = 0;
  private paused = false;
  /** No more requests are taken (a refused frame, or shutdown); what was taken is answered. */
  private refused = false;
  /** A started request has not yet been admitted; later requests wait for it. */
  private admitting = false;
  private closed = false;

  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly transport: PipelineTransport,
    private readonly peer: Omit<Connection, "admit">,
    private readonly limits: PipelineLimits,
    private readonly log: Logger,
  ) {}

  /** Whether requests are still taken: neither refused nor closed. */
  get accepting(): boolean {
    return !this.closed && !this.refused;
  }

  /** Requests taken and not yet answered (or closed on). */
  get pending(): number {
    return this.slots.length;
  }

  /** Queues a request frame (without its length prefix) and starts it when its turn comes. */
  push(frame: Buffer): void {
    this.slots.push({ size: frame.length, frame, result: null, internal: false });
    this.inFlightBytes += frame.length;
    if (!this.admitting) this.startNext();
  }

  /** Takes no more requests; those already taken are still answered. */
  stopReading(): void {
    this.refused = true;
    this.paused = true;
    this.transport.pause();
  }

  /** Takes no more requests, answers those already taken in order, then closes. */
  refuse(reason: string): void {
    this.stopReading();
    this.slots.push({ size: 0, frame: null, result: { kind: "close", reason }, internal: false });
    this.flushSlots();
  }

  /** The transport closed: nothing more is started or written. */
  markClosed(): void {
    this.closed = true;
  }

  overLimits(): boolean {
    return (
      this.slots.length + this.unsent >= this.limits.maxInFlightRequests ||
      this.inFlightBytes >= this.limits.maxInFlightBytes ||
      this.transport.writableLength() >= this.limits.maxInFlightBytes
    );
  }

  /** Pauses the transport's reading if the connection is over its limits. */
  maybePause(): void {
    if (!this.paused && this.overLimits()) {
      this.paused = true;
      this.transport.pause();
    }
  }

  /** Resumes the transport's reading once the connection is back within its limits. */
  maybeResume(): void {
    if (this.paused && !this.refused && !this.closed && !this.overLimits()) {
      this.paused = false;
      this.transport.resume();
    }
  }

  private startNext(): void {
    const slot = this.slots.find((s) => s.frame !== null);
    if (!slot || this.closed) return;
    const frame = slot.frame!;
    slot.frame = null;
    this.admitting = true;
    let admitted = false;
    const admit = () => {
      if (admitted) return;
      admitted = true;
      this.admitting = false;
      this.startNext();
    };
    this.dispatcher
      .dispatch(frame, { ...this.peer, admit })
      .then(
        (result) => {
          slot.result = result;
        },
        (err) => {
          this.log.error({ err }, "dispatch failed");
          slot.result = { kind: "close", reason: INTERNAL_ERROR_REASON };
          slot.internal = true;
        },
      )
      .finally(() => {
        admit();
        this.flushSlots();
      });
  }

  /** Sends every finished response at the head of the queue, in arrival order. */
  private flushSlots(): void {
    if (this.closed) return;
    let wrote = false;
    while (this.slots.length > 0 && this.slots[0].result) {
      const slot = this.slots.shift()!;
      this.inFlightBytes -= slot.size;
      const result = slot.result!;
      if (result.kind === "close") {
        // The responses written before it still go out (the transport closes after them).
        this.transport.close(result.reason, slot.internal);
        return;
      }
      if (result.kind === "respond") {
        if (!wrote) this.transport.cork?.();
        wrote = true;
        // Until the kernel takes it, a response counts against the in-flight limit: a client
        // that does not read cannot make the broker buffer responses without bound.
        this.unsent++;
        this.transport.write(result.chunks, this.onSent);
      }
    }
    if (wrote) this.transport.uncork?.();
    this.maybeResume();
  }

  private readonly onSent = (): void => {
    this.unsent--;
    this.maybeResume();
  };
}
