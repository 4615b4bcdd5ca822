"""The config model: every validation error names the stack file, the key, the value and the fix."""

from __future__ import annotations

import copy

import pytest

from components.config import ConfigError, validate_raw

FILE = "stacks/Pulumi.test.yaml"

BASE = {
    "environment": "dev",
    "cluster": {"kind": "existing"},
    "nodePools": [
        {"name": "t4", "vmSize": "Standard_NC4as_T4_v3"},
        {"name": "a100", "vmSize": "Standard_NC24ads_A100_v4"},
        {"name": "a100x4", "vmSize": "Standard_NC96ads_A100_v4"},
        {"name": "cpu", "vmSize": "Standard_D8s_v5"},
    ],
    "servers": [{
        "name": "phi", "engine": "vllm", "model": "microsoft/Phi-4-mini-instruct", "revision": "0123abc",
        "nodePool": "a100", "gpus": 1, "maxModelLen": 8192, "maxNumSeqs": 16,
    }],
}


def with_server(**changes) -> dict:
    raw = copy.deepcopy(BASE)
    raw["servers"][0].update(changes)
    return raw


def problems(raw: dict, secrets: frozenset[str] = frozenset()) -> list[str]:
    with pytest.raises(ConfigError) as info:
        validate_raw(raw, FILE, set(secrets))
    lines = info.value.lines()
    assert all(line.startswith(f"{FILE}: slmkit:") for line in lines), lines
    return lines


def one_problem(raw: dict, key: str, *fragments: str, secrets: frozenset[str] = frozenset()) -> str:
    lines = [line for line in problems(raw, secrets) if f" {key} = " in line]
    assert len(lines) == 1, f"expected one problem for {key}, got {problems(raw, secrets)}"
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def test_a_sound_stack_loads_with_defaults_filled_in():
    loaded = validate_raw(copy.deepcopy(BASE), FILE, set())
    spec = loaded.stack.servers[0]
    assert spec.served_name == "phi-4-mini-instruct"
    assert spec.tp == 1
    assert spec.image.resolve("vllm").ref.startswith("docker.io/vllm/vllm-openai:v")


def test_tensor_parallel_above_the_nodes_gpus():
    one_problem(with_server(tensorParallel=4), "slmkit:servers[0].tensorParallel",
                "= 4: Standard_NC24ads_A100_v4 has 1 GPU", "use 1 or pick a pool with 4 GPUs")


def test_tensor_parallel_within_a_four_gpu_node_is_accepted():
    validate_raw(with_server(nodePool="a100x4", gpus=4, tensorParallel=4), FILE, set())


def test_7b_bf16_with_32k_context_does_not_fit_a_t4():
    raw = with_server(model="Qwen/Qwen2.5-7B-Instruct", nodePool="t4", dtype="float16", maxModelLen=32768)
    line = one_problem(raw, "slmkit:servers[0].maxModelLen", "= 32768", "T4 gives 13.2 GiB", "weights")  # 14.7 GiB usable x 0.9
    assert "pick a larger GPU" in line


def test_kv_cache_for_all_sequences_must_fit_and_the_fix_names_the_limit():
    line = one_problem(with_server(maxNumSeqs=64), "slmkit:servers[0].maxNumSeqs", "= 64", "KV cache")
    assert "set maxNumSeqs <= " in line


def test_bf16_on_a_t4():
    one_problem(with_server(nodePool="t4", dtype="bfloat16", maxModelLen=4096, maxNumSeqs=4),
                "slmkit:servers[0].dtype", "T4", "no bfloat16", "set dtype: float16")


def test_auto_dtype_resolving_to_bf16_on_a_t4_is_caught_too():
    one_problem(with_server(nodePool="t4", maxModelLen=4096, maxNumSeqs=4), "slmkit:servers[0].dtype",
                "auto resolves to the model's native bfloat16")


def test_awq_needs_a_prequantized_checkpoint_and_names_it():
    one_problem(with_server(model="Qwen/Qwen2.5-7B-Instruct", quantization="awq"), "slmkit:servers[0].quantization",
                "needs a pre-quantized checkpoint", "use model Qwen/Qwen2.5-7B-Instruct-AWQ")


def test_awq_checkpoint_is_accepted():
    validate_raw(with_server(model="Qwen/Qwen2.5-7B-Instruct-AWQ", quantization="awq"), FILE, set())


def test_replicas_min_above_max():
    one_problem(with_server(replicas={"min": 3, "max": 2}), "slmkit:servers[0].replicas.min", "above replicas.max (2)")


def test_unknown_pool():
    one_problem(with_server(nodePool="h100"), "slmkit:servers[0].nodePool", "no such pool", "t4, a100, a100x4, cpu")


def test_gpu_server_on_a_cpu_pool():
    one_problem(with_server(nodePool="cpu"), "slmkit:servers[0].nodePool", "has no GPUs")


def test_unknown_engine_lists_the_engines():
    one_problem(with_server(engine="tgi"), "slmkit:servers[0].engine", "'vllm', 'ollama' or 'onnx'")


def test_unknown_model_lists_the_catalog():
    one_problem(with_server(model="mistralai/Mistral-7B"), "slmkit:servers[0].model", "not a Hugging Face model id",
                "microsoft/Phi-4-mini-instruct")


def test_misspelt_key_gets_a_suggestion():
    raw = with_server()
    raw["servers"][0]["tensorParalell"] = 1
    one_problem(raw, "slmkit:servers[0].tensorParalell", "unknown key", "did you mean tensorParallel?")


def test_gated_model_without_hf_token():
    raw = with_server(model="meta-llama/Llama-3.2-3B-Instruct")
    one_problem(raw, "slmkit:hfToken", "gated", "pulumi config set --secret slmkit:hfToken")
    validate_raw(raw, FILE, {"hfToken"})


def test_ollama_model_that_does_not_fit_its_memory_limit():
    raw = copy.deepcopy(BASE)
    raw["servers"] = [{"name": "q", "engine": "ollama", "model": "qwen2.5:7b", "resources": {"memory": "4Gi"}}]
    one_problem(raw, "slmkit:servers[0].resources.memory", "= 4Gi", "qwen2.5:7b needs about", "set memory to at least")


def test_startup_timeout_below_what_the_model_needs():
    one_problem(with_server(startupTimeoutSeconds=60), "slmkit:servers[0].startupTimeoutSeconds",
                "probes would kill it mid-load")


def test_secrets_in_extra_args_are_refused():
    line = one_problem(with_server(extraArgs=["--api-key=s3cr3t-value"]), "slmkit:servers[0].extraArgs",
                       "must not be passed as an argument")
    assert "s3cr3t-value" not in line  # the error itself must not leak the secret


def test_latest_tag_is_refused():
    one_problem(with_server(image={"tag": "latest"}), "slmkit:servers[0].image.tag", "not a pinned version")


def test_every_problem_is_reported_at_once():
    raw = with_server(tensorParallel=4, replicas={"min": 3, "max": 1})
    assert len(problems(raw)) == 2


def test_unpinned_revision_is_a_warning_not_an_error():
    raw = with_server()
    del raw["servers"][0]["revision"]
    loaded = validate_raw(raw, FILE, set())
    assert any("revision" in w and "not pinned" in w for w in loaded.warning_lines())


ONNX_CONVERT = {"name": "phi-cpu", "engine": "onnx", "model": "microsoft/Phi-4-mini-instruct", "nodePool": "cpu",
                "gpus": 0, "maxModelLen": 4096}


@pytest.mark.parametrize("environment", ["local", "dev", "prod"])
@pytest.mark.parametrize("revision", [None, "0123abc"])
def test_an_onnx_conversion_without_a_full_commit_sha_is_an_error_at_preview(environment, revision):
    """The converter exits 2 without a 40-character SHA: in every environment the plan refuses it,
    rather than a Job failing in the cluster."""
    raw = copy.deepcopy(BASE)
    raw["environment"] = environment
    raw["servers"] = [{**ONNX_CONVERT, **({"revision": revision} if revision else {})}]
    one_problem(raw, "slmkit:servers[0].revision", "40-character commit SHA", "set revision to the commit of "
                "microsoft/Phi-4-mini-instruct")
    raw["servers"][0]["revision"] = "0123456789abcdef0123456789abcdef01234567"
    validate_raw(raw, FILE, set())


def test_a_prebuilt_onnx_repo_without_revision_only_warns():
    raw = copy.deepcopy(BASE)
    raw["servers"] = [{**ONNX_CONVERT, "onnx": {"source": "prebuilt", "prebuiltRepo": "microsoft/Phi-4-mini-instruct-onnx"}}]
    loaded = validate_raw(raw, FILE, set())
    assert any("servers[0].revision" in w and "not pinned" in w for w in loaded.warning_lines())


def test_spot_gpu_pool_in_prod_warns():
    raw = with_server()
    raw["environment"] = "prod"
    raw["nodePools"][1]["spot"] = True
    loaded = validate_raw(raw, FILE, set())
    assert any("nodePools[1].spot" in w for w in loaded.warning_lines())


def test_duplicate_served_model_names_would_break_routing():
    raw = copy.deepcopy(BASE)
    raw["servers"].append({**raw["servers"][0], "name": "phi2"})
    one_problem(raw, "slmkit:servers[1].servedModelName", "already serves this model name")
