"""slmkit's Pulumi policy pack.

`policy/` is both a policy pack (`pulumi preview --policy-pack policy` runs `__main__.py` in its own
venv) and a Python package, so the offline plan and the tests call the same rule functions.
"""
