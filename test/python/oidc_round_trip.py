"""Produces and consumes records through the proxy with confluent-kafka (librdkafka), which
fetches its own access token from the OpenID provider (sasl.oauthbearer.method=oidc: client
credentials at the token endpoint). Settings come as one JSON argument; the outcome is printed
as one JSON line: {"produced": n, "consumed": ["key=value", ...], "librdkafka": "x.y.z"}."""
import json
import sys
import time

import confluent_kafka
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

s = json.loads(sys.argv[1])
errors = []


def on_error(err):
    errors.append(str(err))


common = {
    "bootstrap.servers": s["bootstrap"],
    "security.protocol": "SASL_PLAINTEXT",
    "sasl.mechanism": "OAUTHBEARER",
    "sasl.oauthbearer.method": "oidc",
    "sasl.oauthbearer.client.id": s["clientId"],
    "sasl.oauthbearer.client.secret": s["clientSecret"],
    "sasl.oauthbearer.token.endpoint.url": s["tokenEndpoint"],
    "error_cb": on_error,
}

admin = AdminClient(dict(common))
for f in admin.create_topics([NewTopic(s["topic"], num_partitions=1, replication_factor=1)]).values():
    f.result(30)

producer = Producer(dict(common))
delivered = []
for i in range(s["count"]):
    producer.produce(s["topic"], key=f"k{i}", value=f"v{i}", on_delivery=lambda err, msg: delivered.append(err))
left = producer.flush(30)
failed = [str(e) for e in delivered if e is not None]
if left or failed:
    print(json.dumps({"error": f"{left} undelivered, failures {failed}", "errors": errors}))
    sys.exit(1)

consumer = Consumer({**common, "group.id": s["group"], "auto.offset.reset": "earliest"})
consumer.subscribe([s["topic"]])
got = []
deadline = time.time() + 60
while len(got) < s["count"] and time.time() < deadline:
    msg = consumer.poll(1.0)
    if msg is None:
        continue
    if msg.error():
        errors.append(str(msg.error()))
        continue
    got.append(f"{msg.key().decode()}={msg.value().decode()}")
consumer.close()
print(json.dumps({"produced": len(delivered), "consumed": got, "librdkafka": confluent_kafka.libversion()[0], "errors": errors}))
