/**
 * DescribeAcls (key 29), v1-3 (v0, without pattern types, was removed in Kafka 4, KIP-896): the
 * ACL bindings one filter matches, grouped by resource pattern in the store's order (resource
 * type, pattern type, name; then principal, host, operation, permission). Validation order, as
 * Kafka's: DESCRIBE on the cluster -> top-level CLUSTER_AUTHORIZATION_FAILED; a filter holding an
 * unknown code -> top-level INVALID_REQUEST. Bindings are served whether or not the broker checks
 * them (authorizer.class.name), where Kafka without an authorizer answers SECURITY_DISABLED: the
 * bindings live in the cluster store either way (broker/README.md, "APIs served").
 */
import { errorCode, KafkaError } from "../../protocol/errors.js";
import type {
  DescribeAclsRequestData,
  DescribeAclsResource,
  DescribeAclsResponseData,
} from "../../protocol/types/describe-acls.js";
import {
  type AclBinding,
  aclFilterMatches,
  aclFilterProblem,
  aclResourceKey,
} from "../metadata/acl-bindings.js";
import { bindingToWire, clusterDenied, filterFromWire, messageOf } from "./acl-wire.js";
import type { ApiHandler } from "./types.js";

function refused(err: KafkaError): DescribeAclsResponseData {
  return { throttleTimeMs: 0, errorCode: err.errorCode, errorMessage: messageOf(err), resources: [] };
}

/** `bindings` (grouped by resource pattern, as the store orders them) as the response's resources. */
function resources(bindings: readonly AclBinding[]): DescribeAclsResource[] {
  const out: DescribeAclsResource[] = [];
  let lastKey = "";
  for (const b of bindings) {
    const wire = bindingToWire(b);
    const key = aclResourceKey(b);
    if (key !== lastKey) {
      out.push({
        resourceType: wire.resourceType,
        resourceName: wire.resourceName,
        patternType: wire.patternType,
        acls: [],
      });
      lastKey = key;
    }
    const { principal, host, operation, permissionType } = wire;
    out[out.length - 1].acls.push({ principal, host, operation, permissionType });
  }
  return out;
}

export const describeAcls: ApiHandler<DescribeAclsRequestData, DescribeAclsResponseData> = {
  apiKey: 29,
  name: "DescribeAcls",
  minVersion: 1,
  maxVersion: 3,
  async handle(broker, request, ctx) {
    const denied = clusterDenied(ctx, "DESCRIBE");
    if (denied) return refused(denied);
    const filter = filterFromWire(request);
    const problem = aclFilterProblem(filter);
    if (problem) return refused(new KafkaError("INVALID_REQUEST", problem));
    const matched = broker.store.aclBindings().filter((b) => aclFilterMatches(filter, b));
    return {
      throttleTimeMs: 0,
      errorCode: errorCode("NONE"),
      errorMessage: null,
      resources: resources(matched),
    };
  },
};
