"""deploy/compose: the stack references only files that exist and ports the code serves.

No container engine runs here. What is checked instead:
- every bind-mounted path, the build context and the Dockerfile exist in the repo;
- the otel-llm service's command parses with the real ``otel-llm`` parser, and the
  ports other services use (Prometheus scrape target, the gateway's exporter) are
  the ones it listens on;
- Prometheus' config with the shipped rules passes ``promtool check config`` laid
  out as the container sees it; Grafana's provisioning points at the mounted dashboards;
- ``docker-compose config`` (Debian's docker-compose, which validates against the
  Compose schema without a daemon) accepts the file.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from otel_llm.cli import build_parser

REPO = Path(__file__).resolve().parent.parent
COMPOSE_DIR = REPO / "deploy" / "compose"
COMPOSE = yaml.safe_load((COMPOSE_DIR / "docker-compose.yaml").read_text())
SERVICES = COMPOSE["services"]


def bind_mounts(service: dict) -> list[tuple[Path, str]]:
    out = []
    for volume in service.get("volumes", []):
        source, target, *_ = volume.split(":")
        if source.startswith("."):
            out.append(((COMPOSE_DIR / source).resolve(), target))
    return out


def mount_source(service: str, target: str) -> Path:
    for source, mounted_at in bind_mounts(SERVICES[service]):
        if mounted_at == target:
            return source
    raise AssertionError(f"{service} mounts nothing at {target}")


def collector_ports() -> dict[str, int]:
    ports = {}
    for arg in SERVICES["otel-llm"]["command"]:
        match = re.match(r"--([\w.]+)\.listen-address=0\.0\.0\.0:(\d+)$", arg)
        if match:
            ports[match.group(1)] = int(match.group(2))
    return ports


def test_the_stack_has_every_component():
    assert {"otelcol", "otel-llm", "prometheus", "alertmanager", "grafana"} <= SERVICES.keys()
    assert "contrib" in SERVICES["otelcol"]["image"]
    for name, service in SERVICES.items():
        image = service.get("image", "")
        assert re.search(r":[\w.-]+$", image) and not image.endswith(":latest"), f"{name}: pin the image tag"


def test_every_mounted_file_and_the_build_exist():
    mounts = 0
    for name, service in SERVICES.items():
        for source, _target in bind_mounts(service):
            mounts += 1
            assert source.exists(), f"{name} mounts {source.relative_to(REPO)}, which does not exist"
            assert REPO in source.parents, f"{name} mounts {source} from outside the repository"
    assert mounts >= 7
    build = SERVICES["otel-llm"]["build"]
    context = (COMPOSE_DIR / build["context"]).resolve()
    assert context == REPO
    assert (context / build["dockerfile"]).is_file()


def test_collector_command_parses_and_its_ports_are_the_ones_used():
    args = build_parser().parse_args(SERVICES["otel-llm"]["command"])  # SystemExit on an unknown flag
    assert args.command == "collector"
    ports = collector_ports()
    assert set(ports.values()) == {4317, 4318, 9464}
    assert {int(p) for p in SERVICES["otel-llm"]["expose"]} == {ports[k] for k in ports if k != "web"}
    assert SERVICES["otel-llm"]["ports"] == [f"{ports['web']}:{ports['web']}"]
    # The gateway exports to the collector's gRPC port.
    endpoint = SERVICES["otelcol"]["environment"]["OTEL_LLM_ENDPOINT"]
    host, port = endpoint.rsplit(":", 1)
    assert host == "otel-llm" and int(port) == ports["grpc"]
    # Prometheus scrapes the collector's metrics port.
    prometheus = yaml.safe_load((COMPOSE_DIR / "prometheus" / "prometheus.yml").read_text())
    job = next(j for j in prometheus["scrape_configs"] if j["job_name"] == "otel-llm")
    assert job["static_configs"][0]["targets"] == [f"otel-llm:{ports['web']}"]


def merged(base: dict, override: dict) -> dict:
    """The Collector's --config merge: maps merge key by key, anything else is replaced."""
    out = dict(base)
    for key, value in override.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def gateway_config() -> tuple[dict, str]:
    configs = [a.split("=", 1)[1] for a in SERVICES["otelcol"]["command"] if a.startswith("--config=")]
    assert configs[0] == "/etc/otelcol/config.yaml"
    texts = [mount_source("otelcol", path).read_text() for path in configs]
    config: dict = {}
    for text in texts:
        config = merged(config, yaml.safe_load(text))
    return config, "\n".join(texts)


def test_demo_profile_runs_the_demo_against_the_gateway():
    demo = SERVICES["demo"]
    assert demo["profiles"] == ["demo"]
    args = build_parser().parse_args(demo["command"])  # SystemExit on an unknown flag
    assert args.command == "demo" and args.headless and args.duration == 0
    host, port = args.otlp_endpoint.removeprefix("http://").rsplit(":", 1)
    assert host == "otelcol" and f"{port}:{port}" in SERVICES["otelcol"]["ports"]
    assert demo["image"] == SERVICES["otel-llm"]["image"]


def test_gateway_config_sends_to_the_endpoint_compose_gives_it():
    from otel_llm.processor.config import ENV_BEARER_TOKEN

    assert mount_source("otelcol", "/etc/otelcol/config.yaml") == REPO / "collector_config" / "gateway.yaml"
    config, text = gateway_config()
    environment = SERVICES["otelcol"]["environment"]
    for name in re.findall(r"\$\{env:(\w+)", text):
        assert name in environment, f"the gateway config reads ${{env:{name}}}, which compose does not set"
    # the receiver's address and token variable are the ones the gateway uses
    exporter = config["exporters"]["otlp/otel_llm"]
    assert "${env:OTEL_LLM_ENDPOINT" in exporter["endpoint"]
    assert environment["OTEL_LLM_ENDPOINT"] == f"otel-llm:{collector_ports()['grpc']}"
    assert f"${{env:{ENV_BEARER_TOKEN}}}" in exporter["headers"]["authorization"]
    assert ENV_BEARER_TOKEN in SERVICES["otel-llm"]["environment"]
    # every pipeline is wired to defined components
    for name, pipeline in config["service"]["pipelines"].items():
        for kind in ("receivers", "processors", "exporters"):
            for component in pipeline.get(kind, []):
                assert component in config[kind], f"pipeline {name} uses undefined {kind[:-1]} {component}"
    assert any("otlp/otel_llm" in p["exporters"] for p in config["service"]["pipelines"].values())
    # inside a container the receivers must listen on all interfaces, on the published ports
    published = {int(p.split(":")[1]) for p in SERVICES["otelcol"]["ports"]}
    listening = {int(v["endpoint"].rsplit(":", 1)[1]) for v in config["receivers"]["otlp"]["protocols"].values()}
    assert published == listening == {4317, 4318}
    for protocol in config["receivers"]["otlp"]["protocols"].values():
        assert protocol["endpoint"].startswith("0.0.0.0:"), protocol
    # Prometheus scrapes the gateway's own metrics where the overrides expose them
    reader = config["service"]["telemetry"]["metrics"]["readers"][0]["pull"]["exporter"]["prometheus"]
    prometheus = yaml.safe_load((COMPOSE_DIR / "prometheus" / "prometheus.yml").read_text())
    job = next(j for j in prometheus["scrape_configs"] if j["job_name"] == "otelcol")
    assert reader["host"] == "0.0.0.0"
    assert job["static_configs"][0]["targets"] == [f"otelcol:{reader['port']}"]


def test_prometheus_loads_the_shipped_rules_and_sends_to_alertmanager():
    prometheus = yaml.safe_load((COMPOSE_DIR / "prometheus" / "prometheus.yml").read_text())
    rules_dir = mount_source("prometheus", "/etc/prometheus/rules")
    assert rules_dir == REPO / "prometheus_rules"
    matched = [p for pattern in prometheus["rule_files"] for p in rules_dir.glob(pattern.removeprefix("rules/"))]
    assert matched, f"rule_files {prometheus['rule_files']} match nothing in prometheus_rules/"
    targets = prometheus["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert targets == ["alertmanager:9093"]
    assert "9093:9093" in SERVICES["alertmanager"]["ports"]


def test_alertmanager_gets_the_shipped_routes_and_a_place_for_its_secrets():
    flag = next(a for a in SERVICES["alertmanager"]["command"] if a.startswith("--config.file="))
    config_path = mount_source("alertmanager", flag.split("=", 1)[1])
    assert config_path == REPO / "deploy" / "alertmanager" / "alertmanager.yml"
    text = config_path.read_text()
    assert "route" in yaml.safe_load(text)
    secret_files = re.findall(r"_file:\s*(/\S+)", text)
    assert secret_files, "the shipped routes read their secrets from files"
    for path in secret_files:
        directory = str(Path(path).parent)
        source = mount_source("alertmanager", directory)
        assert source.is_dir() and (source / "README.md").is_file(), f"{path}: mount a directory at {directory}"


def test_grafana_provisions_the_datasource_and_every_dashboard():
    provisioning = mount_source("grafana", "/etc/grafana/provisioning")
    datasources = yaml.safe_load((provisioning / "datasources" / "prometheus.yaml").read_text())["datasources"]
    prometheus = next(d for d in datasources if d["type"] == "prometheus")
    assert prometheus["url"] == "http://prometheus:9090" and prometheus["isDefault"] is True
    assert prometheus["jsonData"]["timeInterval"] == yaml.safe_load(
        (COMPOSE_DIR / "prometheus" / "prometheus.yml").read_text())["global"]["scrape_interval"]
    providers = yaml.safe_load((provisioning / "dashboards" / "otel-llm.yaml").read_text())["providers"]
    path = providers[0]["options"]["path"]
    dashboards = mount_source("grafana", path)
    assert dashboards == REPO / "grafana_dashboards"
    assert list(dashboards.glob("*.json")), "grafana_dashboards/ is empty"
    home = SERVICES["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.startswith(path + "/") and (dashboards / home.removeprefix(path + "/")).is_file()


@pytest.mark.servers
def test_promtool_accepts_the_prometheus_config_with_the_shipped_rules(tmp_path):
    promtool = shutil.which("promtool")
    assert promtool, "promtool not on PATH (apt-get install prometheus)"
    shutil.copy(COMPOSE_DIR / "prometheus" / "prometheus.yml", tmp_path / "prometheus.yml")
    shutil.copytree(REPO / "prometheus_rules", tmp_path / "rules")
    result = subprocess.run(
        [promtool, "check", "config", str(tmp_path / "prometheus.yml")],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


@pytest.mark.servers
def test_docker_compose_validates_the_file_against_the_compose_schema():
    docker_compose = shutil.which("docker-compose")
    assert docker_compose, "docker-compose not on PATH (apt-get install docker-compose; it validates offline)"
    result = subprocess.run(
        [docker_compose, "-f", str(COMPOSE_DIR / "docker-compose.yaml"), "config", "-q"],
        capture_output=True, text=True, timeout=60, cwd=COMPOSE_DIR,
    )
    assert result.returncode == 0, result.stdout + result.stderr
