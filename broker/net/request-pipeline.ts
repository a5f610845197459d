/**
 * One connection's requests, whatever transport frames them (TCP in net/kafka-server.ts, WebSocket
 * in http/kafka-ws.ts): started one at a time in arrival order, answered in arrival order, and
 * counted against the connection's in-flight limits and the broker-wide byte budgets so that the
 * transport stops reading, and the pipeline stops starting requests, while they are exceeded.
 *
 * Admission: the next request starts once the previous one is admitted (a produce once its
 * appends hold their place in the logs, a fetch at once, anything else when it completes), so a
 * connection's requests take effect in the order it sent them while produce and fetch still
 * overlap. A request that gets no response (acks=0) keeps its place and sends nothing.
 *
 * Backpressure: reading pauses while the requests read and not yet answered, plus the responses
 * written and not yet taken by the kernel, reach maxInFlightRequests, or their bytes (or the
 * transport's unsent bytes) reach maxInFlightBytes; it resumes once they drop below.
 *
 * Budgets (net/byte-budget.ts, shared by every connection of the broker): the request bytes the
 * transport received and the pipeline holds count against queued.max.request.bytes, and reading
 * pauses while the connection may take no more of it (the budget's rules: nearly full, or over
 * its share once contended; the oldest frame in progress may always finish); responses built and
 * not yet taken by the kernel (and the bytes a Fetch reserved before reading) count against
 * queued.max.response.bytes, and no further request starts while the connection may take no more
 * of that, so a client that does not read its answers stops being served until it does. A closed connection gives back all
 * it held at once.
 */
import type { Logger } from "pino";
import type { ResponseReservation } from "../api/types.js";
import type { Connection, Dispatcher, DispatchResult } from "../dispatch.js";
import type { BudgetHolder, ByteBudget } from "./byte-budget.js";

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
  /** Response bytes the request reserved while it runs (ResponseReservation). */
  reserved: number;
}

export class RequestPipeline implements BudgetHolder {
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
  private readonly requests: ByteBudget;
  private readonly responses: ByteBudget;

  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly transport: PipelineTransport,
    private readonly peer: Omit<Connection, "admit" | "responseBytes">,
    private readonly limits: PipelineLimits,
    private readonly log: Logger,
  ) {
    this.requests = dispatcher.requestBudget;
    this.responses = dispatcher.responseBudget;
  }

  /** Whether requests are still taken: neither refused nor closed. */
  get accepting(): boolean {
    return !this.closed && !this.refused;
  }

  /** Requests taken and not yet answered (or closed on). */
  get pending(): number {
    return this.slots.length;
  }

  /**
   * The transport received `bytes` of request data: they count against the request budget until
   * the transport discards them or the request they belong to is answered.
   */
  received(bytes: number): void {
    if (!this.closed) this.requests.add(this, bytes);
  }

  /**
   * The transport has a frame begun and lacks `rest` more bytes of it (null: no frame begun): the
   * oldest frame in progress broker-wide is let finish first (net/byte-budget.ts).
   */
  frameRest(rest: number | null): void {
    if (rest === null || this.closed) this.requests.endFrame(this);
    else this.requests.frameRest(this, rest);
  }

  /** The transport dropped `bytes` it had counted as received (length prefixes, a refusal). */
  discarded(bytes: number): void {
    this.requests.release(this, bytes);
  }

  /**
   * Queues a request frame (without its length prefix; its bytes already `received`) and starts
   * it when its turn comes.
   */
  push(frame: Buffer): void {
    this.slots.push({ size: frame.length, frame, result: null, internal: false, reserved: 0 });
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
    this.slots.push({
      size: 0,
      frame: null,
      result: { kind: "close", reason },
      internal: false,
      reserved: 0,
    });
    this.flushSlots();
  }

  /** The transport closed: nothing more is started or written, and the budgets get back its bytes. */
  markClosed(): void {
    this.closed = true;
    this.requests.releaseAll(this);
    this.responses.releaseAll(this);
  }

  /** Bytes of this connection held against the request and the response budget (for tests). */
  get heldBytes(): { requests: number; responses: number } {
    return { requests: this.requests.heldBy(this), responses: this.responses.heldBy(this) };
  }

  /** The connection's own limits: complete frames beyond them are not started yet. */
  overLimits(): boolean {
    return (
      this.slots.length + this.unsent >= this.limits.maxInFlightRequests ||
      this.inFlightBytes >= this.limits.maxInFlightBytes ||
      this.transport.writableLength() >= this.limits.maxInFlightBytes
    );
  }

  /** Whether the transport may read more: within its own limits and its share of the request budget. */
  private mayRead(): boolean {
    if (this.overLimits()) return false;
    if (this.requests.mayTake(this)) return true;
    this.requests.onRelease(this);
    return false;
  }

  /** Whether the transport is reading (not paused by the pipeline). */
  get reading(): boolean {
    return !this.paused;
  }

  /** Pauses the transport's reading if the connection is over its limits or its budget share. */
  maybePause(): void {
    if (!this.paused && !this.mayRead()) {
      this.paused = true;
      this.transport.pause();
    }
  }

  /** Resumes the transport's reading once the connection is back within its limits. */
  maybeResume(): void {
    if (this.paused && !this.refused && !this.closed && this.mayRead()) {
      this.paused = false;
      this.transport.resume();
    }
  }

  /** Some connection gave bytes back to a budget: read again, or start the next request, if allowed. */
  wake(): void {
    if (this.closed) return;
    this.maybeResume();
    if (!this.admitting) this.startNext();
  }

  private startNext(): void {
    const slot = this.slots.find((s) => s.frame !== null);
    if (!slot || this.closed) return;
    // Over its share of the response budget: the connection is served again once it reads.
    if (!this.responses.mayTake(this)) {
      this.responses.onRelease(this);
      return;
    }
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
      .dispatch(frame, { ...this.peer, admit, responseBytes: this.reservation(slot) })
      .then(
        (result) => {
          slot.result = result;
          // The reservation becomes the response, in one step: a release wakes waiting requests.
          const size = result.kind === "respond" && !this.closed ? result.size : 0;
          const reserved = slot.reserved;
          slot.reserved = 0;
          this.responses.exchange(this, reserved, size);
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

  /** A request's door to the response budget: grants within the connection's allowance. */
  private reservation(slot: Slot): ResponseReservation {
    return {
      reserve: (wanted) => {
        if (this.closed) return { granted: 0, firstWhole: false };
        const firstWhole = this.responses.heldBy(this) === slot.reserved;
        const granted = Math.max(0, Math.min(wanted, this.responses.allowance(this)));
        // At least a byte, so that the connection's other requests see it holds something.
        const hold = Math.max(granted, 1);
        slot.reserved += hold;
        this.responses.add(this, hold);
        return { granted, firstWhole };
      },
      unreserve: (bytes) => {
        const n = Math.max(0, Math.min(bytes, slot.reserved));
        slot.reserved -= n;
        this.responses.release(this, n);
      },
    };
  }

  /** Sends every finished response at the head of the queue, in arrival order. */
  private flushSlots(): void {
    if (this.closed) return;
    let wrote = false;
    while (this.slots.length > 0 && this.slots[0].result) {
      const slot = this.slots.shift()!;
      this.inFlightBytes -= slot.size;
      this.requests.release(this, slot.size);
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
        const size = result.size;
        this.transport.write(result.chunks, () => this.onSent(size));
        if (result.closeAfter) {
          // Answered, then closed (a failed login): nothing after it is read or started.
          this.stopReading();
          this.transport.uncork?.();
          this.transport.close(result.closeAfter, false);
          return;
        }
      }
    }
    if (wrote) this.transport.uncork?.();
    this.maybeResume();
  }

  /** The kernel took a response of `size` bytes: it no longer counts against the budgets. */
  private onSent(size: number): void {
    this.unsent--;
    this.responses.release(this, size);
    this.maybeResume();
  }
}
