/**
 * What a partition's leader knows of its followers, and the pure rules over it (as Kafka's
 * `Replica` and `Partition.maybeShrinkIsr/maybeExpandIsr/maybeIncrementLeaderHW`): each follower's
 * log end offset and when it was last caught up; which in-sync replicas lag too long (shrink) and
 * which out-of-sync ones have caught up (expand); the high watermark the in-sync replicas allow.
 * Nothing here changes a partition: broker/partition.ts applies it, the controller decides ISRs.
 */

/** A follower's log end offset before its first fetch under the current leader. */
export const UNKNOWN_OFFSET = -1;
/** A follower's broker epoch before a fetch named one (Fetch v15 ReplicaState.ReplicaEpoch; older fetches send -1). */
export const UNKNOWN_BROKER_EPOCH = -1;

export interface ReplicaState {
  readonly replicaId: number;
  /** The follower's log end offset: the offset of its last fetch (UNKNOWN_OFFSET before one). */
  logEndOffset: number;
  /** Last time the follower had every record the leader had (Kafka's lastCaughtUpTimeMs). */
  lastCaughtUpTimeMs: number;
  /** The leader's log end offset at the follower's previous fetch, and that fetch's time. */
  lastFetchLeaderLogEndOffset: number;
  lastFetchTimeMs: number;
  /**
   * The follower's broker epoch (its registration) as its last fetch named it (KIP-903); an ISR
   * expansion carries it, so the controller refuses a member that has restarted since.
   */
  brokerEpoch: number;
}

/**
 * A follower's state as a new leader starts it: its log end offset unknown. An in-sync one counts
 * as caught up now, so that it is not shrunk out before it has had replica.lag.time.max.ms to fetch.
 */
export function newReplicaState(replicaId: number, inSync: boolean, nowMs: number): ReplicaState {
  return {
    replicaId,
    logEndOffset: UNKNOWN_OFFSET,
    lastCaughtUpTimeMs: inSync ? nowMs : 0,
    lastFetchLeaderLogEndOffset: UNKNOWN_OFFSET,
    lastFetchTimeMs: 0,
    brokerEpoch: UNKNOWN_BROKER_EPOCH,
  };
}

/**
 * Forgets what the leader knew of a follower's log (its end unknown, not caught up since), keeping
 * its broker epoch: the follower left the ISR, or restarted (a new broker epoch), and may have
 * lost records it held, so only its next fetches say where it is (KIP-903).
 */
export function resetReplicaState(state: ReplicaState): void {
  state.logEndOffset = UNKNOWN_OFFSET;
  state.lastCaughtUpTimeMs = 0;
  state.lastFetchLeaderLogEndOffset = UNKNOWN_OFFSET;
  state.lastFetchTimeMs = 0;
}

/**
 * Takes the broker epoch a follower's fetch names. A newer one than known (the follower
 * restarted) resets its state first; UNKNOWN_BROKER_EPOCH changes nothing. Returns false for an
 * older one than known: a fetch from an earlier life of the follower, which the caller refuses.
 */
export function recordBrokerEpoch(state: ReplicaState, brokerEpoch: number): boolean {
  if (brokerEpoch === UNKNOWN_BROKER_EPOCH || brokerEpoch === state.brokerEpoch) return true;
  if (state.brokerEpoch !== UNKNOWN_BROKER_EPOCH && brokerEpoch < state.brokerEpoch) return false;
  if (state.brokerEpoch !== UNKNOWN_BROKER_EPOCH) resetReplicaState(state);
  state.brokerEpoch = brokerEpoch;
  return true;
}

/**
 * Records a fetch at `fetchOffset` while the leader's log ended at `leaderEndOffset`. The follower
 * was caught up now if it asked for the leader's end; it was caught up at its previous fetch if it
 * now asks for what the leader's end was then (Kafka's rule: a follower that keeps pace with a
 * busy leader is never quite at its end, but always reaches where the end was one fetch ago).
 */
export function recordFetch(
  state: ReplicaState,
  fetchOffset: number,
  leaderEndOffset: number,
  nowMs: number,
): void {
  if (fetchOffset >= leaderEndOffset) state.lastCaughtUpTimeMs = Math.max(state.lastCaughtUpTimeMs, nowMs);
  else if (fetchOffset >= state.lastFetchLeaderLogEndOffset)
    state.lastCaughtUpTimeMs = Math.max(state.lastCaughtUpTimeMs, state.lastFetchTimeMs);
  state.logEndOffset = fetchOffset;
  state.lastFetchLeaderLogEndOffset = leaderEndOffset;
  state.lastFetchTimeMs = nowMs;
}

/**
 * The high watermark the in-sync replicas allow: the least log end offset among them (the leader's
 * own included). A follower whose end is unknown holds it at UNKNOWN_OFFSET (no advance).
 */
export function isrHighWatermark(
  leaderId: number,
  leaderEndOffset: number,
  isr: readonly number[],
  followers: ReadonlyMap<number, ReplicaState>,
): number {
  let hw = leaderEndOffset;
  for (const id of isr) {
    if (id === leaderId) continue;
    const end = followers.get(id)?.logEndOffset ?? UNKNOWN_OFFSET;
    hw = Math.min(hw, end);
  }
  return hw;
}

export interface IsrInput {
  leaderId: number;
  isr: readonly number[];
  followers: ReadonlyMap<number, ReplicaState>;
  highWatermark: number;
  /** The leader's log end offset: a follower at it is in sync however long ago it fetched. */
  leaderEndOffset: number;
  /** Where the leader's current epoch starts: a follower has caught up only past it (Kafka's rule). */
  leaderEpochStartOffset: number;
  nowMs: number;
  /** replica.lag.time.max.ms */
  lagTimeMaxMs: number;
}

export interface IsrChanges {
  /**
   * In-sync followers out of sync: their log end is not the leader's and they have not been caught
   * up for longer than replica.lag.time.max.ms (Kafka's isCaughtUp; an idle partition's followers
   * stay in, however long their long-poll fetches wait).
   */
  shrink: number[];
  /** Out-of-sync followers whose log reaches the high watermark and the current epoch's start. */
  expand: number[];
}

/** The ISR changes the leader should propose to the controller (none: both lists empty). */
export function isrChanges(input: IsrInput): IsrChanges {
  const inSync = new Set(input.isr);
  const shrink: number[] = [];
  const expand: number[] = [];
  for (const [id, state] of input.followers) {
    if (id === input.leaderId) continue;
    if (inSync.has(id)) {
      if (outOfSync(state, input)) shrink.push(id);
    } else if (
      state.logEndOffset >= input.highWatermark &&
      state.logEndOffset >= input.leaderEpochStartOffset
    ) {
      expand.push(id);
    }
  }
  return { shrink: shrink.sort((a, b) => a - b), expand: expand.sort((a, b) => a - b) };
}

function outOfSync(state: ReplicaState, input: IsrInput): boolean {
  if (state.logEndOffset === input.leaderEndOffset) return false;
  return input.nowMs - state.lastCaughtUpTimeMs > input.lagTimeMaxMs;
}
