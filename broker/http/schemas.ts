/** JSON schema pieces shared by the HTTP routes. */

const INT32_MAX = 0x7fff_ffff;

export const TOPIC_NAME = { type: "string", minLength: 1, maxLength: 249 } as const;
export const PARTITION = { type: "integer", minimum: 0, maximum: INT32_MAX } as const;
export const OFFSET = { type: "integer", minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const;

export const TOPIC_PARAMS = {
  type: "object",
  required: ["topic"],
  additionalProperties: false,
  properties: { topic: TOPIC_NAME },
} as const;

/** A group id: a Kafka string, at most int16 max bytes. */
export const GROUP_ID = { type: "string", minLength: 1, maxLength: 0x7fff } as const;

export const GROUP_PARAMS = {
  type: "object",
  required: ["group"],
  additionalProperties: false,
  properties: { group: GROUP_ID },
} as const;

/** The querystring of a route that takes none: any parameter is refused. */
export const NO_QUERY = { type: "object", additionalProperties: false, properties: {} } as const;

/** Standard base64 with padding (RFC 4648 section 4). */
export const BASE64 = {
  type: "string",
  pattern: "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$",
} as const;
