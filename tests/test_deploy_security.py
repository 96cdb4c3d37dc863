"""The deployment's security settings in deploy/: the restricted Pod Security Standard for every component (the
manifests, the run pods as dagster-k8s builds them, and the Helm values, which checkov cannot render without the
chart), a NetworkPolicy for every pod, the receiver's disruption budget, and the compose defaults (local-only
ports, the Docker socket and the API credentials only where needed, the migration first).

checkov (scripts/test) checks the manifests and the Dockerfile themselves; these tests check what it cannot see."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes.client import ApiClient
from pydantic import AliasChoices

from ctfluent_dagster.webhooks.settings import WebhookSettings

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
HELM_RELEASE = "dagster"
# The Helm chart's DAGSTER_HOME (`global.dagsterHome`, also dagster-k8s's default): where the instance file is mounted.
CHART_DAGSTER_HOME = "/opt/dagster/dagster_home"
# The labels the Dagster chart gives its pods (templates/deployment-webserver.yaml, deployment-daemon.yaml and the
# user deployments' subchart, deployment-user.yaml: selector labels plus `component`, and `deployment` for the
# user deployments).
CHART_WEBSERVER_LABELS = {
    "app.kubernetes.io/name": "dagster",
    "app.kubernetes.io/instance": HELM_RELEASE,
    "component": "dagster-webserver",
}
CHART_DAEMON_LABELS = {
    "app.kubernetes.io/name": "dagster",
    "app.kubernetes.io/instance": HELM_RELEASE,
    "component": "dagster-daemon",
    "deployment": "daemon",
}


def chart_code_location_labels(name: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "dagster-user-deployments",
        "app.kubernetes.io/instance": HELM_RELEASE,
        "component": "user-deployments",
        "deployment": name,
    }


def load_all(filename: str) -> list[dict[str, Any]]:
    return [document for document in yaml.safe_load_all((DEPLOY / filename).read_text()) if document]


def manifest(filename: str, kind: str, name: str) -> dict[str, Any]:
    (found,) = [d for d in load_all(filename) if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def helm_values() -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load((DEPLOY / "helm-values.yaml").read_text())
    return values


# -- The restricted Pod Security Standard ---------------------------------------------------------------------------


def restricted_violations(
    pod: dict[str, Any], *, token_allowed: bool = False, dagster_home: str | None = None
) -> list[str]:
    """What keeps a pod spec (camelCase, as applied) from the restricted Pod Security Standard, with a read-only root
    filesystem whose writable paths (/tmp, and DAGSTER_HOME for Dagster's processes) are emptyDir volumes, and no
    service account token unless ``token_allowed``."""
    violations = []
    pod_context = pod.get("securityContext") or {}
    if pod_context.get("runAsNonRoot") is not True:
        violations.append("pod securityContext.runAsNonRoot is not true")
    if not pod_context.get("runAsUser"):
        violations.append("pod securityContext.runAsUser is not a non-root user id")
    if (pod_context.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
        violations.append("pod securityContext.seccompProfile.type is not RuntimeDefault")
    if not token_allowed and pod.get("automountServiceAccountToken") is not False:
        violations.append("automountServiceAccountToken is not false")
    volumes = {volume["name"]: volume for volume in pod.get("volumes") or []}
    violations += [f"volume {name} is a hostPath" for name, volume in volumes.items() if "hostPath" in volume]
    for container in [*(pod.get("initContainers") or []), *pod["containers"]]:
        name = container["name"]
        context = container.get("securityContext") or {}
        if context.get("allowPrivilegeEscalation") is not False:
            violations.append(f"{name}: allowPrivilegeEscalation is not false")
        if context.get("privileged"):
            violations.append(f"{name}: privileged")
        if "ALL" not in ((context.get("capabilities") or {}).get("drop") or []):
            violations.append(f"{name}: capabilities.drop does not hold ALL")
        if (context.get("capabilities") or {}).get("add"):
            violations.append(f"{name}: capabilities.add")
        if context.get("runAsUser") == 0 or context.get("runAsNonRoot") is False:
            violations.append(f"{name}: runs as root")
        if context.get("readOnlyRootFilesystem") is not True:
            violations.append(f"{name}: readOnlyRootFilesystem is not true")
        mounts = {mount["mountPath"]: mount["name"] for mount in container.get("volumeMounts") or []}
        for path in ["/tmp", *([dagster_home] if dagster_home else [])]:
            if "emptyDir" not in volumes.get(mounts.get(path, ""), {}):
                violations.append(f"{name}: {path} is not an emptyDir volume (the root filesystem is read-only)")
    return violations


def test_the_restricted_check_finds_each_missing_key() -> None:
    """The check above, on a pod that meets it and then lacks each key in turn."""
    pod = manifest("k8s-env.yaml", "Deployment", "ctfluent-webhooks")["spec"]["template"]["spec"]
    assert restricted_violations(pod) == []
    breaks = {
        "runAsNonRoot": lambda p: p["securityContext"].pop("runAsNonRoot"),
        "runAsUser": lambda p: p["securityContext"].pop("runAsUser"),
        "seccompProfile": lambda p: p["securityContext"].pop("seccompProfile"),
        "automountServiceAccountToken": lambda p: p.pop("automountServiceAccountToken"),
        "allowPrivilegeEscalation": lambda p: p["containers"][0]["securityContext"].pop("allowPrivilegeEscalation"),
        "capabilities.drop": lambda p: p["containers"][0]["securityContext"].pop("capabilities"),
        "readOnlyRootFilesystem": lambda p: p["containers"][0]["securityContext"].pop("readOnlyRootFilesystem"),
        "/tmp": lambda p: p["volumes"].pop(),
        "hostPath": lambda p: p["volumes"].append({"name": "h", "hostPath": {"path": "/"}}),
    }
    for key, breaking in breaks.items():
        broken = copy.deepcopy(pod)
        breaking(broken)
        assert restricted_violations(broken), key


@pytest.mark.parametrize(
    ("filename", "kind", "name"),
    [("k8s-env.yaml", "Deployment", "ctfluent-webhooks"), ("k8s-migrate.yaml", "Job", "ctfluent-migrate")],
)
def test_the_manifests_pods_are_restricted(filename: str, kind: str, name: str) -> None:
    pod = manifest(filename, kind, name)["spec"]["template"]["spec"]
    assert restricted_violations(pod) == []


def run_pod(
    launcher: dict[str, Any],
    code_location_context: dict[str, Any] | None = None,
    dagster_home: str = CHART_DAGSTER_HOME,
) -> dict[str, Any]:
    """A run pod's template (metadata and spec, camelCase), as dagster-k8s builds it: the K8sRunLauncher config
    (snake_case, as in dagster.yaml) merged with the code location's container context, as
    K8sContainerContext.create_for_run does."""
    from dagster_k8s.container_context import K8sContainerContext
    from dagster_k8s.job import DagsterK8sJobConfig, UserDefinedDagsterK8sConfig, construct_dagster_k8s_job

    keys = ("env_config_maps", "env_secrets", "env_vars", "volume_mounts", "volumes", "labels", "security_context")
    context = K8sContainerContext(
        **{key: launcher[key] for key in keys if key in launcher},
        run_k8s_config=UserDefinedDagsterK8sConfig.from_dict(launcher.get("run_k8s_config") or {}),
    )
    if code_location_context:
        context = context.merge(K8sContainerContext.create_from_config(code_location_context))
    job_config = DagsterK8sJobConfig(
        job_image="registry.example.com/ctfluent-dagster:0.1.0",
        dagster_home=dagster_home,
        instance_config_map="dagster-instance",
        postgres_password_secret="dagster-postgresql-secret",
    )
    job = construct_dagster_k8s_job(
        job_config,
        args=["dagster", "api", "execute_run"],
        job_name="dagster-run-1",
        user_defined_k8s_config=context.run_k8s_config,
        component="run_worker",
        labels={"dagster/job": "customers_sync", "dagster/run-id": "1", "dagster/code-location": "ctfluent_dagster"},
    )
    template: dict[str, Any] = ApiClient().sanitize_for_serialization(job)["spec"]["template"]
    return template


def helm_run_launcher_config(values: dict[str, Any]) -> dict[str, Any]:
    """The K8sRunLauncher config the chart renders from runLauncher.config.k8sRunLauncher
    (templates/helpers/instance/_run-launcher.tpl)."""
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    run_k8s_config = launcher.get("runK8sConfig") or {}
    keys = {
        "containerConfig": "container_config",
        "podSpecConfig": "pod_spec_config",
        "podTemplateSpecMetadata": "pod_template_spec_metadata",
        "jobSpecConfig": "job_spec_config",
        "jobMetadata": "job_metadata",
    }
    return {
        "env_config_maps": [c["name"] for c in launcher.get("envConfigMaps", [])],
        "env_secrets": [s["name"] for s in launcher.get("envSecrets", [])],
        "env_vars": launcher.get("envVars", []),
        "volume_mounts": launcher.get("volumeMounts", []),
        "volumes": launcher.get("volumes", []),
        "labels": launcher.get("labels", {}),
        "security_context": launcher.get("securityContext", {}),
        "run_k8s_config": {keys[key]: value for key, value in run_k8s_config.items()},
    }


def helm_code_location_context(deployment: dict[str, Any]) -> dict[str, Any] | None:
    """The container context the chart gives the code location's runs when includeConfigInLaunchedRuns is on
    (charts/dagster-user-deployments/templates/helpers/_helpers.tpl, dagsterUserDeployments.k8sContainerContext)."""
    if not (deployment.get("includeConfigInLaunchedRuns") or {"enabled": True})["enabled"]:
        return None
    return {
        "k8s": {
            "image_pull_policy": deployment["image"]["pullPolicy"],
            "env_config_maps": [
                f"{HELM_RELEASE}-{deployment['name']}-user-env",
                *(c["name"] for c in deployment.get("envConfigMaps", [])),
            ],
            "env_secrets": [s["name"] for s in deployment.get("envSecrets", [])],
            "volume_mounts": deployment.get("volumeMounts", []),
            "volumes": deployment.get("volumes", []),
            "namespace": "ctfluent",
            "service_account_name": f"{HELM_RELEASE}-dagster-user-deployments-user-deployments",
            "env": deployment.get("env", []),
        }
    }


def helm_run_pod(values: dict[str, Any]) -> dict[str, Any]:
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    return run_pod(helm_run_launcher_config(values), helm_code_location_context(deployment))


def dagster_yaml_run_pod() -> dict[str, Any]:
    launcher = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())["run_launcher"]["config"]
    return run_pod(launcher, dagster_home=launcher.get("dagster_home", CHART_DAGSTER_HOME))


def _check_run_pod(template: dict[str, Any]) -> None:
    pod = template["spec"]
    (container,) = pod["containers"]
    home = {e["name"]: e.get("value") for e in container["env"]}["DAGSTER_HOME"]
    assert restricted_violations(pod, dagster_home=home) == []
    # One volume of each name (the launcher's and the code location's merge into one), one mount per path.
    names = [volume["name"] for volume in pod["volumes"]]
    assert len(names) == len(set(names)), names
    paths = [mount["mountPath"] for mount in container["volumeMounts"]]
    assert len(paths) == len(set(paths)), paths


def test_kubernetes_run_pods_are_restricted() -> None:
    """deploy/dagster.yaml's K8sRunLauncher: the run pod dagster-k8s builds from it."""
    _check_run_pod(dagster_yaml_run_pod())


def test_helm_run_pods_are_restricted() -> None:
    """The Helm values' K8sRunLauncher, merged with the code location's config as the chart passes it to its runs."""
    _check_run_pod(helm_run_pod(helm_values()))


def helm_component_pods(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The pod spec keys the chart takes from the values of each long-running component (podSecurityContext,
    securityContext, volumes, volumeMounts), as a pod spec."""
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    components = {
        "code location": deployment,
        "webserver": values["dagsterWebserver"],
        "daemon": values["dagsterDaemon"],
    }
    return {
        name: {
            "securityContext": component.get("podSecurityContext"),
            "volumes": component.get("volumes"),
            "containers": [
                {
                    "name": name,
                    "securityContext": component.get("securityContext"),
                    "volumeMounts": component.get("volumeMounts"),
                }
            ],
        }
        for name, component in components.items()
    }


def helm_violations(values: dict[str, Any]) -> dict[str, list[str]]:
    """Each component's violations: the chart hard-codes a service account token for the webserver and the user
    deployment (and the daemon needs the API), so the code location's service account must have no role instead."""
    violations = {
        name: restricted_violations(pod, token_allowed=True, dagster_home=CHART_DAGSTER_HOME)
        for name, pod in helm_component_pods(values).items()
    }
    if values["dagster-user-deployments"].get("rbacEnabled", True) is not False:
        violations["code location"].append("dagster-user-deployments.rbacEnabled is not false")
    run_pod_template = helm_run_pod(values)
    violations["run pods"] = restricted_violations(run_pod_template["spec"], dagster_home=CHART_DAGSTER_HOME)
    return violations


def test_the_helm_values_make_every_component_restricted() -> None:
    values = helm_values()
    assert helm_violations(values) == {"code location": [], "webserver": [], "daemon": [], "run pods": []}
    # The same image everywhere: the one with the non-root user and the hashed lock.
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    assert values["dagsterWebserver"]["image"] == values["dagsterDaemon"]["image"] == deployment["image"]
    # A non-root process without capabilities cannot bind port 80 everywhere: the webserver listens above 1024, and
    # its readiness probe asks there.
    port = values["dagsterWebserver"]["service"]["port"]
    assert port > 1024
    assert values["dagsterWebserver"]["readinessProbe"]["httpGet"]["port"] == port


HELM_SECURITY_PATHS = [
    ("dagsterWebserver", "podSecurityContext", "runAsNonRoot"),
    ("dagsterWebserver", "podSecurityContext", "seccompProfile"),
    ("dagsterWebserver", "securityContext", "readOnlyRootFilesystem"),
    ("dagsterWebserver", "securityContext", "capabilities"),
    ("dagsterWebserver", "securityContext", "allowPrivilegeEscalation"),
    ("dagsterDaemon", "podSecurityContext", "runAsUser"),
    ("dagsterDaemon", "securityContext", "readOnlyRootFilesystem"),
    ("dagsterDaemon", "volumes"),
    ("dagster-user-deployments", "deployments", 0, "podSecurityContext", "runAsNonRoot"),
    ("dagster-user-deployments", "deployments", 0, "securityContext", "readOnlyRootFilesystem"),
    ("dagster-user-deployments", "deployments", 0, "volumeMounts"),
    ("dagster-user-deployments", "rbacEnabled"),
    ("runLauncher", "config", "k8sRunLauncher", "securityContext"),
    ("runLauncher", "config", "k8sRunLauncher", "runK8sConfig", "podSpecConfig", "securityContext", "seccompProfile"),
    ("runLauncher", "config", "k8sRunLauncher", "runK8sConfig", "podSpecConfig", "automountServiceAccountToken"),
]


class _NoAliases(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


@pytest.mark.parametrize("path", HELM_SECURITY_PATHS, ids=lambda path: ".".join(map(str, path)))
def test_removing_a_security_key_from_the_helm_values_is_caught(path: tuple[str | int, ...]) -> None:
    # The values without the YAML anchors' sharing (one mapping in several components): the key goes from one only.
    values = yaml.safe_load(yaml.dump(helm_values(), Dumper=_NoAliases))
    parent: Any = values
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    assert any(helm_violations(values).values()), path


# -- NetworkPolicies and the disruption budget ----------------------------------------------------------------------


def network_policies() -> list[dict[str, Any]]:
    return [d for d in load_all("k8s-network.yaml") if d["kind"] == "NetworkPolicy"]


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, selector  # matchExpressions are not used here
    return selector.get("matchLabels", {}).items() <= labels.items()


def policies_for(labels: dict[str, str]) -> list[dict[str, Any]]:
    return [p for p in network_policies() if selects(p["spec"]["podSelector"], labels)]


def template_labels(filename: str, kind: str, name: str) -> dict[str, str]:
    labels: dict[str, str] = manifest(filename, kind, name)["spec"]["template"]["metadata"]["labels"]
    return labels


def pod_labels() -> dict[str, dict[str, str]]:
    values = helm_values()
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    return {
        "code location": chart_code_location_labels(deployment["name"]),
        "run pods (Helm)": helm_run_pod(values)["metadata"]["labels"],
        "run pods (dagster.yaml)": dagster_yaml_run_pod()["metadata"]["labels"],
        "receiver": template_labels("k8s-env.yaml", "Deployment", "ctfluent-webhooks"),
        "migration": template_labels("k8s-migrate.yaml", "Job", "ctfluent-migrate"),
    }


def test_every_component_has_a_network_policy_for_ingress_and_egress() -> None:
    for component, labels in pod_labels().items():
        policies = policies_for(labels)
        assert len(policies) == 1, (component, labels, [p["metadata"]["name"] for p in policies])
        (policy,) = policies
        assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"], component
        egress = policy["spec"]["egress"]
        # DNS, then PostgreSQL; no rule without ports (that would open every port).
        assert all(rule.get("ports") for rule in egress), component
        assert {port["port"] for rule in egress for port in rule["ports"]} >= {53, 5432}, component
    # The Dagster webserver and daemon are the chart's, not selected by these policies.
    assert not policies_for(CHART_WEBSERVER_LABELS)
    assert not policies_for(CHART_DAEMON_LABELS)


def _ingress_sources(policy: dict[str, Any]) -> list[tuple[dict[str, Any], set[int]]]:
    return [
        (source, {port["port"] for port in rule["ports"]})
        for rule in policy["spec"].get("ingress") or []
        for source in rule["from"]
    ]


def test_the_network_policies_let_through_exactly_the_calls_the_components_make() -> None:
    values = helm_values()
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    labels = pod_labels()
    (code_location,) = policies_for(labels["code location"])
    # The code location: its gRPC port, from the webserver and the daemon.
    sources = _ingress_sources(code_location)
    assert {frozenset(ports) for _, ports in sources} == {frozenset({deployment["port"]})}
    assert any(selects(s["podSelector"], CHART_WEBSERVER_LABELS) for s, _ in sources)
    assert any(selects(s["podSelector"], CHART_DAEMON_LABELS) for s, _ in sources)
    assert {port["port"] for rule in code_location["spec"]["egress"] for port in rule["ports"]} == {53, 5432, 443}
    # Nothing calls a run pod or the migration.
    for component in ("run pods (Helm)", "run pods (dagster.yaml)", "migration"):
        (policy,) = policies_for(labels[component])
        assert not policy["spec"]["ingress"], component
    # The receiver: its container port, from the ingress controller's namespace only; out to the webserver's port.
    (receiver,) = policies_for(labels["receiver"])
    container = manifest("k8s-env.yaml", "Deployment", "ctfluent-webhooks")["spec"]["template"]["spec"]["containers"][0]
    ((source, ports),) = _ingress_sources(receiver)
    assert ports == {container["ports"][0]["containerPort"]}
    assert set(source) == {"namespaceSelector"}
    in_namespace = [r for r in receiver["spec"]["egress"] if any(set(t) == {"podSelector"} for t in r.get("to", []))]
    (webserver_rule,) = in_namespace
    assert selects(webserver_rule["to"][0]["podSelector"], CHART_WEBSERVER_LABELS)
    assert [p["port"] for p in webserver_rule["ports"]] == [values["dagsterWebserver"]["service"]["port"]]
    assert 443 not in {port["port"] for rule in receiver["spec"]["egress"] for port in rule["ports"]}


def test_the_receiver_keeps_a_replica_through_disruptions() -> None:
    deployment = manifest("k8s-env.yaml", "Deployment", "ctfluent-webhooks")
    budget = manifest("k8s-env.yaml", "PodDisruptionBudget", "ctfluent-webhooks")
    assert selects(budget["spec"]["selector"], deployment["spec"]["template"]["metadata"]["labels"])
    assert budget["spec"]["minAvailable"] >= 1
    assert deployment["spec"]["replicas"] > budget["spec"]["minAvailable"]


# -- What the webhook receiver and the migration get ----------------------------------------------------------------

# Never for the receiver: the API clients' secrets and Dagster's database password. (It gets the ledger URL, which
# carries the ledger database's password: it writes events there.)
NOT_FOR_THE_RECEIVER = re.compile(
    r"^(CTP_.*|FLUENT_(PASSWORD|USERNAME|CLIENT_ID|CLIENT_SECRET)|AWS_.*|DAGSTER_PG_PASSWORD)$"
)
# Given on its command line (--host, --port) in every deployment.
RECEIVER_COMMAND_LINE = {"CTFLUENT_WEBHOOKS__HOST", "CTFLUENT_WEBHOOKS__PORT"}
# For the sandbox only: it relaxes what the receiver requires (any account, a local ledger). Never deployed.
RECEIVER_LOCAL_ONLY = {"CTFLUENT_WEBHOOKS__LOCAL"}
# What the receiver reads besides its own settings: the Fluent account and retailer of the events, and the settings
# file (the retailers it serves).
RECEIVER_SHARED = {"FLUENT_HOST", "FLUENT_ACCOUNT_ID", "FLUENT_RETAILER_ID", "CTFLUENT_SETTINGS_FILE"}


def receiver_variables() -> set[str]:
    """Every environment variable ctfluent-webhooks' settings read (their aliases, else prefix and field name)."""
    prefix = WebhookSettings.model_config.get("env_prefix", "")
    names: set[str] = set()
    for name, field in WebhookSettings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, str):
            names.add(alias.upper())
        elif isinstance(alias, AliasChoices):
            names.update(choice.upper() for choice in alias.choices if isinstance(choice, str))
        else:
            names.add(f"{prefix}{name}".upper())
    return names


def _check_receiver_environment(names: set[str], where: str) -> None:
    needed = receiver_variables() - RECEIVER_COMMAND_LINE - RECEIVER_LOCAL_ONLY
    assert {"FLUENT_WEBHOOK_PUBLIC_KEYS", "CTFLUENT_LEDGER_URL", "CTFLUENT_WEBHOOKS__PATH"} <= needed  # read
    assert sorted(needed - names) == [], f"{where}: the receiver reads these, and does not get them"
    assert sorted(n for n in names if NOT_FOR_THE_RECEIVER.match(n)) == [], f"{where}: secrets it must not get"
    assert not names & RECEIVER_LOCAL_ONLY, f"{where}: the sandbox's relaxations"
    assert sorted(names - needed - RECEIVER_SHARED) == [], f"{where}: variables the receiver does not read"


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((DEPLOY / "docker-compose.yaml").read_text())
    return document


def test_the_compose_receiver_gets_only_its_own_variables() -> None:
    service = compose()["services"]["webhooks"]
    assert "env_file" not in service  # not ../.env and its API credentials
    _check_receiver_environment(set(service["environment"]), "docker-compose.yaml webhooks")
    with pytest.raises(AssertionError, match="secrets it must not get"):
        _check_receiver_environment(set(service["environment"]) | {"FLUENT_PASSWORD"}, "a broken one")
    with pytest.raises(AssertionError, match="does not get them"):
        _check_receiver_environment(set(service["environment"]) - {"CTFLUENT_LEDGER_URL"}, "a broken one")


def test_the_kubernetes_receiver_gets_only_its_own_variables() -> None:
    manifests = {(d["kind"], d["metadata"]["name"]): d for d in load_all("k8s-env.yaml")}
    (container,) = manifests["Deployment", "ctfluent-webhooks"]["spec"]["template"]["spec"]["containers"]
    names = {item["name"] for item in container["env"]}
    for source in container.get("envFrom", []):
        assert "secretRef" not in source, "a whole Secret: it holds the API credentials"
        config_map = manifests["ConfigMap", source["configMapRef"]["name"]]
        names |= set(config_map["data"])
    _check_receiver_environment(names, "k8s-env.yaml ctfluent-webhooks")
    # Its secrets come from Secrets, by key.
    for item in container["env"]:
        if item["name"] in {"CTFLUENT_LEDGER_URL", "CTFLUENT_WEBHOOKS__DAGSTER_HEADERS"}:
            assert "secretKeyRef" in item["valueFrom"], item["name"]


def test_the_migration_gets_the_ledger_url_only() -> None:
    service = compose()["services"]["migrate"]
    assert service["command"] == ["ctfluent-migrate"]
    assert set(service["environment"]) == {"CTFLUENT_LEDGER_URL"}
    assert "env_file" not in service and "volumes" not in service
    (container,) = manifest("k8s-migrate.yaml", "Job", "ctfluent-migrate")["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["ctfluent-migrate"]
    assert [item["name"] for item in container["env"]] == ["CTFLUENT_LEDGER_URL"]
    assert "envFrom" not in container


# -- Compose defaults ------------------------------------------------------------------------------------------------


def interpolate_defaults(text: str) -> str:
    """Compose's interpolation with nothing set: ``${VAR:-default}`` -> default, ``${VAR}`` -> ''."""
    return re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*(?::?-([^}]*))?\}", lambda m: m[1] or "", text)


def published_addresses(service: dict[str, Any]) -> list[str]:
    """The host address of each published port (short syntax ``[address:]host:container``)."""
    addresses = []
    for port in service.get("ports", []):
        parts = interpolate_defaults(str(port)).split(":")
        addresses.append(parts[0] if len(parts) == 3 else "0.0.0.0")
    return addresses


def test_compose_publishes_the_ui_and_the_receiver_on_localhost_only() -> None:
    services = compose()["services"]
    assert published_addresses(services["webserver"]) == ["127.0.0.1"]
    assert published_addresses(services["webhooks"]) == ["127.0.0.1"]
    assert [a for s in services.values() for a in published_addresses(s) if a != "127.0.0.1"] == []
    assert published_addresses({"ports": ["3000:3000"]}) == ["0.0.0.0"]
    assert published_addresses({"ports": ["${X:-0.0.0.0}:3000:3000"]}) == ["0.0.0.0"]


DOCKER_SOCKET = "/var/run/docker.sock"
# The services that drive run containers: the daemon launches and monitors them, the webserver terminates them.
DRIVE_RUN_CONTAINERS = {"daemon", "webserver"}


def test_compose_gives_the_docker_socket_only_to_the_services_that_drive_run_containers() -> None:
    services = compose()["services"]
    with_socket = {
        name for name, s in services.items() if any(str(v).split(":")[0] == DOCKER_SOCKET for v in s.get("volumes", []))
    }
    assert with_socket == DRIVE_RUN_CONTAINERS
    for name in with_socket:
        assert services[name].get("group_add"), f"{name}: the non-root user needs the socket's group"


def test_compose_services_gain_no_privileges_and_get_credentials_only_where_needed() -> None:
    services = compose()["services"]
    ours = {name for name, s in services.items() if s.get("image") == "ctfluent-dagster"}
    assert ours == {"migrate", "code-location", "webserver", "daemon", "webhooks"}
    for name in ours:
        assert services[name].get("cap_drop") == ["ALL"], name
        assert "no-new-privileges:true" in services[name].get("security_opt", []), name
        assert services[name].get("user") in (None, "10001", "10001:10001"), name  # the image's non-root user
    for name in ("migrate", "webhooks"):
        assert services[name]["read_only"] is True and "/tmp" in services[name]["tmpfs"], name
    # ../.env (the API credentials) only where runs need it: the daemon forwards it, the code location's sensors use it.
    assert {name for name in ours if "../.env" in (services[name].get("env_file") or [])} == {"daemon", "code-location"}
    # Every service of the image starts after the ledger's migration succeeded.
    for name in ours - {"migrate"}:
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}, name
    # Run containers (DockerRunLauncher) gain no privileges either.
    kwargs = yaml.safe_load((DEPLOY / "dagster.docker.yaml").read_text())["run_launcher"]["config"]["container_kwargs"]
    assert kwargs["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in kwargs["security_opt"]
