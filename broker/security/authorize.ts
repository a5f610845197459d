/**
 * How a request's handler asks whether its principal may act (issue 15): the broker's Authorizer
 * (authorizer.class.name set) over the store's ACL bindings, or, with no authorizer, yes to all.
 * Handlers call `ctx.authorize` / `ctx.authorizeAny` (broker/api/types.ts), which dispatch binds
 * to the request's principal and host with `authorizeRequest`.
 */
import type { BrokerConfig } from "../config.js";
import type { AclOperation, AclResourceType } from "../metadata/acl-bindings.js";
import type { ClusterStore } from "../metadata/cluster.js";
import { Authorizer } from "./authorizer.js";

/** The checks a request context carries, bound to its principal and host. */
export interface RequestAuthorization {
  /** Whether the principal may do `operation` on the named resource. */
  authorize(operation: AclOperation, resourceType: AclResourceType, name: string): boolean;
  /** Whether it may do `operation` on at least one resource of the type (Kafka's authorizeByResourceType). */
  authorizeAny(operation: AclOperation, resourceType: AclResourceType): boolean;
}

const ALLOW_ALL: RequestAuthorization = Object.freeze({
  authorize: () => true,
  authorizeAny: () => true,
});

/** The broker's Authorizer as its config asks (authorizer.class.name, super.users, allow.everyone.if.no.acl.found). */
export function brokerAuthorizer(
  config: Pick<BrokerConfig, "authorizerClassName" | "superUsers" | "allowEveryoneIfNoAclFound">,
  store: Pick<ClusterStore, "aclBindings">,
): Authorizer | null {
  if (config.authorizerClassName === "") return null;
  return new Authorizer({
    bindings: () => store.aclBindings(),
    superUsers: parseSuperUsers(config.superUsers),
    allowEveryoneIfNoAclFound: config.allowEveryoneIfNoAclFound,
  });
}

/** super.users as Kafka reads it: principals separated by ";", blanks ignored. */
export function parseSuperUsers(value: string): string[] {
  return value
    .split(";")
    .map((p) => p.trim())
    .filter((p) => p !== "");
}

/** The checks for one request by `principal` from `host`. */
export function authorizeRequest(
  authorizer: Authorizer | null,
  principal: string,
  host: string,
): RequestAuthorization {
  if (!authorizer) return ALLOW_ALL;
  return {
    authorize: (operation, resourceType, name) =>
      authorizer.authorize(principal, host, operation, resourceType, name),
    authorizeAny: (operation, resourceType) =>
      authorizer.authorizeByResourceType(principal, host, operation, resourceType),
  };
}
