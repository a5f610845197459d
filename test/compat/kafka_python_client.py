"""kafka-python (Debian's python3-kafka 2.0.2) against a samsa broker, driven by
test/compat/kafka-python.test.ts: `python3 kafka_python_client.py <port> <scenario> <topic>`.
Each scenario prints one JSON object on stdout; any failure raises (non-zero exit, traceback on
stderr). Every client call has a timeout, so a broker that stops answering fails the scenario."""
import json
import sys

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewPartitions, NewTopic

TIMEOUT_MS = 10_000


def common(port):
    return {
        "bootstrap_servers": f"127.0.0.1:{port}",
        "client_id": "samsa-compat-python",
        "request_timeout_ms": TIMEOUT_MS + 1000,
    }


def admin(port, topic):
    client = KafkaAdminClient(**common(port))
    try:
        client.create_topics(
            [NewTopic(topic, num_partitions=2, replication_factor=1, topic_configs={"retention.ms": "3600000"})],
            timeout_ms=TIMEOUT_MS,
        )
        listed = topic in client.list_topics()
        described = client.describe_topics([topic])
        cluster = client.describe_cluster()
        configs = client.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        entries = {e[0]: e[1] for e in configs[0].resources[0][4]}
        client.create_partitions({topic: NewPartitions(total_count=3)}, timeout_ms=TIMEOUT_MS)
        grown = len(client.describe_topics([topic])[0]["partitions"])
        client.delete_topics([topic], timeout_ms=TIMEOUT_MS)
        deleted = topic not in client.list_topics()
        return {
            "listed": listed,
            "partitions": len(described[0]["partitions"]),
            "error": described[0]["error_code"],
            "cluster_id": cluster["cluster_id"],
            "controller_id": cluster["controller_id"],
            "brokers": [b["node_id"] for b in cluster["brokers"]],
            "retention_ms": entries.get("retention.ms"),
            "grown": grown,
            "deleted": deleted,
        }
    finally:
        client.close()


def produce(port, topic):
    producer = KafkaProducer(acks="all", linger_ms=5, **common(port))
    try:
        futures = [
            producer.send(topic, key=f"k{i % 3}".encode(), value=f"v{i}".encode(), partition=0) for i in range(20)
        ]
        producer.flush(timeout=TIMEOUT_MS / 1000)
        return {"offsets": [f.get(timeout=TIMEOUT_MS / 1000).offset for f in futures]}
    finally:
        producer.close(timeout=TIMEOUT_MS / 1000)


def read(consumer, count):
    """Polls until `count` records came, or fails after a bounded number of polls."""
    out = []
    for _ in range(50):
        for records in consumer.poll(timeout_ms=200).values():
            out.extend(records)
        if len(out) >= count:
            return out
    raise RuntimeError(f"read {len(out)} of {count} records")


def group(port, topic):
    """Two members of one group in turn: the first reads everything and commits; after one more
    record is produced, the second resumes after the commit."""
    settings = dict(
        group_id=f"{topic}-group",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=TIMEOUT_MS,
        session_timeout_ms=10_000,
        heartbeat_interval_ms=500,
        **common(port),
    )
    first = KafkaConsumer(topic, **settings)
    try:
        seen = read(first, 20)
        first.commit()
        committed = first.committed(TopicPartition(topic, 0))
    finally:
        first.close()
    producer = KafkaProducer(acks="all", **common(port))
    try:
        producer.send(topic, value=b"after", partition=0).get(timeout=TIMEOUT_MS / 1000)
    finally:
        producer.close(timeout=TIMEOUT_MS / 1000)
    second = KafkaConsumer(topic, **settings)
    try:
        resumed = read(second, 1)
    finally:
        second.close()
    return {
        "values": [r.value.decode() for r in seen],
        "keys": [r.key.decode() for r in seen],
        "committed": committed,
        "resumed": [(r.offset, r.value.decode()) for r in resumed],
    }


SCENARIOS = {"admin": admin, "produce": produce, "group": group}

if __name__ == "__main__":
    port, scenario, topic = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    print(json.dumps(SCENARIOS[scenario](port, topic)))
