"""slmkit policy pack: `pulumi preview --stack NAME --policy-pack policy`.

The rules live in rules/ as plain functions; the offline plan runs the same functions."""

from pulumi_policy import PolicyPack
from rules.pack import build_policies

PolicyPack(name="slmkit", policies=build_policies())
