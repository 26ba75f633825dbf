#!/usr/bin/env python3
"""Checks of augmentd's Kubernetes manifests that kubernetes-validate cannot do; run by
scripts/check-k8s.sh on the output of `kubectl kustomize`.

  split RENDERED BUILTIN CUSTOM   built-in kinds (for kubernetes-validate) / custom resources
  crs FILE...                     ServiceMonitor and PrometheusRule documents against the strict
                                  schemas in deploy/k8s/schemas (+ promtool on rule groups)
  policy RENDERED --target T      deployment rules of this repository (security, probes, the
                                  single-writer state volume, Services, HPA, PDB, GPU)
  adapter VALUES                  the prometheus-adapter rules (PromQL parsed by promtool)
  self-test                       proves that typos and wrong types are rejected

Every problem is printed as `FAIL <object>: <what>`; the exit status is 1 when there is one.
"""
import argparse
import copy
import importlib.resources
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import jsonschema
import yaml
from referencing import Registry, Resource

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
SCHEMA_DIR = HERE.parent / "schemas"
SCHEMAS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "servicemonitor.monitoring.coreos.com-v1.yaml",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "prometheusrule.monitoring.coreos.com-v1.yaml",
}
CUSTOM_GROUPS = ("monitoring.coreos.com/",)
GRPC_PORT = 50051
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "Pod")


# ---- helpers ---------------------------------------------------------------------------------

def load_docs(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def dump_docs(docs, path):
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump_all(docs, f, sort_keys=False)


def ident(doc):
    return f"{doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"


class Report:
    """Collects problems; `ok` lines say what was checked."""

    def __init__(self, quiet=False):
        self.problems = []
        self.quiet = quiet

    def fail(self, obj, message):
        self.problems.append(f"{obj}: {message}")
        if not self.quiet:
            print(f"FAIL {obj}: {message}")

    def ok(self, message):
        if not self.quiet:
            print(f"  ok {message}")

    def check(self, condition, obj, message):
        if not condition:
            self.fail(obj, message)
        return bool(condition)


# ---- custom resources against their schemas ----------------------------------------------------

def k8s_definitions(version):
    """Kubernetes' strict definitions shipped with kubernetes-validate for `version`."""
    path = (importlib.resources.files("kubernetes_validate") / "kubernetes-json-schema"
            / f"v{version}-local-strict" / "_definitions.json")
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        sys.exit(f"check_manifests: kubernetes-validate has no schemas for Kubernetes {version}")


def validators(version):
    defs = k8s_definitions(version)
    out = {}
    for key, filename in SCHEMAS.items():
        schema = yaml.safe_load((SCHEMA_DIR / filename).read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        registry = Registry().with_resources([
            (defs["$id"], Resource.from_contents(defs)),
            (schema["$id"], Resource.from_contents(schema)),
        ])
        out[key] = jsonschema.Draft202012Validator(schema, registry=registry)
    return out


def check_cr(doc, schemas, promtool, report):
    key = (doc.get("apiVersion"), doc.get("kind"))
    obj = ident(doc)
    validator = schemas.get(key)
    if validator is None:
        report.fail(obj, f"no schema for {key[0]} {key[1]} in {SCHEMA_DIR.relative_to(ROOT)}")
        return
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    for error in errors:
        where = ".".join(str(p) for p in error.absolute_path) or "(root)"
        report.fail(obj, f"{where}: {error.message[:300]}")
    if errors:
        return
    if key[1] == "PrometheusRule" and promtool:
        groups = (doc.get("spec") or {}).get("groups") or []
        ok, out = promtool_rules({"groups": groups}, promtool)
        if not report.check(ok, obj, f"promtool check rules: {out.strip()}"):
            return
    report.ok(f"{obj} matches the {key[1]} schema" + (" and promtool" if key[1] == "PrometheusRule" and promtool else ""))


def promtool_rules(rules, promtool):
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        yaml.safe_dump(rules, f)
        path = f.name
    try:
        run = subprocess.run([promtool, "check", "rules", path], capture_output=True, text=True)
        return run.returncode == 0, run.stdout + run.stderr
    finally:
        Path(path).unlink()


def is_custom(doc):
    return str(doc.get("apiVersion", "")).startswith(CUSTOM_GROUPS)


# ---- repository policy -------------------------------------------------------------------------

def pod_spec(doc):
    kind = doc.get("kind")
    spec = doc.get("spec") or {}
    if kind == "Pod":
        return spec
    if kind in WORKLOADS:
        return (spec.get("template") or {}).get("spec") or {}
    return None


def pod_labels(doc):
    if doc.get("kind") == "Pod":
        return (doc.get("metadata") or {}).get("labels") or {}
    return (((doc.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {}


def selects(selector, labels):
    """Whether a selector (a Service's plain map, or a LabelSelector) matches `labels`; an empty
    selector counts as matching nothing here (every selector in these manifests is explicit)."""
    if not selector:
        return False
    if "matchLabels" in selector or "matchExpressions" in selector:
        match, expressions = selector.get("matchLabels") or {}, selector.get("matchExpressions") or []
    else:
        match, expressions = selector, []
    if not all(labels.get(k) == v for k, v in match.items()):
        return False
    for expr in expressions:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if (op == "In" and labels.get(key) not in values) or (op == "NotIn" and labels.get(key) in values) \
                or (op == "Exists" and key not in labels) or (op == "DoesNotExist" and key in labels):
            return False
    return True


def env_value(container, name, configmaps):
    for env in container.get("env") or []:
        if env.get("name") == name and "value" in env:
            return env["value"]
    for source in container.get("envFrom") or []:
        ref = (source.get("configMapRef") or {}).get("name")
        if ref in configmaps and name in configmaps[ref]:
            return configmaps[ref][name]
    return None


def flag_value(args, flag):
    for i, arg in enumerate(args):
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
        if arg == flag and i + 1 < len(args):
            return args[i + 1]
    return None


def mount_of(container, path):
    """The mount holding `path` (the longest mountPath prefix), or None."""
    best = None
    for mount in container.get("volumeMounts") or []:
        mp = mount["mountPath"].rstrip("/") or "/"
        if (path == mp or path.startswith(mp + "/")) and (best is None or len(mp) > len(best["mountPath"])):
            best = mount
    return best


def prestop_seconds(container):
    command = (((container.get("lifecycle") or {}).get("preStop") or {}).get("exec") or {}).get("command") or []
    if len(command) == 2 and command[0].endswith("sleep") and command[1].isdigit():
        return int(command[1])
    sleep = (((container.get("lifecycle") or {}).get("preStop") or {}).get("sleep") or {}).get("seconds")
    return int(sleep or 0)


def check_pod_security(doc, report):
    obj, spec = ident(doc), pod_spec(doc)
    psc = spec.get("securityContext") or {}
    good = report.check(psc.get("runAsNonRoot") is True, obj, "securityContext.runAsNonRoot must be true")
    good &= report.check(isinstance(psc.get("runAsUser"), int) and psc["runAsUser"] > 0, obj,
                         "securityContext.runAsUser must be a numeric non-root UID")
    good &= report.check((psc.get("seccompProfile") or {}).get("type") == "RuntimeDefault", obj,
                         "securityContext.seccompProfile.type must be RuntimeDefault")
    good &= report.check(spec.get("automountServiceAccountToken") is False, obj,
                         "automountServiceAccountToken must be false (augmentd needs no API access)")
    volumes = {v["name"]: v for v in spec.get("volumes") or []}
    for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        where = f"{obj} container {c['name']}"
        csc = c.get("securityContext") or {}
        good &= report.check(csc.get("allowPrivilegeEscalation") is False, where, "allowPrivilegeEscalation must be false")
        good &= report.check(csc.get("readOnlyRootFilesystem") is True, where, "readOnlyRootFilesystem must be true")
        good &= report.check("ALL" in ((csc.get("capabilities") or {}).get("drop") or []), where,
                             "capabilities.drop must contain ALL")
        res = c.get("resources") or {}
        for kind in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                good &= report.check(resource in (res.get(kind) or {}), where, f"resources.{kind}.{resource} is missing")
        tmp = mount_of(c, "/tmp")
        good &= report.check(tmp is not None and tmp["mountPath"] == "/tmp"
                             and "emptyDir" in volumes.get(tmp["name"], {}), where,
                             "needs an emptyDir at /tmp (the root filesystem is read-only)")
    if good:
        report.ok(f"{obj}: non-root, read-only root fs, no capabilities, seccomp, resources, /tmp")


def single_writer_state(doc, configmaps, pvcs):
    """(container, PVC name) when the augmentd server of `doc` keeps its state dir on a writable PVC."""
    spec = pod_spec(doc)
    volumes = {v["name"]: v for v in spec.get("volumes") or []}
    for c in spec.get("containers") or []:
        state = env_value(c, "AUGMENTD_STATE_DIR", configmaps) or flag_value(c.get("args") or [], "--state-dir")
        if not state:
            continue
        mount = mount_of(c, state)
        volume = volumes.get(mount["name"]) if mount else None
        claim = (volume or {}).get("persistentVolumeClaim")
        if claim and not mount.get("readOnly") and not claim.get("readOnly"):
            return c, claim["claimName"]
    return None


def check_server(doc, docs, configmaps, pvcs, hpas, target, report):
    """A workload running `augmentd serve`."""
    obj, spec = ident(doc), pod_spec(doc)
    for c in spec.get("containers") or []:
        args = (c.get("command") or []) + (c.get("args") or [])
        if "serve" not in args[:2]:
            continue
        where = f"{obj} container {c['name']}"
        good = True
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            port = ((c.get(probe) or {}).get("grpc") or {}).get("port")
            good &= report.check(port == GRPC_PORT, where, f"{probe} must be a gRPC probe on port {GRPC_PORT}")
        drain = int(env_value(c, "AUGMENTD_DRAIN_TIMEOUT_SECS", configmaps)
                    or flag_value(args, "--drain-timeout-secs") or 30)
        grace = spec.get("terminationGracePeriodSeconds", 30)
        pause = prestop_seconds(c)
        good &= report.check(grace > drain + pause, obj,
                             f"terminationGracePeriodSeconds {grace} must exceed preStop {pause} s + drain timeout {drain} s")
        state = env_value(c, "AUGMENTD_STATE_DIR", configmaps) or flag_value(args, "--state-dir")
        good &= report.check(bool(state) and state.startswith("/") and mount_of(c, state) is not None
                             and not mount_of(c, state).get("readOnly"), where,
                             "AUGMENTD_STATE_DIR must be an absolute path on a writable volume")
        data = env_value(c, "AUGMENTD_DATA_DIR", configmaps) or flag_value(args, "--data-dir")
        if data:
            good &= report.check(mount_of(c, data) is not None, where, f"data dir {data} is not on a volume")
        device = flag_value(args, "--device") or env_value(c, "AUGMENTD_DEVICE", configmaps) or "auto"
        gpus = str(((c.get("resources") or {}).get("limits") or {}).get("nvidia.com/gpu", "0"))
        if device.startswith("cuda") or device == "gpu":
            good &= report.check(gpus not in ("", "0"), where, f"--device={device} needs resources.limits nvidia.com/gpu")
            tolerations = [t.get("key") for t in spec.get("tolerations") or []]
            good &= report.check("nvidia.com/gpu" in tolerations, obj, "a GPU pod needs the nvidia.com/gpu toleration")
        else:
            good &= report.check(gpus in ("", "0"), where, f"a GPU is requested but --device is {device}")
        if good:
            report.ok(f"{where}: gRPC probes on {GRPC_PORT}, grace {grace} s > {pause} s + drain {drain} s, "
                      f"state dir on a volume, device {device}")
    writer = single_writer_state(doc, configmaps, pvcs)
    if writer and doc.get("kind") == "Deployment":
        container, claim = writer
        replicas = doc["spec"].get("replicas", 1)
        strategy = (doc["spec"].get("strategy") or {}).get("type", "RollingUpdate")
        scaled = [ident(h) for h in hpas if h["spec"]["scaleTargetRef"].get("name") == doc["metadata"]["name"]
                  and h["spec"]["scaleTargetRef"].get("kind") == "Deployment"]
        good = report.check(replicas == 1, obj, f"owns the state volume {claim}: replicas must be 1, not {replicas}")
        good &= report.check(strategy == "Recreate", obj,
                             f"owns the state volume {claim}: strategy must be Recreate (one writer at a time)")
        good &= report.check(not scaled, obj, f"owns the state volume {claim}: must not be autoscaled ({scaled})")
        if good:
            report.ok(f"{obj}: single writer of PVC {claim} (replicas 1, Recreate, no HPA)")


def check_services(docs, report):
    workloads = [d for d in docs if d.get("kind") in WORKLOADS and d.get("kind") != "Job"]
    services = [d for d in docs if d.get("kind") == "Service"]
    for svc in services:
        obj, spec = ident(svc), svc["spec"]
        matched = [w for w in workloads if selects(spec.get("selector") or {}, pod_labels(w))]
        if not report.check(matched, obj, "its selector matches no pod template"):
            continue
        names = {p.get("name") for w in matched for c in pod_spec(w).get("containers") or [] for p in c.get("ports") or []}
        good = True
        for port in spec.get("ports") or []:
            target = port.get("targetPort", port.get("port"))
            if isinstance(target, str):
                good &= report.check(target in names, obj, f"targetPort {target} is no container port of {ident(matched[0])}")
            if port.get("port") == GRPC_PORT:
                good &= report.check(bool(port.get("appProtocol")), obj, "the gRPC port needs an appProtocol")
        if good:
            report.ok(f"{obj} selects {', '.join(ident(w) for w in matched)}; ports resolve")


def check_servicemonitors(docs, report):
    services = [d for d in docs if d.get("kind") == "Service"]
    workloads = [d for d in docs if d.get("kind") in WORKLOADS and d.get("kind") != "Job"]
    for sm in (d for d in docs if d.get("kind") == "ServiceMonitor"):
        obj, spec = ident(sm), sm.get("spec") or {}
        good = True
        scraped = {}
        for ep in spec.get("endpoints") or []:
            good &= report.check(ep.get("honorLabels") is not True, obj,
                                 "honorLabels must stay false: the series' own labels (job_id...) are kept as they are")
            for rc in (ep.get("metricRelabelings") or []) + (ep.get("relabelings") or []):
                good &= report.check("job_id" not in json.dumps(rc), obj, "relabelling must not touch job_id")
            port = ep.get("port")
            for svc in services:
                if not selects(spec.get("selector") or {}, (svc.get("metadata") or {}).get("labels") or {}):
                    continue
                if port not in {p.get("name") for p in svc["spec"].get("ports") or []}:
                    continue
                for w in workloads:
                    if selects(svc["spec"].get("selector") or {}, pod_labels(w)):
                        scraped.setdefault(ident(w), []).append(ident(svc))
        good &= report.check(scraped, obj, "selects no Service with the endpoint's port")
        for workload, via in scraped.items():
            good &= report.check(len(via) == 1, obj, f"{workload} is scraped twice (through {', '.join(via)})")
        if good:
            report.ok(f"{obj} scrapes {', '.join(sorted(scraped))} once each; labels untouched")


def check_autoscaling(docs, adapter_metrics, report):
    by_name = {(d.get("kind"), d["metadata"]["name"]): d for d in docs if d.get("metadata")}
    for hpa in (d for d in docs if d.get("kind") == "HorizontalPodAutoscaler"):
        obj, spec = ident(hpa), hpa["spec"]
        ref = spec["scaleTargetRef"]
        target = by_name.get((ref.get("kind"), ref.get("name")))
        good = report.check(target is not None, obj, f"scale target {ref.get('kind')}/{ref.get('name')} is not in the manifests")
        good &= report.check(spec.get("minReplicas", 1) >= 2, obj, "minReplicas below 2 leaves no replica during a disruption")
        for metric in spec.get("metrics") or []:
            if metric.get("type") == "Pods":
                name = metric["pods"]["metric"]["name"]
                good &= report.check(name in adapter_metrics, obj,
                                     f"Pods metric {name} is not served by deploy/prometheus-adapter/values.yaml")
        if good:
            report.ok(f"{obj} scales {ident(target)} {spec.get('minReplicas', 1)}..{spec['maxReplicas']} "
                      f"on metrics the adapter serves")
    for pdb in (d for d in docs if d.get("kind") == "PodDisruptionBudget"):
        obj, spec = ident(pdb), pdb["spec"]
        matched = [d for d in docs if d.get("kind") == "Deployment" and selects(spec.get("selector") or {}, pod_labels(d))]
        good = report.check(len(matched) == 1, obj, f"must select exactly one Deployment, selects {len(matched)}")
        if matched:
            dep = matched[0]
            hpa = [h for h in docs if h.get("kind") == "HorizontalPodAutoscaler"
                   and h["spec"]["scaleTargetRef"].get("name") == dep["metadata"]["name"]]
            floor = hpa[0]["spec"].get("minReplicas", 1) if hpa else dep["spec"].get("replicas", 1)
            if "maxUnavailable" in spec:
                good &= report.check(spec["maxUnavailable"] not in (0, "0%"), obj, "maxUnavailable 0 blocks every node drain")
            if isinstance(spec.get("minAvailable"), int):
                good &= report.check(spec["minAvailable"] < floor, obj,
                                     f"minAvailable {spec['minAvailable']} >= {floor} replicas blocks every node drain")
            if good:
                report.ok(f"{obj} lets drains proceed with {floor}+ replicas of {ident(dep)}")


def check_policy(docs, target, adapter_metrics, report):
    configmaps = {d["metadata"]["name"]: d.get("data") or {} for d in docs if d.get("kind") == "ConfigMap"}
    pvcs = {d["metadata"]["name"]: d for d in docs if d.get("kind") == "PersistentVolumeClaim"}
    hpas = [d for d in docs if d.get("kind") == "HorizontalPodAutoscaler"]
    secrets = [ident(d) for d in docs if d.get("kind") == "Secret"]
    report.check(not secrets, target, f"renders Secrets {secrets}: secret values are never committed")
    for doc in docs:
        if doc.get("kind") in WORKLOADS:
            check_pod_security(doc, report)
            check_server(doc, docs, configmaps, pvcs, hpas, target, report)
        if doc.get("kind") == "Job":
            command = " ".join(c for ct in pod_spec(doc).get("containers") or [] for c in (ct.get("command") or []) + (ct.get("args") or []))
            if "train start" in command:
                ok = report.check(doc["spec"].get("backoffLimit") == 0, ident(doc),
                                  "backoffLimit must be 0: a retried pod would start a second training run")
                ok &= report.check("train watch" in command, ident(doc), "must wait with `augmentctl train watch`")
                if ok:
                    report.ok(f"{ident(doc)}: starts one run and watches it (backoffLimit 0)")
    check_services(docs, report)
    check_servicemonitors(docs, report)
    check_autoscaling(docs, adapter_metrics, report)
    gpus = [ident(d) for d in docs if d.get("kind") in WORKLOADS
            for c in pod_spec(d).get("containers") or []
            if "nvidia.com/gpu" in ((c.get("resources") or {}).get("limits") or {})]
    if target.endswith("overlays/gpu"):
        if report.check(gpus, target, "the gpu overlay requests no nvidia.com/gpu"):
            report.ok(f"{target}: GPU for {', '.join(gpus)}")
    elif target.endswith("overlays/cpu"):
        if report.check(not gpus, target, f"the cpu overlay requests GPUs for {gpus}"):
            report.ok(f"{target}: no GPU requested")


# ---- prometheus-adapter ------------------------------------------------------------------------

def adapter_metrics(values_path, promtool, report, metrics_src=ROOT / "service" / "src" / "metrics"):
    """Names the adapter serves as custom metrics; checks each rule and its PromQL."""
    values = yaml.safe_load(Path(values_path).read_text()) or {}
    rules = ((values.get("rules") or {}).get("custom")) or []
    exported, groups = {}, []
    source = "".join(p.read_text() for p in Path(metrics_src).glob("*.rs")) if Path(metrics_src).is_dir() else None
    for i, rule in enumerate(rules):
        obj = f"{Path(values_path).name} rules.custom[{i}]"
        good = True
        for key in ("seriesQuery", "resources", "name", "metricsQuery"):
            good &= report.check(key in rule, obj, f"{key} is missing")
        if not good:
            continue
        series = re.match(r"\s*([a-zA-Z_:][a-zA-Z0-9_:]*)", rule["seriesQuery"])
        series = series.group(1) if series else ""
        overrides = (rule["resources"].get("overrides") or {})
        good &= report.check({"namespace", "pod"} <= set(overrides), obj, "must map the namespace and pod labels")
        query = rule["metricsQuery"]
        good &= report.check("<<.Series>>" in query and "<<.LabelMatchers>>" in query and "<<.GroupBy>>" in query,
                             obj, "metricsQuery must use <<.Series>>, <<.LabelMatchers>> and <<.GroupBy>>")
        if source is not None:
            good &= report.check(series in source, obj, f"{series} is not a metric of service/src/metrics")
        name = rule["name"].get("as") or series
        exported[name] = query
        expr = (query.replace("<<.Series>>", series)
                .replace("<<.LabelMatchers>>", 'namespace="augmentd",pod=~"augmentd-serve-.*"')
                .replace("<<.GroupBy>>", "pod"))
        groups.append({"record": f"adapter_check:{name}", "expr": expr})
        if good:
            report.ok(f"adapter serves {name} (from {series})")
    if groups and promtool:
        ok, out = promtool_rules({"groups": [{"name": "adapter-check", "rules": groups}]}, promtool)
        if report.check(ok, Path(values_path).name, f"metricsQuery does not parse: {out.strip()}"):
            report.ok("adapter metricsQuery expressions parse (promtool)")
    return exported


# ---- self-test ---------------------------------------------------------------------------------

SAMPLE_RULE = {
    "apiVersion": "monitoring.coreos.com/v1",
    "kind": "PrometheusRule",
    "metadata": {"name": "augmentd-selftest", "labels": {"app.kubernetes.io/name": "augmentd"}},
    "spec": {"groups": [{"name": "augmentd.selftest", "interval": "30s", "rules": [
        {"record": "augmentd:requests:rate5m", "expr": "sum by (method) (rate(augmentd_requests_total[5m]))"},
        {"alert": "AugmentdTrainingCollapsed", "expr": "max by (job_id) (augmentd_training_collapsed) == 1",
         "for": "10m", "labels": {"severity": "warning"},
         "annotations": {"summary": "job {{ $labels.job_id }} applies one fixed transform"}},
    ]}]},
}


def find(docs, kind, name=None):
    for d in docs:
        if d.get("kind") == kind and (name is None or d["metadata"]["name"] == name):
            return d
    raise SystemExit(f"self-test: no {kind}/{name} in the sample")


def self_test(args):
    """Each case breaks one thing and must be rejected by the check that owns it."""
    docs = load_docs(args.sample)
    schemas = validators(args.k8s_version)
    metrics = adapter_metrics(args.adapter_values, None, Report(quiet=True))
    results = []

    def kubernetes_validate(doc):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            yaml.safe_dump(doc, f)
        run = subprocess.run([args.kubernetes_validate, "--strict", "--quiet", "-k", args.k8s_version, f.name],
                             capture_output=True, text=True)
        Path(f.name).unlink()
        return run.returncode != 0, (run.stdout + run.stderr).strip().splitlines()[-1:] or [""]

    def schema(doc):
        report = Report(quiet=True)
        check_cr(doc, schemas, args.promtool, report)
        return bool(report.problems), report.problems[:1] or [""]

    def policy(mutated_docs):
        report = Report(quiet=True)
        check_policy(mutated_docs, "overlays/cpu", metrics, report)
        return bool(report.problems), report.problems[:1] or [""]

    def case(name, check, subject, expect_reject=True):
        rejected, why = check(subject)
        passed = rejected == expect_reject
        results.append(passed)
        verdict = "rejected" if rejected else "accepted"
        detail = re.sub(r"^ERROR\s+/\S+ did not validate for resource \S+ against version [\d.]+: ", "", why[0])
        detail = " ".join(detail.split())[:150]
        print(f"  {'ok' if passed else 'FAIL'} self-test {name}: {verdict}" + (f" ({detail})" if rejected else ""))

    deployment = find(docs, "Deployment", "augmentd")
    d = copy.deepcopy(deployment)
    c = d["spec"]["template"]["spec"]["containers"][0]
    c["readinesProbe"] = c.pop("readinessProbe", {})
    case("Deployment with a typo'd field (readinesProbe)", kubernetes_validate, d)
    d = copy.deepcopy(deployment)
    d["spec"]["replicas"] = "one"
    case("Deployment with a wrong type (replicas: \"one\")", kubernetes_validate, d)
    case("the sample Deployment itself", kubernetes_validate, deployment, expect_reject=False)

    monitor = find(docs, "ServiceMonitor")
    m = copy.deepcopy(monitor)
    m["spec"]["endpoints"][0]["honorLabel"] = False
    case("ServiceMonitor with a typo'd field (honorLabel)", schema, m)
    m = copy.deepcopy(monitor)
    m["spec"]["endpoints"][0]["interval"] = 30
    case("ServiceMonitor with a wrong type (interval: 30)", schema, m)
    m = copy.deepcopy(monitor)
    m["spec"]["selectr"] = m["spec"].pop("selector")
    case("ServiceMonitor with a typo'd spec field (selectr)", schema, m)
    m = copy.deepcopy(monitor)
    m["metadata"]["lables"] = {}
    case("ServiceMonitor with a typo'd metadata field (lables)", schema, m)
    case("the sample ServiceMonitor itself", schema, monitor, expect_reject=False)

    r = copy.deepcopy(SAMPLE_RULE)
    r["spec"]["groups"][0]["rules"][0]["expresion"] = r["spec"]["groups"][0]["rules"][0].pop("expr")
    case("PrometheusRule with a typo'd field (expresion)", schema, r)
    r = copy.deepcopy(SAMPLE_RULE)
    r["spec"]["groups"][0]["rules"][1]["labels"] = ["severity=warning"]
    case("PrometheusRule with a wrong type (labels: a list)", schema, r)
    r = copy.deepcopy(SAMPLE_RULE)
    r["spec"]["groups"][0]["rules"][1]["expr"] = "max by (job_id (augmentd_training_collapsed)"
    case("PrometheusRule with a PromQL syntax error", schema, r, expect_reject=bool(args.promtool))
    case("a valid PrometheusRule", schema, SAMPLE_RULE, expect_reject=False)

    mutated = copy.deepcopy(docs)
    find(mutated, "Deployment", "augmentd")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 30
    case("grace period not above the drain timeout", policy, mutated)
    mutated = copy.deepcopy(docs)
    find(mutated, "ServiceMonitor")["spec"]["endpoints"][0]["honorLabels"] = True
    case("ServiceMonitor with honorLabels: true", policy, mutated)
    mutated = copy.deepcopy(docs)
    find(mutated, "HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]["name"] = "augmentd"
    case("HPA scaling the state-volume owner", policy, mutated)
    mutated = copy.deepcopy(docs)
    find(mutated, "Deployment", "augmentd")["spec"]["template"]["spec"]["containers"][0]["args"] = ["serve", "--device=cuda"]
    case("--device=cuda without a GPU", policy, mutated)
    mutated = copy.deepcopy(docs)
    find(mutated, "Deployment", "augmentd-serve")["spec"]["template"]["spec"]["containers"][0]["securityContext"].pop("readOnlyRootFilesystem")
    case("a container without readOnlyRootFilesystem", policy, mutated)
    case("the sample manifests themselves", policy, docs, expect_reject=False)

    failed = results.count(False)
    print(f"self-test: {len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


# ---- command line ------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--k8s-version", default="1.33.0")
    parser.add_argument("--promtool", default=None, help="promtool binary (rule groups and PromQL)")
    parser.add_argument("--adapter-values", default=str(ROOT / "deploy" / "prometheus-adapter" / "values.yaml"))
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("split")
    p.add_argument("rendered")
    p.add_argument("builtin")
    p.add_argument("custom")
    p = sub.add_parser("crs")
    p.add_argument("files", nargs="+")
    p = sub.add_parser("policy")
    p.add_argument("rendered")
    p.add_argument("--target", required=True)
    sub.add_parser("adapter")
    p = sub.add_parser("self-test")
    p.add_argument("--kubernetes-validate", required=True)
    p.add_argument("--sample", required=True, help="a rendered overlay to mutate")
    args = parser.parse_args()

    if args.command == "split":
        docs = load_docs(args.rendered)
        dump_docs([d for d in docs if not is_custom(d)], args.builtin)
        custom = [d for d in docs if is_custom(d)]
        dump_docs(custom, args.custom)
        print(f"  {len(docs) - len(custom)} built-in objects, {len(custom)} custom resources")
        return 0
    if args.command == "self-test":
        return self_test(args)
    report = Report()
    if args.command == "crs":
        schemas = validators(args.k8s_version)
        for path in args.files:
            for doc in load_docs(path):
                check_cr(doc, schemas, args.promtool, report)
    elif args.command == "policy":
        metrics = adapter_metrics(args.adapter_values, None, Report(quiet=True))
        check_policy(load_docs(args.rendered), args.target, metrics, report)
    elif args.command == "adapter":
        adapter_metrics(args.adapter_values, args.promtool, report)
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
