"""A librdkafka producer application for bench/rolling.ts (Debian's python3-confluent-kafka over
librdkafka 2.0.2), with librdkafka's defaults: acks=all (set here as well, so the default of
another librdkafka version does not change the test), retries without a count limit and
message.timeout.ms 300000; no idempotence (its default is off).

Usage: python3 rolling-rdkafka.py <bootstrap> <topic> <rate> <flush_s>

Sends `rdkafka-<n>` (n = 0, 1, ...) at <rate> records/s, each its own key, until a line "stop" or the end
of stdin; then flushes for at most <flush_s> seconds. Prints one JSON object per line on stdout:
  {"t": "ok", "v": value, "p": partition, "o": offset, "ms": wall-clock ms}  a delivery report
  {"t": "err", "v": value, "e": error name, "m": message, "ms": ...}          a failed delivery
  {"t": "event", "e": name, "fatal": bool, "m": message, "ms": ...}          librdkafka's error_cb
  {"t": "start", "ms": ...}                                                  before the first send
  {"t": "done", "sent": n, "unflushed": n}                                   after the flush
"""

import json
import sys
import threading
import time

from confluent_kafka import KafkaException, Producer

POLL_S = 0.005
"""Sends made up at once after a stall, at most this many seconds' worth."""
CATCH_UP_S = 1


def now_ms():
    return int(time.time() * 1000)


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")


def on_delivery(err, msg):
    value = msg.value().decode()
    if err is None:
        emit({"t": "ok", "v": value, "p": msg.partition(), "o": msg.offset(), "ms": now_ms()})
    else:
        emit({"t": "err", "v": value, "e": err.name(), "m": err.str(), "ms": now_ms()})


def on_error(err):
    emit({"t": "event", "e": err.name(), "fatal": err.fatal(), "m": err.str(), "ms": now_ms()})


def watch_stdin(stop):
    for line in sys.stdin:
        if line.strip() == "stop":
            break
    stop.set()


def main():
    bootstrap, topic, rate, flush_s = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
    producer = Producer(
        {"bootstrap.servers": bootstrap, "client.id": "rolling-rdkafka", "acks": "all", "error_cb": on_error}
    )
    stop = threading.Event()
    threading.Thread(target=watch_stdin, args=(stop,), daemon=True).start()
    emit({"t": "start", "ms": now_ms()})
    start = time.monotonic()
    sent = 0
    while not stop.is_set():
        due = int((time.monotonic() - start) * rate)
        if due - sent > rate * CATCH_UP_S:
            start += (due - sent - rate * CATCH_UP_S) / rate
            due = sent + int(rate * CATCH_UP_S)
        while sent < due:
            value = f"rdkafka-{sent}"
            try:
                producer.produce(topic, key=value.encode(), value=value.encode(), on_delivery=on_delivery)
            except (BufferError, KafkaException) as err:
                emit({"t": "err", "v": value, "e": type(err).__name__, "m": str(err), "ms": now_ms()})
            sent += 1
        producer.poll(POLL_S)
        sys.stdout.flush()
    unflushed = producer.flush(flush_s)
    emit({"t": "done", "sent": sent, "unflushed": unflushed})
    sys.stdout.flush()


main()
