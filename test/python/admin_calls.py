"""Runs the AdminClient calls a platform team uses with confluent-kafka (librdkafka), directly
against a broker or through the proxy (OAUTHBEARER with sasl.oauthbearer.method=oidc), and
prints one JSON line per call: {"call": label, "result": normalized}. A last line
{"done": true, "librdkafka": "x.y.z", "errors": [...]} ends a run that got through.

Settings come as one JSON argument:
  bootstrap         host:port
  oidc              optional {tokenEndpoint, clientId, clientSecret}; absent: PLAINTEXT, no auth
  mode              "full": create, use and delete its own resources (every call, plus a
                    produce and a consume with a group first, so the group has offsets);
                    "denied": the calls against resources the principal may not touch
  names             the run's resource names by role (topic, extraTopic, group, ...); results
                    name resources by role, never by name, so runs with other names compare equal
  scramUser         an existing SCRAM user on the cluster

Normalized results keep what two runs against the same cluster must agree on (names by role,
partition counts, replica and leader node ids, config values and sources, group states,
offsets, error codes by name) and drop what legitimately differs: broker host/port, topic ids,
member ids, client hosts, timestamps. Every future is waited on with a timeout."""
import json
import sys
import time
import warnings

import confluent_kafka
from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, KafkaError, KafkaException, Producer, TopicCollection, TopicPartition
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigSource,
    ConfigResource,
    NewPartitions,
    NewTopic,
    OffsetSpec,
    ResourceType,
)

T = 30  # seconds: every future and request
warnings.filterwarnings("ignore", category=DeprecationWarning)  # alter_configs is deprecated, and still used
s = json.loads(sys.argv[1])
names = s["names"]
role_of = {v: k for k, v in names.items()}
errors = []

common = {"bootstrap.servers": s["bootstrap"], "error_cb": lambda e: errors.append(f"{e.name()}: {e.str()}")}
if s.get("oidc"):
    o = s["oidc"]
    common.update({
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "OAUTHBEARER",
        "sasl.oauthbearer.method": "oidc",
        "sasl.oauthbearer.client.id": o["clientId"],
        "sasl.oauthbearer.client.secret": o["clientSecret"],
        "sasl.oauthbearer.token.endpoint.url": o["tokenEndpoint"],
    })
admin = AdminClient(dict(common))


# ---- normalizing ----

def err_name(e):
    """A Kafka error by name (TOPIC_AUTHORIZATION_FAILED, _TIMED_OUT, ...)."""
    if isinstance(e, KafkaException) and e.args and isinstance(e.args[0], KafkaError):
        e = e.args[0]
    if isinstance(e, KafkaError):
        return e.name()
    return f"{type(e).__name__}: {e}"


def role(name):
    return role_of.get(name)


def outcome(f, fn=lambda r: r):
    """A future's normalized result, or {"error": NAME}."""
    try:
        return fn(f.result(T))
    except Exception as e:  # noqa: BLE001 - every failure is a result to compare
        return {"error": err_name(e)}


def per_key(futures, key=role, fn=lambda r: r):
    """{role: outcome} for a dict of futures keyed by resource."""
    return {key(k): outcome(f, fn) for k, f in sorted(futures.items(), key=lambda kv: str(key(kv[0])))}


def ops(acl_ops):
    return None if acl_ops is None else sorted(op.name for op in acl_ops)


def tp_key(tp):
    return f"{role(tp.topic)}/{tp.partition}"


def partitions(tps):
    return {tp_key(tp): (tp.offset if tp.error is None else {"error": err_name(tp.error)}) for tp in sorted(tps, key=tp_key)}


CONFIGS = ["retention.ms", "max.message.bytes", "cleanup.policy", "segment.bytes"]
BROKER_CONFIGS = ["num.partitions", "auto.create.topics.enable", "offsets.topic.replication.factor"]


def config_view(wanted):
    return lambda entries: {k: {"value": entries[k].value, "source": ConfigSource(entries[k].source).name} for k in wanted if k in entries}


def topic_description(d):
    return {
        "internal": d.is_internal,
        "hasTopicId": d.topic_id is not None,
        "partitions": [{"id": p.id, "leader": p.leader.id if p.leader else None, "replicas": [n.id for n in p.replicas], "isr": [n.id for n in p.isr]} for p in d.partitions],
        "authorizedOperations": ops(d.authorized_operations),
    }


def group_description(d):
    return {
        "simple": d.is_simple_consumer_group,
        "state": d.state.name,
        "type": d.type.name,
        "members": len(d.members),
        "assignor": d.partition_assignor,
        "coordinator": d.coordinator.id if d.coordinator else None,
        "authorizedOperations": ops(d.authorized_operations),
    }


def scram(d):
    return sorted([c.mechanism.name, c.iterations] for c in d.scram_credential_infos)


# ---- waiting (not results: a KRaft broker serves a new topic or partition a moment later) ----

def wait_partitions(topic, count):
    deadline = time.time() + T
    while time.time() < deadline:
        md = admin.list_topics(topic, timeout=10).topics.get(topic)
        if md and md.error is None and len(md.partitions) == count and all(p.leader >= 0 for p in md.partitions.values()):
            return
        time.sleep(0.2)
    raise RuntimeError(f"{topic} did not get {count} partitions with leaders")


# ---- the calls ----

def produce_consume():
    """Records on two partitions, then a classic consumer group that reads and commits them all."""
    topic = names["topic"]
    producer = Producer(dict(common))
    delivered = []
    for i, p in enumerate([0, 0, 0, 1, 1]):
        producer.produce(topic, key=f"k{i}", value=f"v{i}", partition=p, on_delivery=lambda err, msg: delivered.append(err_name(err) if err else None))
    left = producer.flush(T)
    consumer = Consumer({**common, "group.id": names["group"], "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    got, deadline = 0, time.time() + T
    while got < len(delivered) and time.time() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None and msg.error():
            errors.append(f"consumer: {msg.error().name()}")
        elif msg is not None:
            got += 1
    committed = consumer.commit(asynchronous=False)
    consumer.close()  # LeaveGroup: the group is Empty from now on
    return {"undelivered": left, "deliveryErrors": [e for e in delivered if e], "consumed": got, "committed": partitions(committed)}


def list_topics():
    md = admin.list_topics(timeout=T)
    ours = {role(t): {"partitions": len(m.partitions), "error": err_name(m.error) if m.error else None} for t, m in md.topics.items() if role(t)}
    return {"brokers": sorted(md.brokers), "controller": md.controller_id, "clusterId": md.cluster_id, "topics": dict(sorted(ours.items()))}


def describe_cluster():
    d = admin.describe_cluster(include_authorized_operations=True, request_timeout=T).result(T)
    return {"clusterId": d.cluster_id, "controller": d.controller.id if d.controller else None, "nodes": sorted(n.id for n in d.nodes), "authorizedOperations": ops(d.authorized_operations)}


def create_topics(specs):
    """[(role, partitions, configs)]; waits until the topics it created are served."""
    def call():
        new = [NewTopic(names[r], num_partitions=n, replication_factor=1, config=c) for r, n, c in specs]
        res = per_key(admin.create_topics(new, operation_timeout=T, request_timeout=T))
        for r, n, _ in specs:
            if res[r] is None:
                wait_partitions(names[r], n)
        return res
    return call


def describe_topics(roles):
    return lambda: per_key(admin.describe_topics(TopicCollection([names[r] for r in roles]), include_authorized_operations=True, request_timeout=T), fn=topic_description)


def delete_topics(roles):
    return lambda: per_key(admin.delete_topics([names[r] for r in roles], operation_timeout=T, request_timeout=T))


def describe_configs(roles, broker=False, settled=None):
    """Topics by role, and with `broker` the (first) broker's configs too. With `settled`
    (role, config, value), asks again for up to T seconds until that value shows: a broker
    applies an altered config when the controller's record reaches it, a moment after the
    alter call returns."""
    def describe():
        resources = [ConfigResource(ResourceType.TOPIC, names[r]) for r in roles]
        if broker:
            resources.append(ConfigResource(ResourceType.BROKER, str(min(admin.list_topics(timeout=T).brokers))))
        futures = admin.describe_configs(resources, request_timeout=T)
        return {
            (role(r.name) if r.restype == ResourceType.TOPIC else f"broker {r.name}"): outcome(f, config_view(CONFIGS if r.restype == ResourceType.TOPIC else BROKER_CONFIGS))
            for r, f in futures.items()
        }

    def call():
        deadline = time.time() + T
        result = describe()
        while settled and value_of(result, *settled[:2]) != settled[2] and time.time() < deadline:
            time.sleep(0.2)
            result = describe()
        return result
    return call


def value_of(result, role_, config):
    return result.get(role_, {}).get(config, {}).get("value")


def alter_configs(roles):
    # The legacy AlterConfigs: the topic's dynamic configs become exactly these.
    resources = [ConfigResource(ResourceType.TOPIC, names[r], set_config={"retention.ms": "3600000", "cleanup.policy": "delete"}) for r in roles]
    return lambda: per_key(admin.alter_configs(resources, request_timeout=T), key=lambda r: role(r.name))


def incremental_alter_configs(roles):
    ops_ = [
        ConfigEntry("max.message.bytes", "200000", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("retention.ms", None, incremental_operation=AlterConfigOpType.DELETE),
    ]
    resources = [ConfigResource(ResourceType.TOPIC, names[r], incremental_configs=ops_) for r in roles]
    return lambda: per_key(admin.incremental_alter_configs(resources, request_timeout=T), key=lambda r: role(r.name))


def list_consumer_groups():
    res = admin.list_consumer_groups(request_timeout=T).result(T)
    ours = {role(g.group_id): {"simple": g.is_simple_consumer_group, "state": g.state.name, "type": g.type.name} for g in res.valid if role(g.group_id)}
    return {"groups": dict(sorted(ours.items())), "errors": sorted(err_name(e) for e in res.errors)}


def describe_consumer_groups(roles):
    return lambda: per_key(admin.describe_consumer_groups([names[r] for r in roles], include_authorized_operations=True, request_timeout=T), fn=group_description)


def list_consumer_group_offsets(group, topic_parts=None):
    tps = None if topic_parts is None else [TopicPartition(names[t], p) for t, p in topic_parts]
    return lambda: per_key(admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(names[group], tps)], request_timeout=T), fn=lambda r: partitions(r.topic_partitions))


def alter_consumer_group_offsets(group, offsets):
    req = ConsumerGroupTopicPartitions(names[group], [TopicPartition(names[t], p, o) for t, p, o in offsets])
    return lambda: per_key(admin.alter_consumer_group_offsets([req], request_timeout=T), fn=lambda r: partitions(r.topic_partitions))


def delete_consumer_groups(roles):
    return lambda: per_key(admin.delete_consumer_groups([names[r] for r in roles], request_timeout=T))


def create_partitions(role_, count):
    def call():
        res = per_key(admin.create_partitions([NewPartitions(names[role_], count)], operation_timeout=T, request_timeout=T))
        if res[role_] is None:
            wait_partitions(names[role_], count)
        return res
    return call


def list_offsets(parts):
    """Earliest and latest offsets of [(topic role, partition)]."""
    specs = {"earliest": OffsetSpec.earliest(), "latest": OffsetSpec.latest()}

    def call():
        out = {}
        for label, spec in specs.items():
            futures = admin.list_offsets({TopicPartition(names[t], p): spec for t, p in parts}, request_timeout=T)
            out[label] = per_key(futures, key=tp_key, fn=lambda r: r.offset)
        return out
    return call


def describe_user_scram_credentials(users):
    def call():
        # All users (one future for the whole answer), kept to the one this test knows exists,
        # then named users (a future each), one of which does not exist.
        everyone = outcome(admin.describe_user_scram_credentials(request_timeout=T), lambda r: {u: scram(d) for u, d in r.items() if u == s["scramUser"]})
        named = per_key(admin.describe_user_scram_credentials(users, request_timeout=T), key=lambda u: "scramUser" if u == s["scramUser"] else role(u), fn=scram)
        return {"all": everyone, "named": named}
    return call


TOPIC_CONFIG = {"segment.bytes": "1048576"}


def full():
    return [
        ("create_topics", create_topics([("topic", 2, TOPIC_CONFIG), ("extraTopic", 1, {})])),
        ("create_topics existing", create_topics([("topic", 2, {})])),
        ("produce and consume with a group", produce_consume),
        ("list_topics", list_topics),
        ("describe_cluster", describe_cluster),
        ("describe_topics", describe_topics(["topic", "extraTopic", "missingTopic"])),
        ("describe_configs", describe_configs(["topic", "missingTopic"], broker=True)),
        ("alter_configs", alter_configs(["topic", "missingTopic"])),
        ("describe_configs after alter_configs", describe_configs(["topic"], settled=("topic", "retention.ms", "3600000"))),
        ("incremental_alter_configs", incremental_alter_configs(["topic"])),
        ("describe_configs after incremental_alter_configs", describe_configs(["topic"], settled=("topic", "max.message.bytes", "200000"))),
        ("list_consumer_groups", list_consumer_groups),
        ("describe_consumer_groups", describe_consumer_groups(["group", "missingGroup"])),
        ("list_consumer_group_offsets", list_consumer_group_offsets("group")),
        ("alter_consumer_group_offsets", alter_consumer_group_offsets("group", [("topic", 0, 1)])),
        ("list_consumer_group_offsets after alter", list_consumer_group_offsets("group", [("topic", 0), ("topic", 1)])),
        ("create_partitions", create_partitions("topic", 3)),
        ("describe_topics after create_partitions", describe_topics(["topic"])),
        ("list_offsets", list_offsets([("topic", 0), ("topic", 1), ("topic", 2)])),
        ("delete_consumer_groups", delete_consumer_groups(["group", "missingGroup"])),
        ("list_consumer_groups after delete", list_consumer_groups),
        ("describe_user_scram_credentials", describe_user_scram_credentials([s["scramUser"], names["missingUser"]])),
        ("delete_topics", delete_topics(["topic", "extraTopic", "missingTopic"])),
    ]


def denied():
    """Against another team's topic and group ("topic", "group"), with the principal's own topic
    ("ownTopic") in the requests that name several, so one request is partly allowed."""
    return [
        ("create_topics", create_topics([("ownTopic", 1, {}), ("extraTopic", 1, {})])),
        ("list_topics", list_topics),
        ("describe_cluster", describe_cluster),
        ("describe_topics", describe_topics(["topic", "ownTopic"])),
        ("describe_configs", describe_configs(["topic"], broker=True)),
        ("alter_configs", alter_configs(["topic"])),
        ("incremental_alter_configs", incremental_alter_configs(["topic"])),
        ("create_partitions", create_partitions("topic", 4)),
        ("list_offsets", list_offsets([("ownTopic", 0), ("topic", 0)])),
        ("list_consumer_groups", list_consumer_groups),
        ("describe_consumer_groups", describe_consumer_groups(["group"])),
        ("list_consumer_group_offsets", list_consumer_group_offsets("group")),
        ("alter_consumer_group_offsets", alter_consumer_group_offsets("group", [("topic", 0, 0)])),
        ("delete_consumer_groups", delete_consumer_groups(["group"])),
        # No describe_user_scram_credentials: librdkafka 2.16 aborts the process on any answer
        # with a top-level error (the broker's own CLUSTER_AUTHORIZATION_FAILED included); the
        # test checks that denial on the wire.
        ("delete_topics", delete_topics(["ownTopic", "topic"])),
    ]

for label, call in full() if s["mode"] == "full" else denied():
    try:
        result = call()
    except Exception as e:  # noqa: BLE001 - a call that raises outright (or never settles) is a result too
        result = {"raised": err_name(e)}
    print(json.dumps({"call": label, "result": result}), flush=True)

print(json.dumps({"done": True, "librdkafka": confluent_kafka.libversion()[0], "errors": errors}), flush=True)
