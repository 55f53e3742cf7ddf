"""Strimzi `KafkaTopic` resources generated from the topic registry (schemas/topics.py), so the
production manifests' topic names, partitions and configs cannot drift from what the stages use.

    python -m schemas.strimzi > deploy/k8s/overlays/production/kafka-topics.yaml

(a test renders the manifests and compares). Layout of KafkaTopic: Strimzi's documentation,
kafka.strimzi.io/v1beta2 (`spec.topicName`, `partitions`, `replicas`, `config`).
"""

from __future__ import annotations

import argparse
import re
import sys

import yaml

from schemas.topics import TOPICS, TopicSpec

PRODUCTION_PREFIX = "trackwire."
PRODUCTION_PARTITIONS = 12
PRODUCTION_REPLICAS = 3
PRODUCTION_MIN_INSYNC = 2
CLUSTER = "trackwire"


def resource_name(topic: str) -> str:
    """A Kubernetes name for a topic: lower case, `.`/`_` become `-` (Kafka names allow more)."""
    return re.sub(r"[^a-z0-9-]+", "-", topic.lower()).strip("-")


def kafka_topic(spec: TopicSpec, *, prefix: str, partitions: int, replicas: int, cluster: str = CLUSTER) -> dict:
    name = spec.full_name(prefix)
    config = dict(spec.configs())
    config["min.insync.replicas"] = str(min(PRODUCTION_MIN_INSYNC, replicas))
    return {
        "apiVersion": "kafka.strimzi.io/v1beta2",
        "kind": "KafkaTopic",
        "metadata": {"name": resource_name(name), "labels": {"strimzi.io/cluster": cluster}},
        "spec": {
            "topicName": name,
            "partitions": spec.partition_count(partitions),
            "replicas": replicas,
            "config": config,
        },
    }


def kafka_topics(prefix: str = PRODUCTION_PREFIX, partitions: int = PRODUCTION_PARTITIONS,
                 replicas: int = PRODUCTION_REPLICAS, cluster: str = CLUSTER) -> list[dict]:
    return [kafka_topic(spec, prefix=prefix, partitions=partitions, replicas=replicas, cluster=cluster)
            for spec in TOPICS]


def render(resources: list[dict]) -> str:
    header = ("# GENERATED from schemas/topics.py by `python -m schemas.strimzi`; do not edit.\n"
              "# A test fails when this file and the registry disagree.\n")
    return header + "---\n".join(yaml.safe_dump(r, sort_keys=False) for r in resources)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefix", default=PRODUCTION_PREFIX)
    parser.add_argument("--partitions", type=int, default=PRODUCTION_PARTITIONS)
    parser.add_argument("--replicas", type=int, default=PRODUCTION_REPLICAS)
    parser.add_argument("--cluster", default=CLUSTER)
    args = parser.parse_args(argv)
    sys.stdout.write(render(kafka_topics(args.prefix, args.partitions, args.replicas, args.cluster)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
