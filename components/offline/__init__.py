"""The offline plan: run the real program under Pulumi's mock engine and write what it declares.

    python -m components.offline --stack prod --out plans/prod
    python -m components.offline --config-file path/to/Pulumi.mystack.yaml --out DIR

Exit codes: 0 written; 2 invalid config (every message on stderr, nothing written); 3 a mandatory
policy rule failed (rule names on stderr; the plan is still written for review).
"""

from .engine import PlanResult, run_plan

__all__ = ["PlanResult", "run_plan"]
