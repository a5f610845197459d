"""kafka-python's ACL admin calls (Debian's python3-kafka 2.0.2: create_acls, describe_acls,
delete_acls over CreateAcls / DescribeAcls / DeleteAcls v1) against a samsa broker, driven by
test/compat/acls.test.ts: `python3 kafka_python_acls.py <port> <scenario>`.

Scenarios: `create` adds three bindings and one the broker must refuse (a CLUSTER binding not
named kafka-cluster); `describe` lists every binding and those that MATCH the topic orders-eu;
`delete` removes User:bob's bindings. Each prints one JSON object on stdout; a failure raises
(non-zero exit, traceback on stderr). Every call is bounded by the client's request timeout.

(Debian's python3-confluent-kafka is 1.7.0, whose AdminClient has no ACL calls: they came in 1.9.)
"""
import json
import sys

from kafka.admin import (
    ACL,
    ACLFilter,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    KafkaAdminClient,
    ResourcePattern,
    ResourcePatternFilter,
    ResourceType,
)

TIMEOUT_MS = 10_000


def acl_json(acl):
    pattern = acl.resource_pattern
    return {
        "resource": f"{pattern.resource_type.name}/{pattern.pattern_type.name}/{pattern.resource_name}",
        "principal": acl.principal,
        "host": acl.host,
        "operation": acl.operation.name,
        "permission": acl.permission_type.name,
    }


def allow(principal, operation, resource_type, name, pattern=ACLResourcePatternType.LITERAL):
    return ACL(principal, "*", operation, ACLPermissionType.ALLOW, ResourcePattern(resource_type, name, pattern))


def create(client):
    acls = [
        allow("User:alice", ACLOperation.READ, ResourceType.TOPIC, "orders"),
        allow("User:bob", ACLOperation.WRITE, ResourceType.TOPIC, "orders-", ACLResourcePatternType.PREFIXED),
        allow("User:bob", ACLOperation.READ, ResourceType.GROUP, "billing"),
        allow("User:alice", ACLOperation.ALTER, ResourceType.CLUSTER, "not-the-cluster"),
    ]
    result = client.create_acls(acls)
    return {
        "succeeded": [acl_json(a) for a in result["succeeded"]],
        "failed": [[acl_json(a), err.__name__] for a, err in result["failed"]],
    }


def any_filter(principal=None, resource_type=ResourceType.ANY, name=None, pattern=ACLResourcePatternType.ANY):
    return ACLFilter(
        principal, None, ACLOperation.ANY, ACLPermissionType.ANY, ResourcePatternFilter(resource_type, name, pattern)
    )


def describe(client):
    everything, error = client.describe_acls(any_filter())
    matching, _ = client.describe_acls(any_filter(None, ResourceType.TOPIC, "orders-eu", ACLResourcePatternType.MATCH))
    return {
        "error": error.__name__,
        "all": sorted((acl_json(a) for a in everything), key=json.dumps),
        "match": [acl_json(a) for a in matching],
    }


def delete(client):
    results = client.delete_acls([any_filter("User:bob")])
    _, removed, error = results[0]
    return {"error": error.__name__, "removed": sorted((acl_json(a) for a, _ in removed), key=json.dumps)}


def main():
    port, scenario = sys.argv[1], sys.argv[2]
    client = KafkaAdminClient(
        bootstrap_servers=f"127.0.0.1:{port}", client_id="samsa-compat-acls", request_timeout_ms=TIMEOUT_MS
    )
    try:
        print(json.dumps({"create": create, "describe": describe, "delete": delete}[scenario](client)))
    finally:
        client.close()


main()
