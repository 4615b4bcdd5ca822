"""Cross-layer checks: things no single key can know, checked before any resource is declared.

Each check returns Problems naming the key, the value, what is wrong and the fix.
"""

from __future__ import annotations

import math
import re

from components import capacity
from components.catalog import aks_nodes, skus
from components.catalog import models as model_catalog
from components.k8s.quantity import GIB, parse_quantity

from . import StackConfig
from .base import Problem
from .cluster import aks_problems
from .monitoring import monitoring_problems
from .servers import ServerSpec
from .vertical import vertical_problems


def cross_layer_problems(cfg: StackConfig, secrets_present: set[str]) -> list[Problem]:
    problems: list[Problem] = []
    problems += _pool_problems(cfg)
    problems += _uniqueness_problems(cfg)
    for i, spec in enumerate(cfg.servers):
        problems += _server_problems(cfg, i, spec, secrets_present)
    if cfg.loadtest.ui.enabled and cfg.environment == "prod":
        problems.append(Problem("slmkit:loadtest.ui.enabled", True, "the Locust UI can send load to production", "keep it for dev/staging, or accept it knowingly", warning=True))
    problems += traffic_problems(cfg)
    problems += aks_problems(cfg)  # components/config/cluster.py (AKS engineer)
    problems += monitoring_problems(cfg)  # components/config/monitoring.py (observability)
    problems += vertical_problems(cfg, lambda spec: _resource_trigger_types(cfg, spec))  # config/vertical.py
    if cfg.chat_ui.enabled and not cfg.gateway.enabled:
        problems.append(Problem("slmkit:chatUi.enabled", True, "the chat UI talks to the models through the gateway, which is off", "set slmkit:gateway.enabled: true or turn the chat UI off"))
    if cfg.chat_ui.enabled and cfg.environment in ("staging", "prod") and cfg.gateway.tls.issuer == "self-signed":
        problems.append(Problem("slmkit:gateway.tls.issuer", cfg.gateway.tls.issuer, f"the chat UI in {cfg.environment} needs a trusted certificate", "use letsencrypt with gateway.hostname and tls.email"))
    return problems


def _pool_problems(cfg: StackConfig) -> list[Problem]:
    problems = []
    for i, pool in enumerate(cfg.node_pools):
        key = f"slmkit:nodePools[{i}]"
        if pool.min_count > pool.max_count:
            problems.append(Problem(f"{key}.minCount", pool.min_count, f"above maxCount ({pool.max_count})", f"set minCount <= {pool.max_count}"))
        if pool.vm_size is not None and pool.vm_size not in skus.SKUS:
            problems.append(Problem(f"{key}.vmSize", pool.vm_size, "not a VM size in the catalog", "use one of: " + ", ".join(sorted(skus.SKUS))))
        if cfg.is_aks and pool.vm_size is None:
            problems.append(Problem(f"{key}.vmSize", None, "AKS pools need a VM size", "set vmSize, e.g. Standard_NC24ads_A100_v4"))
        if pool.gpu_type is not None and pool.gpu_type not in skus.GPUS:
            problems.append(Problem(f"{key}.gpuType", pool.gpu_type, "not a GPU type in the catalog", "use one of: " + ", ".join(skus.GPUS)))
        if pool.spot and cfg.environment == "prod" and gpu_of_pool(pool) is not None:
            problems.append(Problem(f"{key}.spot", True, "spot GPU nodes can be evicted with 30 s notice in production", "use regular priority for prod GPU pools", warning=True))
    names = [p.name for p in cfg.node_pools]
    for i, name in enumerate(names):
        if names.index(name) != i:
            problems.append(Problem(f"slmkit:nodePools[{i}].name", name, "pool name used twice", "give each pool its own name"))
    return problems


def _uniqueness_problems(cfg: StackConfig) -> list[Problem]:
    problems = []
    seen_names: dict[str, int] = {}
    seen_served: dict[str, int] = {}
    for i, spec in enumerate(cfg.servers):
        if spec.name in seen_names:
            problems.append(Problem(f"slmkit:servers[{i}].name", spec.name, f"already used by servers[{seen_names[spec.name]}]", "give each server its own name"))
        seen_names.setdefault(spec.name, i)
        for served in served_names(spec):
            if served in seen_served:
                problems.append(Problem(f"slmkit:servers[{i}].servedModelName", served, f"servers[{seen_served[served]}] already serves this model name; the gateway routes by it", "set a distinct servedModelName"))
            seen_served.setdefault(served, i)
    return problems


def served_names(spec: ServerSpec) -> list[str]:
    """Every model name a server answers to: Ollama variants are models of their own."""
    names = [spec.served_name]
    if spec.engine == "ollama":
        names += [v.name for v in spec.ollama.variants]
    return names


def gpu_of_pool(pool) -> tuple[skus.GpuType, int] | None:
    if pool.vm_size in skus.SKUS and skus.SKUS[pool.vm_size].gpu:
        sku = skus.SKUS[pool.vm_size]
        return sku.gpu_type, sku.gpus
    if pool.gpu_type in skus.GPUS:
        return skus.GPUS[pool.gpu_type], pool.gpus_per_node or 1
    return None


_COMMIT_SHA = re.compile(r"^[0-9a-f]{40}$")


def _server_problems(cfg: StackConfig, i: int, spec: ServerSpec, secrets_present: set[str]) -> list[Problem]:
    key = f"slmkit:servers[{i}]"
    problems: list[Problem] = []
    card = model_catalog.lookup(spec.model, spec.engine)
    if card is None:
        kind = "Ollama tag" if spec.engine == "ollama" else "Hugging Face model id"
        names = model_catalog.known_names(spec.engine)
        problems.append(Problem(f"{key}.model", spec.model, f"not a {kind} in the model catalog", "use one of: " + ", ".join(names) + " (or add it to components/catalog/models.py)"))
    if spec.replicas.min == 0 and not spec.autoscaling.scale_to_zero:
        problems.append(Problem(f"{key}.replicas.min", 0, "0 replicas means no server; scale to zero is an autoscaling choice", "set replicas.min: 1, or autoscaling.scaleToZero: true"))
    if spec.autoscaling.scale_to_zero and spec.replicas.min != 0:
        problems.append(Problem(f"{key}.autoscaling.scaleToZero", True, f"needs replicas.min: 0 (it is {spec.replicas.min})", "set replicas.min: 0"))
    if spec.engine == "onnx" and spec.onnx.source == "convert" and not _COMMIT_SHA.match(spec.revision or ""):
        # The converter (docker/onnx-server onnx_server/convert.py) exits 2 without a full commit SHA:
        # decided here, not by a conversion Job that fails in the cluster.
        problems.append(Problem(f"{key}.revision", spec.revision, "the ONNX conversion Job needs the model's full 40-character commit SHA (the converter refuses anything else)", f"set revision to the commit of {spec.model} you tested (the model page's 'Files and versions' history)"))
    elif spec.revision is None and spec.engine in ("vllm", "onnx") and cfg.environment != "local":
        problems.append(Problem(f"{key}.revision", None, "model revision is not pinned; a new upload to the repo would change the deployment", "set revision to the commit SHA you tested (the model page's 'Files and versions' history, or `huggingface-cli download MODEL --revision main` prints it)", warning=True))

    pool = cfg.pool(spec.node_pool)
    if spec.node_pool is not None and pool is None:
        known = ", ".join(p.name for p in cfg.node_pools) or "none are defined"
        problems.append(Problem(f"{key}.nodePool", spec.node_pool, f"no such pool in slmkit:nodePools ({known})", "name a pool from slmkit:nodePools or add one"))
    if cfg.is_aks and spec.node_pool is None:
        problems.append(Problem(f"{key}.nodePool", None, "servers on AKS run on a user pool, not the system pool", "set nodePool to one of slmkit:nodePools"))
    gpu = gpu_of_pool(pool) if pool else None
    if cfg.is_aks and pool is not None and pool.vm_size in skus.SKUS:
        problems += _node_fit_problems(key, spec, skus.SKUS[pool.vm_size])

    if spec.engine == "vllm" and spec.gpus < 1:
        problems.append(Problem(f"{key}.gpus", spec.gpus, "vLLM needs at least one GPU", "set gpus: 1 and a GPU nodePool (or use engine ollama/onnx on CPU)"))
    if spec.gpus > 0 and pool is not None and gpu is None:
        problems.append(Problem(f"{key}.nodePool", spec.node_pool, f"pool '{pool.name}' has no GPUs but the server asks for {spec.gpus}", "name a GPU pool, or set gpus: 0 for a CPU engine"))
    if spec.gpus > 0 and pool is None and spec.node_pool is None:
        problems.append(Problem(f"{key}.nodePool", None, "a GPU server needs a GPU pool so the kit knows the GPU's memory and taints", "add a pool with vmSize or gpuType and name it here"))
    if spec.engine == "onnx" and spec.onnx.execution_provider == "cuda" and spec.gpus < 1:
        problems.append(Problem(f"{key}.gpus", spec.gpus, "the CUDA execution provider needs a GPU", "set gpus: 1, or onnx.executionProvider: cpu"))

    if gpu is not None and spec.gpus > 0:
        gpu_type, per_node = gpu
        if spec.gpus > per_node:
            problems.append(Problem(f"{key}.gpus", spec.gpus, f"{_pool_desc(pool)} has {per_node} GPU{'s' if per_node > 1 else ''} per node", f"use at most {per_node} or pick a pool with {spec.gpus} GPUs"))
        tp_fits = spec.tp <= per_node
        if not tp_fits:
            problems.append(Problem(f"{key}.tensorParallel", spec.tp, f"{_pool_desc(pool)} has {per_node} GPU{'s' if per_node > 1 else ''}", f"use {per_node} or pick a pool with {spec.tp} GPUs"))
        elif spec.tensor_parallel is not None and spec.tensor_parallel != spec.gpus:
            problems.append(Problem(f"{key}.tensorParallel", spec.tensor_parallel, f"does not match gpus ({spec.gpus}); vLLM shards the model over exactly the GPUs the pod gets", f"set gpus: {spec.tensor_parallel}"))
        if card is not None and spec.engine == "vllm":
            dtype = capacity.resolved_dtype(spec, card)
            if dtype == "bfloat16" and not gpu_type.bf16:
                how = " (auto resolves to the model's native bfloat16)" if spec.dtype == "auto" else ""
                problems.append(Problem(f"{key}.dtype", spec.dtype, f"{gpu_type.name} (compute capability {gpu_type.compute_capability}) has no bfloat16{how}", "set dtype: float16"))
            if spec.quantization == "fp8" and not gpu_type.fp8:
                problems.append(Problem(f"{key}.quantization", "fp8", f"{gpu_type.name} has no fp8 kernels in vLLM", "use an AWQ checkpoint, or an A100/H100 pool"))
            if tp_fits:  # a fit computed over GPUs the node does not have would mislead
                problems += _fit_problems(key, spec, card, gpu_type)

    if card is not None:
        problems += _model_problems(key, spec, card, secrets_present)
        if spec.engine == "ollama":
            fit = capacity.ollama_fit(spec, card)
            if not fit.fits:
                problems.append(Problem(f"{key}.resources.memory", spec.resources.memory_limit or spec.resources.memory, f"{spec.model} needs about {fit.needed_gib:.1f} GiB ({fit.weights_gib:.1f} weights + {fit.kv_cache_gib:.1f} KV cache for numCtx {spec.ollama.num_ctx} x numParallel {spec.ollama.num_parallel} + {fit.reserve_gib:.2f} runtime)", f"set memory to at least {_round_up_gib(fit.needed_gib)}Gi, or lower ollama.numCtx / numParallel"))
        if spec.engine == "onnx" and spec.gpus == 0:
            fit = capacity.onnx_fit(spec, card)
            if not fit.fits:
                problems.append(Problem(f"{key}.resources.memory", spec.resources.memory_limit or spec.resources.memory, f"{spec.model} in {spec.onnx.precision} needs about {fit.needed_gib:.1f} GiB ({fit.weights_gib:.1f} weights + {fit.kv_cache_gib:.1f} KV cache for maxModelLen x onnx.maxConcurrency {spec.onnx.max_concurrency})", f"set memory to at least {_round_up_gib(fit.needed_gib)}Gi, or lower maxModelLen / onnx.maxConcurrency"))
        needed = capacity.startup_budget(spec.model_copy(update={"startup_timeout_seconds": None}), card).total_s
        if spec.startup_timeout_seconds is not None and spec.startup_timeout_seconds < needed:
            problems.append(Problem(f"{key}.startupTimeoutSeconds", spec.startup_timeout_seconds, f"below the {needed} s the model needs to download, load and warm up (probes would kill it mid-load)", f"remove it or set at least {needed}"))
    return problems


def _model_problems(key: str, spec: ServerSpec, card, secrets_present: set[str]) -> list[Problem]:
    problems = []
    if spec.max_model_len is not None and spec.max_model_len > card.max_context:
        problems.append(Problem(f"{key}.maxModelLen", spec.max_model_len, f"{card.hf_id} supports at most {card.max_context} tokens", f"set maxModelLen <= {card.max_context}"))
    if card.gated and spec.engine in ("vllm", "onnx") and "hfToken" not in secrets_present:
        problems.append(Problem("slmkit:hfToken", None, f"{card.hf_id} (servers[{key.split('[')[1].split(']')[0]}]) is gated on Hugging Face and needs a token", "accept the licence on the model page, then `pulumi config set --secret slmkit:hfToken hf_...`"))
    if spec.quantization in ("awq", "gptq") and card.quantization != spec.quantization:
        variants = dict(card.quantized_variants)
        fix = f"use model {variants[spec.quantization]}" if spec.quantization in variants else f"pick a {spec.quantization.upper()} checkpoint from the catalog, or use quantization: fp8 (quantized at load)"
        problems.append(Problem(f"{key}.quantization", spec.quantization, f"{spec.quantization} needs a pre-quantized checkpoint and {card.hf_id} is not one", fix))
    if spec.engine != "vllm" and spec.quantization is not None:
        problems.append(Problem(f"{key}.quantization", spec.quantization, f"only vLLM takes a quantization; {spec.engine} models come quantized", "remove it (Ollama tags are q4; ONNX uses onnx.precision)"))
    return problems


def _fit_problems(key: str, spec: ServerSpec, card, gpu_type) -> list[Problem]:
    fit = capacity.gpu_fit(spec, card, gpu_type)
    if fit.fits:
        return []
    ctx = capacity.context_length(spec, card)
    what = (f"{card.hf_id} in {capacity.weight_format(spec, card)} needs {fit.weights_gib:.1f} GiB weights + "
            f"{fit.kv_cache_gib:.1f} GiB KV cache ({ctx} tokens x {spec.max_num_seqs} sequences) + {fit.reserve_gib} GiB runtime "
            f"per GPU; {gpu_type.name} gives {fit.budget_gib:.1f} GiB at gpuMemoryUtilization {spec.gpu_memory_utilization}")
    if fit.max_seqs_that_fit >= 1:
        return [Problem(f"{key}.maxNumSeqs", spec.max_num_seqs, what, f"set maxNumSeqs <= {fit.max_seqs_that_fit}, or lower maxModelLen, or use a larger GPU")]
    return [Problem(f"{key}.maxModelLen", spec.max_model_len or ctx, what, "lower maxModelLen, quantize (AWQ checkpoint), or pick a larger GPU or more tensorParallel")]


def _node_fit_problems(key: str, spec: ServerSpec, sku: skus.VmSku) -> list[Problem]:
    """Requests above the node's allocatable leave the pod Pending until `pulumi up` times out."""
    room = aks_nodes.allocatable(sku.vcpus, sku.memory_gib)
    res = spec.resources
    problems = []
    if parse_quantity(res.cpu) > room.cpu:
        problems.append(Problem(f"{key}.resources.cpu", res.cpu, f"more than a {sku.name} node leaves for pods ({room.cpu:.2f} of {sku.vcpus} cores after AKS's reservations); the pod would stay Pending", f"request at most {math.floor(room.cpu * 10) / 10:g}, or pick a larger vmSize"))
    if parse_quantity(res.memory) / GIB > room.memory_gib:
        problems.append(Problem(f"{key}.resources.memory", res.memory, f"more than a {sku.name} node leaves for pods ({room.memory_gib:.1f} of {sku.memory_gib} GiB after AKS's reservations); the pod would stay Pending", f"request at most {math.floor(room.memory_gib)}Gi, or pick a larger vmSize"))
    return problems


def _pool_desc(pool) -> str:
    return pool.vm_size or f"pool '{pool.name}'"


def _round_up_gib(value: float) -> int:
    return math.ceil(value)


# --- traffic: gateway, autoscaling and isolation (components/traffic) ---------------------------------

def traffic_problems(cfg: StackConfig) -> list[Problem]:
    problems = _gateway_problems(cfg)
    for i, spec in enumerate(cfg.servers):
        problems += _autoscaling_problems(cfg, i, spec)
    return problems


def _gateway_problems(cfg: StackConfig) -> list[Problem]:
    gw = cfg.gateway
    problems = []
    if gw.rate_limit and not gw.enabled:
        problems.append(Problem("slmkit:gateway.rateLimit", gw.rate_limit.model_dump(by_alias=True), "rate limits are enforced by the gateway, which is off", "set slmkit:gateway.enabled: true or remove rateLimit"))
    if not gw.enabled:
        return problems
    if gw.azure_dns_label and not cfg.uses_azure_dns_label:
        problems.append(Problem("slmkit:gateway.azureDnsLabel", gw.azure_dns_label, "an Azure DNS name is given only to an AKS gateway on a LoadBalancer without gateway.hostname", "remove azureDnsLabel, or use it on AKS with serviceType: LoadBalancer and no hostname"))
    letsencrypt = gw.tls.issuer.startswith("letsencrypt")
    if letsencrypt and not gw.tls.email:
        problems.append(Problem("slmkit:gateway.tls.email", None, "Let's Encrypt needs a contact email", "set gateway.tls.email"))
    if letsencrypt and not gw.hostname:
        problems.append(Problem("slmkit:gateway.hostname", None, "Let's Encrypt issues certificates for a DNS name", "set gateway.hostname, or use tls.issuer: self-signed"))
    if letsencrypt and gw.hostname and gw.hostname.startswith("*."):
        problems.append(Problem("slmkit:gateway.hostname", gw.hostname, "Let's Encrypt's HTTP-01 challenge cannot issue wildcard certificates", "use a single host name such as llm.example.com"))
    if letsencrypt and gw.service_type != "LoadBalancer":
        problems.append(Problem("slmkit:gateway.serviceType", gw.service_type, "Let's Encrypt must reach the gateway from the internet to check the HTTP-01 challenge", "set serviceType: LoadBalancer, or use tls.issuer: self-signed"))
    if cfg.chat_ui.enabled and gw.hostname and cfg.chat_ui.hostname == gw.hostname:
        problems.append(Problem("slmkit:chatUi.hostname", cfg.chat_ui.hostname, "the same name as gateway.hostname; the gateway tells the API and the chat UI apart by host name", "give the chat UI its own name, e.g. chat.example.com"))
    if cfg.environment == "prod" and gw.tls.issuer == "self-signed":
        problems.append(Problem("slmkit:gateway.tls.issuer", gw.tls.issuer, "clients of a production endpoint cannot verify a self-signed certificate", "use letsencrypt with gateway.hostname and tls.email", warning=True))
    return problems


def _resource_trigger_types(cfg: StackConfig, spec: ServerSpec) -> set[str]:
    """Trigger types of the ScaledObject the kit renders for this server (none without one)."""
    from .autoscaling import trigger_types

    return trigger_types(spec) if autoscaler_wanted(spec) else set()


def autoscaler_wanted(spec: ServerSpec) -> bool:
    """Exactly one KEDA ScaledObject per Deployment when this holds; none otherwise."""
    return spec.autoscaling.enabled and spec.replicas.max > spec.replicas.min


def _autoscaling_problems(cfg: StackConfig, i: int, spec: ServerSpec) -> list[Problem]:
    key = f"slmkit:servers[{i}]"
    auto = spec.autoscaling
    problems = []
    if spec.replicas.min > spec.replicas.max:
        problems.append(Problem(f"{key}.replicas.min", spec.replicas.min, f"above replicas.max ({spec.replicas.max})", f"set replicas.min <= {spec.replicas.max}"))
    if auto.scale_to_zero and cfg.environment == "prod":
        problems.append(Problem(f"{key}.autoscaling.scaleToZero", True, "scale to zero makes the first request after idle wait minutes for a cold start", "keep at least one replica in prod", warning=True))
    if auto.kv_cache_threshold is not None and spec.engine != "vllm":
        problems.append(Problem(f"{key}.autoscaling.kvCacheThreshold", auto.kv_cache_threshold, f"{spec.engine} does not report KV-cache usage", "remove it; only vLLM servers scale on vllm:kv_cache_usage_perc"))
    if not autoscaler_wanted(spec) or spec.replicas.min > spec.replicas.max:
        return problems
    if not cfg.monitoring.enabled:
        problems.append(Problem(f"{key}.autoscaling.enabled", True, "autoscaling reads its metrics from the monitoring stack's Prometheus, which is off", "set slmkit:monitoring.enabled: true, or autoscaling.enabled: false"))
    if spec.engine == "ollama" and not cfg.gateway.enabled:
        problems.append(Problem(f"{key}.autoscaling.enabled", True, "Ollama emits no metrics; it scales on the gateway's in-flight requests, and the gateway is off", f"enable the gateway, or set replicas.max: {spec.replicas.min} (or autoscaling.enabled: false)"))
    if auto.scale_to_zero and not cfg.gateway.enabled:
        problems.append(Problem(f"{key}.autoscaling.scaleToZero", True, "a server at zero replicas emits no metrics; only the gateway's request count can wake it, and the gateway is off", "enable the gateway, or keep replicas.min: 1"))
    if auto.fallback_replicas is not None and not spec.replicas.min <= auto.fallback_replicas <= spec.replicas.max:
        problems.append(Problem(f"{key}.autoscaling.fallbackReplicas", auto.fallback_replicas, f"outside replicas.min..max ({spec.replicas.min}..{spec.replicas.max})", "pick a count within the bounds"))
    return problems
