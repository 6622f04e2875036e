"""The deployment files parse and say what the design requires: non-root, offline, probes, limits, no egress."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from dockerfile_parse import DockerfileParser

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
POLICY = Path(__file__).resolve().parents[2] / "policy"


def k8s_docs() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return docs


def by_kind(kind: str) -> list[dict[str, Any]]:
    return [d for d in k8s_docs() if d["kind"] == kind]


@pytest.mark.parametrize("doc", k8s_docs(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_when_a_manifest_is_checked_then_it_passes_the_kubernetes_schema(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, "1.37.0", strict=True)


def test_when_the_deployment_is_read_then_it_has_probes_limits_and_runs_as_non_root() -> None:
    (deployment,) = by_kind("Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] in {"/readyz", "/healthz"}
    assert container["resources"]["limits"]["memory"] and container["resources"]["limits"]["cpu"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    env = {e["name"]: e for e in container["env"]}
    assert env["GATEWAY_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == "gateway-database"
    mounts = {v["name"]: v for v in pod["volumes"]}
    assert mounts["keys-secret"]["secret"]["secretName"] == "gateway-keys"
    assert mounts["policy"]["configMap"]["name"] == "gateway-policy"


def test_when_the_deployment_is_read_then_the_gateway_gets_its_keys_0600_in_a_writable_memory_volume() -> None:
    # operator16: the Secret mounted as the keys dir is 0440 under fsGroup (refused by the gateway), or root's 0400
    # without it (unreadable by uid 10001), and read-only (no published audit checkpoint).
    (deployment,) = by_kind("Deployment")
    pod = deployment["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["keys"]["emptyDir"]["medium"] == "Memory"
    (init,) = pod["initContainers"]
    init_mounts = {m["name"]: m for m in init["volumeMounts"]}
    assert init_mounts["keys-secret"]["readOnly"] is True and not init_mounts["keys"].get("readOnly")
    script = " ".join(init["args"])
    assert "umask 077" in script and "chmod 600" in script
    for name in ("kek.json", "hmac.key", "audit_ed25519.key", "audit_ed25519.pub"):
        assert name in script
    (container,) = pod["containers"]
    gateway_mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert "keys-secret" not in gateway_mounts and not gateway_mounts["keys"].get("readOnly")
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert gateway_mounts["keys"]["mountPath"] == env["GATEWAY_KEYS_DIR"] == init_mounts["keys"]["mountPath"]


def test_when_the_network_policy_is_read_then_egress_is_denied_but_for_the_database_and_dns() -> None:
    (policy,) = by_kind("NetworkPolicy")
    assert "Egress" in policy["spec"]["policyTypes"]
    ports = {p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]}
    assert ports == {5432, 53}


def test_when_the_configmap_and_secret_are_read_then_they_carry_the_policy_files_and_the_keys() -> None:
    (config,) = by_kind("ConfigMap")
    assert set(config["data"]) == {p.name for p in POLICY.iterdir() if p.is_file()}
    keys = next(s for s in by_kind("Secret") if s["metadata"]["name"] == "gateway-keys")
    assert {"kek.json", "audit_ed25519.key", "audit_ed25519.pub", "hmac.key"} <= set(keys["stringData"])


def test_when_the_autoscaler_is_read_then_it_scales_the_gateway_deployment() -> None:
    (hpa,) = by_kind("HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == by_kind("Deployment")[0]["metadata"]["name"]
    assert hpa["spec"]["minReplicas"] >= 2


def test_when_the_compose_file_is_read_then_two_replicas_share_postgres_on_an_internal_network() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    replicas = [n for n, s in services.items() if "GATEWAY_DATABASE_URL" in s.get("environment", {})]
    assert len(replicas) >= 2 and "postgres" in services
    for name in replicas:
        assert services[name]["environment"]["GATEWAY_DATABASE_URL"].startswith("postgresql://")
    assert compose["networks"]["backend"]["internal"] is True


def test_when_the_compose_file_publishes_a_port_then_that_service_is_on_a_network_that_is_not_internal() -> None:
    # operator16: Docker publishes no port of a container attached only to an internal network.
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    networks = compose["networks"]
    published = {name: s for name, s in compose["services"].items() if s.get("ports")}
    assert published
    for name, service in published.items():
        assert any(not (networks[n] or {}).get("internal") for n in service["networks"]), name


def test_when_the_dockerfile_is_read_then_it_runs_offline_as_non_root() -> None:
    parser = DockerfileParser(path=str(DEPLOY / "Dockerfile"))
    users = [i["value"] for i in parser.structure if i["instruction"] == "USER"]
    assert users and not users[-1].startswith(("0", "root"))
    env = parser.envs
    assert env["HF_HUB_OFFLINE"] == "1" and env["TRANSFORMERS_OFFLINE"] == "1"
    assert any("spacy-model.txt" in i["value"] for i in parser.structure if i["instruction"] == "RUN")


def test_when_the_deployment_is_read_then_metrics_need_a_token_from_a_secret_generated_at_install() -> None:
    # fixes18b: the manifests left /metrics (tenant and collection names in its labels) open to anything that
    # reached port 8080, since GATEWAY_METRICS_TOKEN was unset. The token comes from a required Secret that is not
    # shipped (a value written in the repository would be known to all): no Secret, no pod, never an open /metrics.
    (deployment,) = by_kind("Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    ref = env["GATEWAY_METRICS_TOKEN"]["valueFrom"]["secretKeyRef"]
    assert "value" not in env["GATEWAY_METRICS_TOKEN"] and ref.get("optional") is False
    assert not [s for s in by_kind("Secret") if s["metadata"]["name"] == ref["name"]]
    assert f"kubectl create secret generic {ref['name']} --from-literal={ref['key']}=" in (
        Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()
