/**
 * A small JSONPath subset for the message browser's value filter, parsed once per request and
 * walked over each record's parsed value (no eval, no scripts, no wildcards or recursion):
 *
 *   $              the value itself
 *   .name          a member (letters, digits, `_`, `$`, `-`; not starting with a digit)
 *   ['name'] ["n"] a member of any name (backslash escapes the quote and itself)
 *   [N]            an array element, N >= 0
 *
 * `$.order.items[0].sku`, `$['user id']`. A path longer than JSON_PATH_MAX_CHARS or with more than
 * JSON_PATH_MAX_STEPS steps is refused, as is anything outside the grammar (`JsonPathError`).
 */

/** The longest path text accepted. */
export const JSON_PATH_MAX_CHARS = 512;
/** The most steps (members and indexes) in a path. */
export const JSON_PATH_MAX_STEPS = 32;

/** One step of a path: a member name or an array index. */
export type JsonPathStep = string | number;

export class JsonPathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "JsonPathError";
  }
}

const MEMBER_START = /[A-Za-z_$]/;
const MEMBER_CHAR = /[A-Za-z0-9_$-]/;

/** The steps of `path`; throws JsonPathError naming the position of the first mistake. */
export function parseJsonPath(path: string): JsonPathStep[] {
  if (path.length > JSON_PATH_MAX_CHARS)
    throw new JsonPathError(`a JSON path is at most ${JSON_PATH_MAX_CHARS} characters`);
  if (path[0] !== "$") throw new JsonPathError('a JSON path starts with "$"');
  const steps: JsonPathStep[] = [];
  let at = 1;
  while (at < path.length) {
    if (steps.length >= JSON_PATH_MAX_STEPS)
      throw new JsonPathError(`a JSON path has at most ${JSON_PATH_MAX_STEPS} steps`);
    const c = path[at];
    if (c === ".") at = member(path, at + 1, steps);
    else if (c === "[") at = bracket(path, at + 1, steps);
    else throw new JsonPathError(`unexpected "${c}" at position ${at} of the JSON path`);
  }
  return steps;
}

/** `.name` from `at` (after the dot); returns the position after it. */
function member(path: string, at: number, steps: JsonPathStep[]): number {
  let end = at;
  if (end >= path.length || !MEMBER_START.test(path[end]))
    throw new JsonPathError(`a member name is expected at position ${at} of the JSON path`);
  while (end < path.length && MEMBER_CHAR.test(path[end])) end++;
  steps.push(path.slice(at, end));
  return end;
}

/** `[N]` or `['name']` from `at` (after the bracket); returns the position after the `]`. */
function bracket(path: string, at: number, steps: JsonPathStep[]): number {
  const quote = path[at];
  if (quote === "'" || quote === '"') {
    let name = "";
    let i = at + 1;
    while (i < path.length && path[i] !== quote) {
      if (path[i] === "\\" && i + 1 < path.length) i++;
      name += path[i];
      i++;
    }
    if (path[i] !== quote || path[i + 1] !== "]")
      throw new JsonPathError(`an unterminated ['name'] at position ${at - 1} of the JSON path`);
    steps.push(name);
    return i + 2;
  }
  const match = /^(0|[1-9][0-9]{0,8})\]/.exec(path.slice(at, at + 11));
  if (!match) throw new JsonPathError(`an index [N] or a ['name'] is expected at position ${at - 1}`);
  steps.push(Number(match[1]));
  return at + match[0].length;
}

/** What `steps` lead to in `value`, or undefined when a step finds nothing. */
export function jsonPathGet(value: unknown, steps: readonly JsonPathStep[]): unknown {
  let node = value;
  for (const step of steps) {
    if (typeof step === "number") {
      if (!Array.isArray(node) || step >= node.length) return undefined;
      node = node[step];
    } else {
      if (node === null || typeof node !== "object" || Array.isArray(node)) return undefined;
      if (!Object.hasOwn(node, step)) return undefined;
      node = (node as Record<string, unknown>)[step];
    }
  }
  return node;
}
