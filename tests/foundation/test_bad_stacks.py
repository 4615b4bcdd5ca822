"""Broken stack files a new user writes, each run through `python -m components.offline --config-file`:
the exit code and the words the message must contain (and the secret it must never echo).

Each case is a shipped stack with one realistic mistake edited in, so the rest of the file is sound.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from components.catalog import aks_nodes
from tests.fixtures.plans import REPO, render_plan

SECRET = "hf_abcdefghijklmnopqrstuvwxyz0123456789"


def edit(stack: str, old: str, new: str) -> str:
    text = (REPO / "stacks" / f"Pulumi.{stack}.yaml").read_text()
    assert old in text, f"the case no longer applies to stacks/Pulumi.{stack}.yaml: {old!r} is gone"
    return text.replace(old, new, 1)


def append(stack: str, lines: str) -> str:
    return (REPO / "stacks" / f"Pulumi.{stack}.yaml").read_text().rstrip("\n") + "\n" + lines


LOCAL_RES = 'resources: {cpu: "2", memory: 3Gi}'
PROD_RES = 'resources: {cpu: "16", memory: 160Gi}'

# (case, stack file text, exit code, words the message must contain)
CASES = [
    ("yaml-missing-brace", edit("local", LOCAL_RES, 'resources: {cpu: "2", memory: 3Gi'), 2,
     ["expected ',' or '}'", "flow mapping that starts at line"]),
    ("yaml-tab", edit("local", "      engine: ollama", "\t  engine: ollama"), 2, ["a tab character", "spaces"]),
    ("duplicate-key", edit("local", "      engine: ollama\n", "      engine: ollama\n      engine: vllm\n"), 2,
     ["duplicate key 'engine'", "first written at line"]),
    ("duplicate-top-level-key", append("local", "  slmkit:environment: prod\n"), 2,
     ["duplicate key 'slmkit:environment'"]),
    ("not-a-mapping", "- slmkit:environment: local\n", 2, ["a stack file is a mapping"]),
    ("namespace-typo", edit("local", "  slmkit:monitoring:", "  slmkt:monitoring:"), 2,
     ["slmkt:monitoring", "not 'slmkit'", "did you mean slmkit:monitoring?"]),
    ("no-namespace", edit("local", "  slmkit:servers:", "  servers:"), 2,
     ["servers: a key without a namespace", "did you mean slmkit:servers?"]),
    ("plain-hf-token", append("dev", f"  slmkit:hfToken: {SECRET}\n"), 2,
     ["slmkit:hfToken = <redacted>", "plain text", "`pulumi config set --secret slmkit:hfToken hf_... --stack bad`"]),
    ("plain-api-keys", append("dev", f'  slmkit:apiKeys: {{"primary": "{SECRET}"}}\n'), 2,
     ["slmkit:apiKeys = <redacted>", "pulumi config set --secret slmkit:apiKeys"]),
    ("plain-grafana-password", append("dev", f"  slmkit:grafanaAdminPassword: {SECRET}\n"), 2,
     ["slmkit:grafanaAdminPassword = <redacted>", "pulumi config set --secret slmkit:grafanaAdminPassword"]),
    ("plain-oidc-secret", append("dev", f"  slmkit:chatUiOidcClientSecret: {SECRET}\n"), 2,
     ["slmkit:chatUiOidcClientSecret = <redacted>", "pulumi config set --secret slmkit:chatUiOidcClientSecret"]),
    ("memory-above-node", edit("prod", PROD_RES, 'resources: {cpu: "16", memory: 300Gi}'), 2,
     ["slmkit:servers[0].resources.memory = 300Gi", "Standard_NC24ads_A100_v4", "of 220 GiB", "at most 214Gi"]),
    ("cpu-above-node", edit("prod", PROD_RES, 'resources: {cpu: "64", memory: 160Gi}'), 2,
     ["slmkit:servers[0].resources.cpu = 64", "23.66 of 24 cores", "request at most 23.6"]),
    ("a10-is-22.4-gib", edit("staging", "      maxNumSeqs: 10\n", "      maxNumSeqs: 12\n"), 2,
     ["slmkit:servers[0].maxNumSeqs = 12", "A10 gives 20.2 GiB", "set maxNumSeqs <= 11"]),
    ("float32-kv-cache-4-bytes", edit("prod", "      dtype: bfloat16\n", "      dtype: float32\n"), 2,
     ["slmkit:servers[0].maxNumSeqs = 48", "in float32", "96.0 GiB KV cache", "set maxNumSeqs <= 28"]),
]


# Unreadable files get one line, as compilers print it: file:line:column: what is wrong.
ONE_LINE = {"yaml-missing-brace", "yaml-tab", "duplicate-key", "duplicate-top-level-key", "not-a-mapping"}


@pytest.mark.parametrize(("case", "text", "code", "words"), CASES, ids=[c[0] for c in CASES])
def test_a_bad_stack_file_is_refused_clearly(tmp_path: Path, case: str, text: str, code: int, words: list[str]):
    bad = tmp_path / "Pulumi.bad.yaml"
    bad.write_text(text)
    proc = render_plan(["--config-file", str(bad)], tmp_path / "out")
    err = proc.stderr
    assert proc.returncode == code, err
    assert "Traceback" not in err
    for word in words:
        assert word in err, f"{word!r} not in:\n{err}"
    assert SECRET not in err + proc.stdout  # a secret written in plain text is never echoed
    assert not (tmp_path / "out").exists()  # refused before anything is declared or written
    if case in ONE_LINE:
        assert re.fullmatch(rf"{re.escape(str(bad))}:\d+:\d+: [^\n]+\n", err), err
    else:
        assert all(line.startswith(f"  {bad}: ") for line in err.splitlines()[1:]), err  # file: key = value: why; fix


def test_file_problems_and_model_problems_are_reported_at_once(tmp_path: Path):
    bad = tmp_path / "Pulumi.prod.yaml"
    text = edit("prod", PROD_RES, 'resources: {cpu: "16", memory: 300Gi}').replace("  slmkit:monitoring:", "  slmkt:monitoring:", 1)
    bad.write_text(text + f"  slmkit:hfToken: {SECRET}\n")
    proc = render_plan(["--config-file", str(bad)], tmp_path / "out")
    assert proc.returncode == 2 and proc.stderr.startswith("3 problems in the slmkit config:"), proc.stderr
    assert "slmkt:monitoring" in proc.stderr and "slmkit:hfToken = <redacted>" in proc.stderr and "300Gi" in proc.stderr
    assert "--stack prod`" in proc.stderr and SECRET not in proc.stderr


def test_yaml_errors_point_at_the_line_and_column(tmp_path: Path):
    bad = tmp_path / "Pulumi.bad.yaml"
    bad.write_text(edit("local", "      engine: ollama", "\t  engine: ollama"))
    line = 1 + bad.read_text().splitlines().index("\t  engine: ollama")
    proc = render_plan(["--config-file", str(bad)], tmp_path / "out")
    assert proc.stderr == f"{bad}:{line}:1: a tab character: YAML indents with spaces only; replace the tab with spaces\n"


def test_a_stray_key_does_not_also_report_the_key_it_meant_as_missing(tmp_path: Path):
    bad = tmp_path / "Pulumi.bad.yaml"
    bad.write_text(edit("local", "  slmkit:servers:", "  servers:"))
    proc = render_plan(["--config-file", str(bad)], tmp_path / "out")
    assert "required key is missing" not in proc.stderr and "1 problem in" in proc.stderr


def test_provider_namespaces_are_left_alone(tmp_path: Path):
    ok = tmp_path / "Pulumi.ok.yaml"
    ok.write_text(append("local", "  azure-native:location: eastus2\n  kubernetes:context: kind-slmkit\n"))
    proc = render_plan(["--config-file", str(ok)], tmp_path / "out")
    assert proc.returncode == 0, proc.stderr


def test_aks_reservations_match_the_documented_examples():
    # learn.microsoft.com/azure/aks/node-resource-reservations: 8 GB and 30 pods -> 650 MB kube-reserved
    assert aks_nodes.kube_reserved_memory_mib(8, max_pods=30) == 650
    # 4 GB and 70 pods -> 25% of the memory (1 GB) is the lesser
    assert aks_nodes.kube_reserved_memory_mib(4, max_pods=70) == 1024
    assert [aks_nodes.kube_reserved_cpu_m(c) for c in (1, 2, 4, 8, 16, 32, 64)] == [60, 100, 140, 180, 260, 420, 740]
    assert aks_nodes.kube_reserved_cpu_m(24) == 340  # between 16 (260) and 32 (420)


def test_gpu_memory_is_usable_gib_not_the_data_sheets_gb():
    from components.catalog.skus import GPUS

    # GDDR6 with ECC on keeps at most 93.75% of the data sheet's figure for CUDA (nvidia-smi: T4 15079 MiB,
    # A10 23028 MiB); HBM parts keep their ECC apart but the driver still holds some (H100 NVL: 93.1 GiB).
    for name, sheet, ecc_share in (("T4", 16, 0.0625), ("A10", 24, 0.0625), ("L4", 24, 0.0625), ("H100-NVL", 94, 0)):
        assert GPUS[name].memory_gib <= sheet * (1 - ecc_share), name
    assert 14.5 <= GPUS["T4"].memory_gib <= 15.0 and 22.0 <= GPUS["A10"].memory_gib <= 22.5


def test_under_pulumi_up_a_plain_secret_and_a_stray_namespace_are_refused():
    """`pulumi up` hands the config over in PULUMI_CONFIG / PULUMI_CONFIG_SECRET_KEYS: same checks."""
    import json

    from pulumi.runtime import config as runtime_config

    from components.config import ConfigError, load_from_pulumi

    config = {"slmkit:environment": "local", "slmkit:cluster": json.dumps({"kind": "existing"}),
              "slmkit:servers": json.dumps([{"name": "q", "engine": "ollama", "model": "qwen2.5:0.5b",
                                             "resources": {"cpu": "2", "memory": "3Gi"}}]),
              "slmkit:hfToken": SECRET, "slmkt:monitoring": "{}", "azure-native:location": "eastus2"}
    saved = dict(runtime_config.CONFIG.get())
    try:
        runtime_config.set_all_config(config, [])  # hfToken set without --secret
        with pytest.raises(ConfigError) as plain:
            load_from_pulumi()
        text = str(plain.value)
        assert "slmkit:hfToken = <redacted>: a secret written in plain text" in text and SECRET not in text
        assert "slmkt:monitoring: namespace 'slmkt' is not 'slmkit'" in text and "azure-native" not in text
        runtime_config.set_all_config({k: v for k, v in config.items() if not k.startswith("slmkt:")}, ["slmkit:hfToken"])
        assert "hfToken" in load_from_pulumi().secrets_present  # set with --secret: accepted
    finally:
        runtime_config.set_all_config(saved, [])
