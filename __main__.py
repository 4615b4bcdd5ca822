"""slmkit: a measured small-language-model service on Kubernetes. `pulumi up` runs this."""

import pulumi

from components.config import ConfigError, load_from_pulumi
from components.stack import build_stack

try:
    loaded = load_from_pulumi()
except ConfigError as err:
    # Every problem at once, before anything is declared.
    raise pulumi.RunError(str(err)) from None

for name, value in build_stack(loaded).outputs.items():
    pulumi.export(name, value)
