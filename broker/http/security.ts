/**
 * Users and ACLs over HTTP for the console's Security page (issue 16, decision 0042), run through
 * the Kafka handlers as the request's principal (HTTP Basic when http.authentication is on), so
 * the handlers' own checks apply: ALTER on the cluster to change users or ACLs, DESCRIBE to list
 * them, else 403 CLUSTER_AUTHORIZATION_FAILED.
 *
 *   GET    /whoami                 {principal, authentication, authorization, cluster_operations}
 *   GET    /security/users         {users: [{name, mechanisms: [{mechanism, iterations}]}]}
 *                                  (DescribeUserScramCredentials)
 *   POST   /security/users         {name, password, mechanism?, iterations?} -> 201 {name,
 *                                  mechanism, iterations}: sets the user's password (a new salt;
 *                                  PBKDF2 here, so only the salted password goes to the handler:
 *                                  AlterUserScramCredentials)
 *   DELETE /security/users/{name}?mechanism=   204; without a mechanism, every one the user has
 *   GET    /security/acls?resource_type=&resource_name=&pattern_type=&principal=&host=&operation=
 *          &permission=            {acls: [binding]} matching the filter (absent: any; DescribeAcls)
 *   POST   /security/acls          a binding -> 201 the binding (CreateAcls)
 *   DELETE /security/acls?...      every filter field required (ANY said out loud, never implied)
 *                                  -> {deleted: [binding]} (DeleteAcls)
 *
 * A binding is `{resource_type, resource_name, pattern_type, principal, host, operation,
 * permission}` with Kafka's constant names (TOPIC, LITERAL, READ, ALLOW, ...; protocol/acl.ts).
 */
import { randomBytes } from "node:crypto";
import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import {
  AclOperation,
  AclPermissionType,
  CLUSTER_RESOURCE_NAME,
  PatternType,
  ResourceType,
} from "../../protocol/acl.js";
import {
  SCRAM_MAX_ITERATIONS,
  SCRAM_MIN_ITERATIONS,
  SCRAM_SALT_BYTES,
  type ScramMechanismName,
  scramMechanismCode,
  scramMechanismName,
  scramSaltedPasswordAsync,
} from "../../protocol/sasl/scram.js";
import type { ApiKey, RequestOf, ResponseOf } from "../../protocol/types/index.js";
import type { AclOperation as AclOperationName } from "../metadata/acl-bindings.js";
import { callApi } from "./call-api.js";
import { ERROR_RESPONSES, HttpError } from "./errors.js";
import { NO_QUERY } from "./schemas.js";
import type { HttpServer } from "./server.js";

const DESCRIBE_ACLS = 29;
const CREATE_ACLS = 30;
const DELETE_ACLS = 31;
const DESCRIBE_USER_SCRAM_CREDENTIALS = 50;
const ALTER_USER_SCRAM_CREDENTIALS = 51;

/** The versions these routes speak; each handler serves them. */
export const HTTP_SECURITY_API_VERSIONS = {
  describeAcls: 3,
  createAcls: 3,
  deleteAcls: 3,
  scram: 0,
} as const;

/** The iteration count of a password set here unless the request says (Kafka's minimum, as kafka-configs). */
export const DEFAULT_SCRAM_ITERATIONS = SCRAM_MIN_ITERATIONS;
/** The longest password accepted. */
const PASSWORD_MAX_CHARS = 1024;

/** The cluster operations /whoami reports the caller may do. */
const WHOAMI_OPERATIONS: readonly AclOperationName[] = [
  "DESCRIBE",
  "ALTER",
  "CREATE",
  "DESCRIBE_CONFIGS",
  "ALTER_CONFIGS",
];

type Table = Readonly<Record<string, number>>;

const names = (table: Table, drop: readonly string[]) => Object.keys(table).filter((n) => !drop.includes(n));
const CONCRETE = ["UNKNOWN", "ANY", "MATCH"];
const FILTER = ["UNKNOWN"];

const enumOf = (table: Table, drop: readonly string[]) =>
  ({ type: "string", enum: names(table, drop) }) as const;

/** A binding's properties, by whether it is a binding (concrete names) or a filter. */
function bindingProperties(drop: readonly string[]) {
  return {
    resource_type: enumOf(ResourceType, drop),
    resource_name: { type: "string", minLength: 1, maxLength: 0x7fff },
    pattern_type: enumOf(PatternType, drop),
    principal: { type: "string", minLength: 1, maxLength: 0x7fff },
    host: { type: "string", minLength: 1, maxLength: 0x7fff },
    operation: enumOf(AclOperation, drop),
    permission: enumOf(AclPermissionType, drop),
  };
}

const BINDING_FIELDS = [
  "resource_type",
  "resource_name",
  "pattern_type",
  "principal",
  "host",
  "operation",
  "permission",
] as const;

const BINDING_SCHEMA = {
  type: "object",
  required: [...BINDING_FIELDS],
  properties: bindingProperties(CONCRETE),
} as const;

interface HttpBinding {
  resource_type: string;
  resource_name: string;
  pattern_type: string;
  principal: string;
  host: string;
  operation: string;
  permission: string;
}

type HttpFilter = Partial<HttpBinding>;

const nameOf = (table: Table, code: number): string =>
  Object.keys(table).find((k) => table[k] === code) ?? `UNKNOWN(${code})`;

function bindingOut(b: {
  resourceType: number;
  resourceName: string;
  patternType?: number;
  principal: string;
  host: string;
  operation: number;
  permissionType: number;
}): HttpBinding {
  return {
    resource_type: nameOf(ResourceType, b.resourceType),
    resource_name: b.resourceName,
    pattern_type: nameOf(PatternType, b.patternType ?? PatternType.LITERAL),
    principal: b.principal,
    host: b.host,
    operation: nameOf(AclOperation, b.operation),
    permission: nameOf(AclPermissionType, b.permissionType),
  };
}

const code = (table: Table, name: string | undefined, absent: number): number =>
  name === undefined ? absent : (table[name] ?? 0);

/** A filter in the wire's fields; an absent field matches anything. */
function filterIn(f: HttpFilter) {
  return {
    resourceTypeFilter: code(ResourceType, f.resource_type, ResourceType.ANY),
    resourceNameFilter: f.resource_name ?? null,
    patternTypeFilter: code(PatternType, f.pattern_type, PatternType.ANY),
    principalFilter: f.principal ?? null,
    hostFilter: f.host ?? null,
    operation: code(AclOperation, f.operation, AclOperation.ANY),
    permissionType: code(AclPermissionType, f.permission, AclPermissionType.ANY),
  };
}

class SecurityApi {
  constructor(
    private readonly server: HttpServer,
    private readonly request: FastifyRequest,
  ) {}

  call<K extends ApiKey>(apiKey: K, version: number, body: RequestOf<K>): Promise<ResponseOf<K>> {
    return callApi(this.server.broker.dispatcher, this.server.caller(this.request), apiKey, version, body);
  }

  whoami() {
    const caller = this.server.caller(this.request);
    return {
      principal: caller.principal,
      authentication: this.server.authenticator !== null,
      authorization: this.server.broker.authorizer !== null,
      cluster_operations: WHOAMI_OPERATIONS.filter((op) =>
        caller.authorize(op, "CLUSTER", CLUSTER_RESOURCE_NAME),
      ),
    };
  }

  async users(names: string[] | null) {
    const response = await this.call(DESCRIBE_USER_SCRAM_CREDENTIALS, HTTP_SECURITY_API_VERSIONS.scram, {
      users: names === null ? null : names.map((name) => ({ name })),
    });
    if (response.errorCode !== 0) throw HttpError.kafka(response.errorCode, response.errorMessage);
    return response.results.map((r) => {
      if (r.errorCode !== 0) throw HttpError.kafka(r.errorCode, `user ${r.user}: ${r.errorMessage ?? ""}`);
      return {
        name: r.user,
        mechanisms: r.credentialInfos.map((c) => ({
          mechanism: scramMechanismName(c.mechanism) ?? `UNKNOWN(${c.mechanism})`,
          iterations: c.iterations,
        })),
      };
    });
  }

  async alterUsers(request: RequestOf<typeof ALTER_USER_SCRAM_CREDENTIALS>): Promise<void> {
    const response = await this.call(ALTER_USER_SCRAM_CREDENTIALS, HTTP_SECURITY_API_VERSIONS.scram, request);
    for (const r of response.results)
      if (r.errorCode !== 0) throw HttpError.kafka(r.errorCode, `user ${r.user}: ${r.errorMessage ?? ""}`);
  }

  async setPassword(name: string, password: string, mechanism: ScramMechanismName, iterations: number) {
    const salt = randomBytes(SCRAM_SALT_BYTES);
    const saltedPassword = await scramSaltedPasswordAsync(mechanism, password, salt, iterations);
    const mechanismCode = scramMechanismCode(mechanism);
    await this.alterUsers({
      deletions: [],
      upsertions: [{ name, mechanism: mechanismCode, iterations, salt, saltedPassword }],
    });
    return { name, mechanism, iterations };
  }

  async deleteUser(name: string, mechanism: ScramMechanismName | undefined): Promise<void> {
    const mechanisms = mechanism
      ? [mechanism]
      : (await this.users([name]))[0].mechanisms.map((m) => m.mechanism);
    await this.alterUsers({
      deletions: mechanisms.map((m) => ({ name, mechanism: scramMechanismCode(m as ScramMechanismName) })),
      upsertions: [],
    });
  }

  async acls(filter: HttpFilter): Promise<HttpBinding[]> {
    const response = await this.call(
      DESCRIBE_ACLS,
      HTTP_SECURITY_API_VERSIONS.describeAcls,
      filterIn(filter),
    );
    if (response.errorCode !== 0) throw HttpError.kafka(response.errorCode, response.errorMessage);
    return response.resources.flatMap((r) => r.acls.map((a) => bindingOut({ ...r, ...a })));
  }

  async createAcl(b: HttpBinding): Promise<HttpBinding> {
    const response = await this.call(CREATE_ACLS, HTTP_SECURITY_API_VERSIONS.createAcls, {
      creations: [
        {
          resourceType: code(ResourceType, b.resource_type, 0),
          resourceName: b.resource_name,
          resourcePatternType: code(PatternType, b.pattern_type, 0),
          principal: b.principal,
          host: b.host,
          operation: code(AclOperation, b.operation, 0),
          permissionType: code(AclPermissionType, b.permission, 0),
        },
      ],
    });
    const result = response.results[0];
    if (result?.errorCode !== 0)
      throw HttpError.kafka(result?.errorCode ?? "UNKNOWN_SERVER_ERROR", result?.errorMessage);
    return b;
  }

  async deleteAcls(filter: HttpBinding): Promise<HttpBinding[]> {
    const response = await this.call(DELETE_ACLS, HTTP_SECURITY_API_VERSIONS.deleteAcls, {
      filters: [filterIn(filter)],
    });
    const result = response.filterResults[0];
    if (result?.errorCode !== 0)
      throw HttpError.kafka(result?.errorCode ?? "UNKNOWN_SERVER_ERROR", result?.errorMessage);
    for (const m of result.matchingAcls)
      if (m.errorCode !== 0) throw HttpError.kafka(m.errorCode, m.errorMessage);
    return result.matchingAcls.map(bindingOut);
  }
}

const MECHANISM = { type: "string", enum: ["SCRAM-SHA-256", "SCRAM-SHA-512"] } as const;
const USER_NAME = { type: "string", minLength: 1, maxLength: 0x7fff } as const;

const USERS_RESPONSE = {
  type: "object",
  required: ["users"],
  properties: {
    users: {
      type: "array",
      items: {
        type: "object",
        properties: {
          name: { type: "string" },
          mechanisms: {
            type: "array",
            items: {
              type: "object",
              properties: { mechanism: { type: "string" }, iterations: { type: "integer" } },
            },
          },
        },
      },
    },
  },
} as const;

interface UserBody {
  name: string;
  password: string;
  mechanism?: ScramMechanismName;
  iterations?: number;
}

export const securityRoutes: FastifyPluginAsync<{ server: HttpServer }> = async (app, { server }) => {
  const api = (request: FastifyRequest) => new SecurityApi(server, request);

  app.get(
    "/whoami",
    {
      schema: {
        querystring: NO_QUERY,
        response: {
          200: {
            type: "object",
            required: ["principal", "authentication", "authorization", "cluster_operations"],
            properties: {
              principal: { type: "string" },
              authentication: { type: "boolean" },
              authorization: { type: "boolean" },
              cluster_operations: { type: "array", items: { type: "string" } },
            },
          },
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request) => api(request).whoami(),
  );

  app.get(
    "/security/users",
    { schema: { querystring: NO_QUERY, response: { 200: USERS_RESPONSE, ...ERROR_RESPONSES } } },
    async (request) => ({ users: await api(request).users(null) }),
  );

  app.post<{ Body: UserBody }>(
    "/security/users",
    {
      schema: {
        body: {
          type: "object",
          required: ["name", "password"],
          additionalProperties: false,
          properties: {
            name: USER_NAME,
            password: { type: "string", minLength: 1, maxLength: PASSWORD_MAX_CHARS },
            mechanism: MECHANISM,
            iterations: { type: "integer", minimum: SCRAM_MIN_ITERATIONS, maximum: SCRAM_MAX_ITERATIONS },
          },
        },
        response: {
          201: {
            type: "object",
            properties: {
              name: { type: "string" },
              mechanism: { type: "string" },
              iterations: { type: "integer" },
            },
          },
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const user = await api(request).setPassword(
        b.name,
        b.password,
        b.mechanism ?? "SCRAM-SHA-256",
        b.iterations ?? DEFAULT_SCRAM_ITERATIONS,
      );
      return reply.status(201).send(user);
    },
  );

  app.delete<{ Params: { name: string }; Querystring: { mechanism?: ScramMechanismName } }>(
    "/security/users/:name",
    {
      schema: {
        params: {
          type: "object",
          required: ["name"],
          additionalProperties: false,
          properties: { name: USER_NAME },
        },
        querystring: { type: "object", additionalProperties: false, properties: { mechanism: MECHANISM } },
        response: { 204: { type: "null" }, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      await api(request).deleteUser(request.params.name, request.query.mechanism);
      return reply.status(204).send();
    },
  );

  app.get<{ Querystring: HttpFilter }>(
    "/security/acls",
    {
      schema: {
        querystring: { type: "object", additionalProperties: false, properties: bindingProperties(FILTER) },
        response: {
          200: {
            type: "object",
            required: ["acls"],
            properties: { acls: { type: "array", items: BINDING_SCHEMA } },
          },
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request) => ({ acls: await api(request).acls(request.query) }),
  );

  app.post<{ Body: HttpBinding }>(
    "/security/acls",
    {
      schema: {
        body: { ...BINDING_SCHEMA, additionalProperties: false },
        response: { 201: BINDING_SCHEMA, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => reply.status(201).send(await api(request).createAcl(request.body)),
  );

  app.delete<{ Querystring: HttpBinding }>(
    "/security/acls",
    {
      schema: {
        querystring: {
          type: "object",
          required: [...BINDING_FIELDS],
          additionalProperties: false,
          properties: bindingProperties(FILTER),
        },
        response: {
          200: {
            type: "object",
            required: ["deleted"],
            properties: { deleted: { type: "array", items: BINDING_SCHEMA } },
          },
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request) => ({ deleted: await api(request).deleteAcls(request.query) }),
  );
};
