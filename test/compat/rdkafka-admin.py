"""librdkafka's admin client (Debian's python3-confluent-kafka over librdkafka 2.0.2), for
test/compat/topic-configs.test.ts: kcat has no admin commands.

Usage: python3 rdkafka-admin.py <port> <create|alter|describe> <topic> < configs.json
Prints one JSON object on stdout: {"ok": true, "configs": {...}} or
{"ok": false, "code": "<Kafka error name>", "message": "..."}. Every call is bounded by
TIMEOUT_S; the test bounds the process as well.
"""

import json
import sys

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

TIMEOUT_S = 10


def fail(err):
    error = err.args[0] if isinstance(err, KafkaException) and err.args else err
    code = error.name() if hasattr(error, "name") else type(err).__name__
    message = error.str() if hasattr(error, "str") else str(err)
    print(json.dumps({"ok": False, "code": code, "message": message}))


def main():
    port, action, topic = sys.argv[1], sys.argv[2], sys.argv[3]
    configs = json.load(sys.stdin) if action in ("create", "alter") else {}
    admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{port}", "socket.timeout.ms": TIMEOUT_S * 1000})
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    try:
        if action == "create":
            new = NewTopic(topic, num_partitions=1, replication_factor=1, config=configs)
            admin.create_topics([new], request_timeout=TIMEOUT_S)[topic].result(timeout=TIMEOUT_S)
        elif action == "alter":
            for name, value in configs.items():
                resource.set_config(name, value)
            admin.alter_configs([resource], request_timeout=TIMEOUT_S)[resource].result(timeout=TIMEOUT_S)
        entries = admin.describe_configs([resource], request_timeout=TIMEOUT_S)[resource].result(timeout=TIMEOUT_S)
        described = {name: {"value": e.value, "source": int(e.source)} for name, e in entries.items()}
        print(json.dumps({"ok": True, "configs": described}))
    except Exception as err:  # noqa: BLE001 - every failure is reported to the test as JSON
        fail(err)


main()
