"""Every digest advisory names a stack key that exists: setting the digest there pins the image and
silences the advice (issue 19: they used to advise `image.digest` on images without such a key)."""

from __future__ import annotations

import json
import re

import yaml

from components.offline.policy_check import check_resources
from tests.fixtures.plans import REPO, render_plan

DIGEST_RULES = {"model-server-image-digest", "image-digest-in-prod"}
KEY = re.compile(r"then set slmkit:(\S+)\.digest in the stack file$")
PATH = re.compile(r"([a-zA-Z]+)(?:\[(\d+)\])?")


def digest_advice(plan_dir) -> list:
    found = check_resources(json.loads((plan_dir / "resources.json").read_text()), "prod")
    return [v for v in found if v.rule in DIGEST_RULES]


def set_digest(config: dict, key: str, digest: str) -> None:
    """Set `<key>.digest` (key like `servers[1].image` or `images.loadtest`) in a stack file's config."""
    first, *rest = key.split(".")
    name, index = PATH.fullmatch(first).groups()
    node = config.setdefault(f"slmkit:{name}", [] if index else {})
    if index:
        node = node[int(index)]
    for part in rest:
        node = node.setdefault(part, {})
    node["digest"] = digest


def images_of(plan_dir) -> set[str]:
    text = "".join(p.read_text() for p in (plan_dir / "manifests").glob("*.yaml"))
    return set(re.findall(r"image: (\S+)", text))


def test_each_digest_advice_names_a_key_that_pins_the_image(rendered_plans, tmp_path):
    advice = digest_advice(rendered_plans["prod"])
    assert advice, "the shipped prod stack pins no digest, so the advice must appear"
    keys = {}
    for v in advice:
        match = KEY.search(v.message)
        assert match, f"advice without a stack key: {v}"
        keys[match.group(1)] = v
    # The four images that had no key: the gate and UI image, the ONNX conversion image, Valkey.
    assert {"images.loadtest", "images.onnxConvert", "images.ratelimitStore"} <= set(keys)

    doc = yaml.safe_load((REPO / "stacks" / "Pulumi.prod.yaml").read_text())
    digests = {key: "sha256:" + f"{i:x}" * 64 for i, key in enumerate(sorted(keys), start=1)}
    for key, digest in digests.items():
        set_digest(doc["config"], key, digest)
    stack_file = tmp_path / "Pulumi.prod.yaml"
    stack_file.write_text(yaml.safe_dump(doc, sort_keys=False))
    result = render_plan(["--config-file", str(stack_file)], tmp_path / "plan")
    assert result.returncode == 0, result.stderr[-3000:]

    assert digest_advice(tmp_path / "plan") == []
    pinned = {image.split("@")[1] for image in images_of(tmp_path / "plan") if "@" in image}
    assert pinned == set(digests.values())
