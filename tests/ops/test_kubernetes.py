"""deploy/kubernetes: schema-valid (kubernetes-validate, strict), and consistent with the bridge.

What a schema cannot see: labels and names line up across objects, the probes are native gRPC on
the served port, and the termination grace covers preStop plus the bridge's shutdown grace.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "kubernetes"
VALIDATE = Path(sys.executable).parent / "kubernetes-validate"
MANIFESTS = sorted(p for p in DEPLOY.glob("*.yaml") if p.name != "kustomization.yaml")
LABELS = {"app.kubernetes.io/name": "avatar-bridge"}


def load() -> dict[str, dict[str, Any]]:
    objects: dict[str, dict[str, Any]] = {}
    for path in MANIFESTS:
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            objects[doc["kind"]] = doc
    return objects


def validate(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VALIDATE), "--strict", "--quiet", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.skipif(not VALIDATE.exists(), reason=f"no kubernetes-validate at {VALIDATE}")
def test_manifests_are_schema_valid_and_a_typo_is_caught(tmp_path: Path) -> None:
    result = validate(*MANIFESTS)
    assert result.returncode == 0, result.stdout + result.stderr
    typo = tmp_path / "deployment.yaml"
    text = (DEPLOY / "deployment.yaml").read_text(encoding="utf-8")
    typo.write_text(text.replace("readinessProbe:", "readinesProbe:"), encoding="utf-8")
    assert validate(typo).returncode != 0


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text(encoding="utf-8"))
    assert sorted(kustomization["resources"]) == sorted(p.name for p in MANIFESTS)


def test_objects_line_up() -> None:
    objects = load()
    assert set(objects) == {
        "ConfigMap",
        "Secret",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "NetworkPolicy",
    }
    deployment = objects["Deployment"]
    pod = deployment["spec"]["template"]
    assert deployment["spec"]["selector"]["matchLabels"] == LABELS
    assert pod["metadata"]["labels"] == LABELS
    assert objects["Service"]["spec"]["selector"] == LABELS
    assert objects["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"] == LABELS
    assert objects["NetworkPolicy"]["spec"]["podSelector"]["matchLabels"] == LABELS
    assert objects["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["name"] == "avatar-bridge"
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0

    container = pod["spec"]["containers"][0]
    env_from = {ref["configMapRef"]["name"] for ref in container["envFrom"]}
    assert env_from == {objects["ConfigMap"]["metadata"]["name"]}
    (key,) = container["env"]
    assert key["name"] == "LIVEAVATAR_API_KEY"
    assert key["valueFrom"]["secretKeyRef"]["name"] == objects["Secret"]["metadata"]["name"]
    assert "LIVEAVATAR_API_KEY" not in objects["ConfigMap"]["data"]
    assert pod["spec"]["securityContext"]["runAsUser"] == 10001  # the image's USER


def test_probes_are_native_grpc_on_the_listen_port() -> None:
    objects = load()
    container = objects["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    listen_port = int(objects["ConfigMap"]["data"]["AVATAR_BRIDGE_LISTEN"].rsplit(":", 1)[1])
    assert container["ports"][0]["containerPort"] == listen_port
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["grpc"]["port"] == listen_port, probe
    assert container["readinessProbe"]["grpc"]["service"] == "avatarbridge.v1.AvatarBridgeService"


def test_termination_grace_covers_prestop_and_shutdown_grace() -> None:
    objects = load()
    spec = objects["Deployment"]["spec"]["template"]["spec"]
    pre_stop = spec["containers"][0]["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    data = objects["ConfigMap"]["data"]
    # The drain (when configured) and the shutdown grace both run after SIGTERM.
    after_sigterm = float(data["AVATAR_BRIDGE_SHUTDOWN_GRACE_S"]) + float(
        data.get("AVATAR_BRIDGE_DRAIN_S", "0")
    )
    needed = float(pre_stop[1]) + after_sigterm
    grace = spec["terminationGracePeriodSeconds"]
    assert needed < grace <= needed + 30, (needed, grace)
