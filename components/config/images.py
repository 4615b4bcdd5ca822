"""Where the images the kit runs come from, besides the model servers' own `servers[].image`.

The kit-built images (docker/: the load-test image, the ONNX conversion image) default to
`<registry>/<name>:<kit version>`, which is what `make images REGISTRY=...` and the release
workflow publish. Every image takes a tag or a digest here, so the policy pack's digest advice
always names a key that exists (`image_key()`).
"""

from __future__ import annotations

import re

from pydantic import Field

from components.catalog import images as catalog

from .base import ConfigModel
from .servers import ImageRef

REGISTRY = r"^[a-zA-Z0-9.-]+(?::[0-9]+)?(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$"


class Images(ConfigModel):
    # The registry (and path) of the kit-built images: `make images REGISTRY=...` pushes there.
    registry: str = Field(default=catalog.KIT_REGISTRY, pattern=REGISTRY)
    loadtest: ImageRef = Field(default_factory=ImageRef)  # the gate Job and the Locust UI
    onnx_convert: ImageRef = Field(default_factory=ImageRef)  # the ONNX servers' model-conversion Job
    ratelimit_store: ImageRef = Field(default_factory=ImageRef)  # Valkey for the gateway's rate limits

    def kit(self, key: str) -> ImageRef:
        """The resolved ref of a kit-built image: 'loadtest' or 'onnx-convert'."""
        built = catalog.KIT_IMAGES[key]
        ref = self.loadtest if key == "loadtest" else self.onnx_convert
        return ref.model_copy(update={"repository": ref.repository or f"{self.registry}/{built.name}",
                                      "tag": ref.tag or built.tag})

    def ratelimit(self) -> ImageRef:
        repo, tag = catalog.RATELIMIT_STORE_IMAGE
        r = self.ratelimit_store
        return r.model_copy(update={"repository": r.repository or repo, "tag": r.tag or tag})


# Pod-template annotation naming the stack key that sets a container's image: the policy pack reads
# it, so its advice says exactly what to set.
IMAGE_KEY_ANNOTATION = "image-key.slmkit.io/"


def image_key_annotations(keys: dict[str, str]) -> dict[str, str]:
    """{container name: 'servers[0].image'} -> annotations naming `slmkit:<key>` per container."""
    return {f"{IMAGE_KEY_ANNOTATION}{name}": f"slmkit:{key}" for name, key in keys.items()}


def server_image_key(index: int) -> str:
    return f"servers[{index}].image"


IMAGE_KEYS = ("images.loadtest", "images.onnxConvert", "images.ratelimitStore")
_KEY = re.compile(r"^servers\[\d+\]\.image$")


def is_image_key(key: str) -> bool:
    return key in IMAGE_KEYS or bool(_KEY.match(key))


def pull_policy_skip(ref: ImageRef) -> dict[str, str]:
    """checkov's CKV_K8S_15 wants pullPolicy Always; a stack that side-loads an image into a local
    cluster sets IfNotPresent on purpose. The skip is on that workload only, with the key as reason."""
    if ref.pull_policy == "Always":
        return {}
    return {"checkov.io/skip1": f"CKV_K8S_15=pullPolicy {ref.pull_policy} set in the stack file for a side-loaded image"}
