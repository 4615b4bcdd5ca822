"""slmkit load tests: a Locust validator for OpenAI-compatible streaming servers and a pass/fail gate.

Entry point: ``python -m loadtests {run,sweep,smoke,reference-server} ...``.
"""

# Exit codes of the gate, shared by `run`, `sweep` and `smoke`.
EXIT_PASS = 0
EXIT_SLO_FAILED = 10
EXIT_INVALID = 20
EXIT_PREFLIGHT_FAILED = 30
