/**
 * Topic configs that the broker and compat tests set: the twelve keys named in issue 11 (eight
 * of them were refused before), with values other than Kafka's defaults.
 */
export const ISSUE_CONFIGS: Record<string, string> = {
  "compression.type": "zstd",
  "message.timestamp.type": "LogAppendTime",
  "unclean.leader.election.enable": "false",
  "message.timestamp.difference.max.ms": "86400000",
  "message.timestamp.before.max.ms": "86400000",
  "message.timestamp.after.max.ms": "3600000",
  "flush.messages": "10000",
  preallocate: "true",
  "segment.jitter.ms": "1000",
  "message.downconversion.enable": "false",
  "max.message.bytes": "2000000",
  "retention.ms": "3600000",
};
