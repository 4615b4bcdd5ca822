"""The model-server builders: engine flags, scheduling from pools, probes from the startup budget,
hardening, and no secret in arguments or plain environment values."""

from __future__ import annotations

import copy
import re

from components import capacity
from components.catalog.models import lookup
from components.config import validate_raw
from components.endpoints import server_endpoints
from components.platform.keyvault import CSI_DRIVER, pod_wiring
from components.platform.pools import pool_taints
from components.platform.secrets import PodSecretWiring
from components.servers.common import ServerInputs, server_objects
from components.servers.component import ENGINES

FILE = "stacks/Pulumi.test.yaml"
GPU_POOL = {"name": "gpu", "gpuType": "A10", "gpusPerNode": 2, "nodeLabels": {"pool": "gpu"},
            "taints": [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"},
                       {"key": "dedicated", "effect": "NoExecute"}]}


def build(server: dict, cluster_kind: str = "existing", pools=None, has_hf_token: bool = False):
    raw = {"environment": "dev", "cluster": {"kind": "existing"}, "nodePools": pools if pools is not None else [GPU_POOL],
           "servers": [server]}
    cfg = validate_raw(copy.deepcopy(raw), FILE, {"hfToken"} if has_hf_token else set()).stack
    ep = server_endpoints(cfg)[0]
    inp = ServerInputs(cfg=cfg, endpoint=ep, card=lookup(ep.model, ep.engine), secrets=PodSecretWiring(),
                       has_hf_token=has_hf_token)
    before, jobs, deployment = server_objects(inp, ENGINES[ep.engine])
    return inp, before, jobs, deployment


VLLM = {"name": "phi", "engine": "vllm", "model": "microsoft/Phi-4-mini-instruct", "revision": "abc123",
        "nodePool": "gpu", "gpus": 2, "maxModelLen": 8192, "maxNumSeqs": 8, "servedModelName": "phi-4-mini"}


def container(deployment: dict) -> dict:
    return deployment["spec"]["template"]["spec"]["containers"][0]


def flag(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def test_vllm_args_come_from_the_spec_and_the_catalog():
    _, _, _, dep = build(VLLM)
    args = container(dep)["args"]
    assert args[0] == "microsoft/Phi-4-mini-instruct"
    assert flag(args, "--served-model-name") == "phi-4-mini"
    assert flag(args, "--tensor-parallel-size") == "2"
    assert flag(args, "--max-model-len") == "8192"
    assert flag(args, "--revision") == "abc123"
    assert flag(args, "--dtype") == "bfloat16"  # auto -> the model's native dtype, which A10 supports
    assert flag(args, "--tool-call-parser") == "phi4_mini_json" and "--enable-auto-tool-choice" in args
    # The parser reads `functools[...]`, which only vLLM's tool template asks for; the image holds it here.
    assert flag(args, "--chat-template") == "/vllm-workspace/examples/tool_chat_template_phi4_mini.jinja"
    assert "--trust-remote-code" not in args


def test_only_models_with_a_catalog_tool_template_get_a_chat_template():
    qwen = {**VLLM, "model": "Qwen/Qwen2.5-7B-Instruct", "servedModelName": "qwen"}
    args = container(build(qwen)[3])["args"]
    assert flag(args, "--tool-call-parser") == "hermes" and "--chat-template" not in args  # its own template fits


def test_tolerations_match_exactly_the_pools_taints_and_the_selector_its_labels():
    _, _, _, dep = build(VLLM)
    pod = dep["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"pool": "gpu"}
    tolerated = {(t["key"], t.get("value"), t["effect"]) for t in pod["tolerations"]}
    cfg_pool = build(VLLM)[0].cfg.pool("gpu")
    assert tolerated == {(t["key"], t.get("value"), t["effect"]) for t in pool_taints(cfg_pool, "existing")}
    assert container(dep)["resources"]["limits"]["nvidia.com/gpu"] == "2"


def test_aks_gpu_pools_get_the_gpu_and_spot_taints_and_servers_tolerate_them():
    pool = {"name": "gput4", "vmSize": "Standard_NC4as_T4_v3", "spot": True}
    taints = pool_taints(validate_raw({"environment": "dev", "cluster": {"kind": "aks"}, "nodePools": [pool],
                                       "servers": [{**VLLM, "nodePool": "gput4", "gpus": 1, "dtype": "float16",
                                                    "maxNumSeqs": 4, "maxModelLen": 4096}]},
                                      FILE, set()).stack.node_pools[0], "aks")
    assert {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"} in taints
    assert {"key": "kubernetes.azure.com/scalesetpriority", "value": "spot", "effect": "NoSchedule"} in taints


def test_startup_probe_covers_the_startup_budget_and_pulumi_waits_longer():
    inp, _, _, dep = build(VLLM)
    startup = container(dep)["startupProbe"]
    budget = capacity.startup_budget(inp.spec, inp.card)
    assert startup["periodSeconds"] * startup["failureThreshold"] >= budget.total_s
    assert budget.deploy_timeout_s > budget.total_s
    assert startup["httpGet"]["path"] == "/health"
    bigger = capacity.startup_budget(inp.spec.model_copy(update={"download_mbps": 10}), inp.card)
    assert bigger.total_s > budget.total_s  # a slower download gets a longer budget


def test_every_container_is_hardened_and_the_pod_has_no_token():
    for server in (VLLM, {"name": "o", "engine": "ollama", "model": "qwen2.5:0.5b", "resources": {"memory": "3Gi"}}):
        pools = [GPU_POOL] if server["engine"] == "vllm" else []
        _, _, _, dep = build(server, pools=pools)
        pod = dep["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for c in pod["containers"] + pod.get("initContainers", []):
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"]
            assert sc["capabilities"] == {"drop": ["ALL"]}
            assert ":latest" not in c["image"]
            assert c["resources"]["limits"]["memory"]
        shm = next(v for v in pod["volumes"] if v["name"] == "dshm")
        assert shm["emptyDir"]["medium"] == "Memory"


def test_no_secret_in_args_or_plain_env_values():
    for has_token in (False, True):
        _, _, _, dep = build(VLLM, has_hf_token=has_token)
        c = container(dep)
        assert not any(re.search(r"(api[-_]?key|token)=", a, re.IGNORECASE) for a in c["args"] + c["command"][:2])
        for env in c["env"]:
            if re.search(r"KEY|TOKEN", env["name"]) and "value" in env:
                assert env["value"].startswith("/var/run/slmkit/"), env  # a path to a mounted Secret file


def test_ollama_pulls_in_an_init_step_and_builds_its_variants():
    server = {"name": "qwen", "engine": "ollama", "model": "qwen2.5:0.5b", "resources": {"memory": "3Gi"},
              "ollama": {"variants": [{"name": "qwen-reasoning", "parameters": {"temperature": 0.2}}]}}
    inp, before, _, dep = build(server, pools=[])
    init = dep["spec"]["template"]["spec"]["initContainers"][0]
    cm = next(o for o in before if o["kind"] == "ConfigMap")
    assert "ollama pull qwen2.5:0.5b" in cm["data"]["pull.sh"]
    assert "set -eu" in cm["data"]["pull.sh"]  # a failed pull fails the init container, visibly
    assert "ollama create qwen-reasoning -f" in cm["data"]["pull.sh"]
    assert cm["data"]["variant-0.Modelfile"].startswith("FROM qwen2.5:0.5b\nPARAMETER temperature 0.2")
    assert init["command"][0] == "/bin/sh"
    assert inp.endpoint.served_names == ("qwen2.5:0.5b", "qwen-reasoning")


def test_onnx_server_waits_for_a_conversion_job_named_by_the_spec():
    server = {"name": "phi-onnx", "engine": "onnx", "model": "microsoft/Phi-4-mini-instruct", "revision": "a" * 40,
              "maxModelLen": 4096, "resources": {"cpu": "4", "memory": "16Gi"}}
    _, _, jobs, dep = build(server, pools=[])
    job = jobs[0]
    script = job["spec"]["template"]["spec"]["containers"][0]["command"][2]
    assert f"python -m onnx_server.convert --model microsoft/Phi-4-mini-instruct --revision {'a' * 40} --precision int4" in script
    assert "genai_config.json" in script  # a finished conversion is not redone
    args = container(dep)["args"]
    assert flag(args, "--model-dir") in script
    assert container(dep)["readinessProbe"]["httpGet"]["path"] == "/ready"
    _, _, jobs2, _ = build({**server, "revision": "b" * 40}, pools=[])
    assert jobs2[0]["metadata"]["name"] != job["metadata"]["name"]


def test_gpu_servers_tolerate_the_gpu_taint_even_when_the_pool_declares_none():
    untainted = {"name": "gpu", "gpuType": "T4", "gpusPerNode": 1}
    server = {**VLLM, "gpus": 1, "dtype": "float16", "maxModelLen": 4096, "maxNumSeqs": 4}
    _, _, _, dep = build(server, pools=[untainted])
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in \
        dep["spec"]["template"]["spec"]["tolerations"]
    _, _, _, cpu = build({"name": "o", "engine": "ollama", "model": "qwen2.5:0.5b", "resources": {"memory": "3Gi"}},
                         pools=[])
    assert "tolerations" not in cpu["spec"]["template"]["spec"]  # CPU pods get no GPU toleration


def test_conversion_job_mounts_the_secret_store_volume_that_syncs_the_token():
    """On AKS the token Secret exists only while a pod mounts the Secrets Store CSI volume, and the
    Job runs before any server pod: the Job itself must mount it (and carry the identity label)."""
    server = {"name": "phi-onnx", "engine": "onnx", "model": "microsoft/Phi-4-mini-instruct", "revision": "a" * 40,
              "maxModelLen": 4096, "resources": {"cpu": "4", "memory": "16Gi"}}
    raw = {"environment": "dev", "cluster": {"kind": "existing"}, "nodePools": [], "servers": [server]}
    cfg = validate_raw(raw, FILE, {"hfToken"}).stack
    ep = server_endpoints(cfg)[0]
    for has_token in (True, False):
        inp = ServerInputs(cfg=cfg, endpoint=ep, card=lookup(ep.model, ep.engine), secrets=pod_wiring("client-id"),
                           has_hf_token=has_token)
        _, jobs, dep = server_objects(inp, ENGINES["onnx"])
        pod = jobs[0]["spec"]["template"]
        csi = [v for v in pod["spec"]["volumes"] if "csi" in v]
        mounted = {m["name"] for m in pod["spec"]["containers"][0]["volumeMounts"]}
        if has_token:
            assert [v["csi"]["driver"] for v in csi] == [CSI_DRIVER] and csi[0]["name"] in mounted
            assert "hf-token" in mounted and pod["metadata"]["labels"]["azure.workload.identity/use"] == "true"
        else:
            assert not csi and "hf-token" not in mounted
        # the server pods mount it too, with or without a token (they also read the API key through it)
        assert any("csi" in v for v in dep["spec"]["template"]["spec"]["volumes"])


def test_the_onnx_server_drains_within_the_pods_grace_period():
    from components.config.servers import EXIT_AFTER_DRAIN_SECONDS, PRE_STOP_SLEEP_SECONDS
    from onnx_server.drain import SHUTDOWN_SECONDS
    from onnx_server.engine_client import ENGINE_STOP_SECONDS

    server = {"name": "phi-onnx", "engine": "onnx", "model": "microsoft/Phi-4-mini-instruct", "revision": "a" * 40,
              "maxModelLen": 4096, "resources": {"cpu": "4", "memory": "16Gi"}, "terminationGraceSeconds": 90}
    _, _, _, dep = build(server, pools=[])
    pod = dep["spec"]["template"]["spec"]
    sleep = container(dep)["lifecycle"]["preStop"]["sleep"]["seconds"]
    drain = int(flag(container(dep)["args"], "--drain-seconds"))
    assert pod["terminationGracePeriodSeconds"] == 90 and sleep == PRE_STOP_SLEEP_SECONDS
    # The grace period counts from preStop's start: sleep + drain + the server's exit must fit in it.
    assert sleep + drain + EXIT_AFTER_DRAIN_SECONDS == 90
    assert SHUTDOWN_SECONDS + 2 * ENGINE_STOP_SECONDS <= EXIT_AFTER_DRAIN_SECONDS


def test_a_grace_period_too_short_to_drain_is_refused():
    import pytest

    from components.config import ConfigError

    with pytest.raises(ConfigError, match=r"terminationGraceSeconds = 20: .*must be at least 30: the preStop sleep"):
        build({**VLLM, "terminationGraceSeconds": 20})
