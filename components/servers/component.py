"""The model-server ComponentResource: declares what the pure builders return."""

from __future__ import annotations

import pulumi

from components.catalog import models as model_catalog
from components.context import StackContext
from components.endpoints import ServerEndpoint
from components.k8s.declare import declare

from .common import ServerInputs, server_objects
from .ollama import Ollama
from .onnx import Onnx
from .vllm import Vllm

ENGINES = {"vllm": Vllm(), "ollama": Ollama(), "onnx": Onnx()}
TYPE_TOKENS = {"vllm": "slmkit:servers:VllmServer", "ollama": "slmkit:servers:OllamaServer",
               "onnx": "slmkit:servers:OnnxServer"}


def server_inputs(ctx: StackContext, endpoint: ServerEndpoint) -> ServerInputs:
    card = model_catalog.lookup(endpoint.model, endpoint.engine)
    assert card is not None, "the config checks reject unknown models before this point"
    return ServerInputs(cfg=ctx.cfg, endpoint=endpoint, card=card, secrets=ctx.secrets.wiring,
                        has_hf_token=ctx.secrets.has_hf_token)


class ModelServer(pulumi.ComponentResource):
    """One model server: ServiceAccount, model-cache PVC, Service, PDB, engine extras, the
    preparation Jobs, then the Deployment, awaited for as long as the model may take to start."""

    def __init__(self, ctx: StackContext, endpoint: ServerEndpoint, autoscaled: bool = False,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE_TOKENS[endpoint.engine], endpoint.name, None, opts)
        inp = server_inputs(ctx, endpoint)
        before, pre_jobs, deployment = server_objects(inp, ENGINES[endpoint.engine])
        ns = endpoint.namespace
        deps = [declare(o, ctx.opts(parent=self, namespace=ns, depends_on=ctx.secrets.resources)) for o in before]
        timeout = f"{inp.budget.deploy_timeout_s}s"
        jobs = [declare(j, ctx.opts(parent=self, namespace=ns, depends_on=deps,
                                    custom_timeouts=pulumi.CustomTimeouts(create="4h", update="4h")))
                for j in pre_jobs]
        self.deployment = declare(deployment, ctx.opts(
            parent=self, namespace=ns, depends_on=deps + jobs,
            custom_timeouts=pulumi.CustomTimeouts(create=timeout, update=timeout),
            # The autoscaler owns the replica count once it exists; `pulumi up` must not reset it.
            ignore_changes=["spec.replicas"] if autoscaled else None,
        ))
        self.endpoint = endpoint
        self.startup_budget_s = inp.budget.total_s
        self.register_outputs({"service": endpoint.url, "startupBudgetSeconds": inp.budget.total_s})
