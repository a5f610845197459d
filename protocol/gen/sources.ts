/**
 * The spec files the types are generated from: every API of `API_SPECS` (its file named after
 * the API: `OffsetForLeaderEpoch` -> `offset-for-leader-epoch`), the headers and the records of
 * `__consumer_offsets`.
 */
import {
  GroupMetadataKey,
  GroupMetadataValue,
  OffsetCommitKey,
  OffsetCommitValue,
} from "../messages/consumer-offsets.js";
import { RequestHeader, ResponseHeader } from "../messages/header.js";
import { API_SPECS } from "../messages/index.js";
import type { SpecSource } from "./types.js";

/** `OffsetForLeaderEpoch` -> `offset-for-leader-epoch`. */
export function kebabName(apiName: string): string {
  return apiName.replace(/[A-Z]/g, (c, i: number) => (i === 0 ? "" : "-") + c.toLowerCase());
}

export function specSources(): SpecSource[] {
  const apis = Object.values(API_SPECS)
    .map((api) => ({ file: kebabName(api.name), specs: [api.request, api.response] }))
    .sort((a, b) => a.file.localeCompare(b.file));
  return [
    ...apis,
    { file: "header", specs: [RequestHeader, ResponseHeader] },
    {
      file: "consumer-offsets",
      specs: [OffsetCommitKey, OffsetCommitValue, GroupMetadataKey, GroupMetadataValue],
    },
  ];
}
