"""`LoadTest`: the gate Jobs after the servers (and the gateway) are ready, and the Locust web UI."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.context import StackContext
from components.k8s.declare import declare
from components.platform.secrets import secret_object
from components.traffic.access import gateway_of

from . import common, gate, gate_result, ui

GRACE_S = 120  # Pulumi waits a little longer than the Job's own deadline, so the Job reports first


def _uid(metadata) -> str | None:
    """The Job's UID from its metadata output (a typed ObjectMeta, or a dict)."""
    if metadata is None:
        return None
    return metadata.get("uid") if isinstance(metadata, dict) else getattr(metadata, "uid", None)


class LoadTest(pulumi.ComponentResource):
    def __init__(self, ctx: StackContext, servers: list, after: list[pulumi.Resource] | None = None,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("slmkit:loadtest:LoadTest", "loadtest", None, opts)
        cfg, ns = ctx.cfg, ctx.cfg.namespaces.loadtest
        endpoints = [s.endpoint for s in servers]
        base = [declare(common.service_account(cfg), ctx.opts(parent=self, namespace=ns))]
        base += list(getattr(ctx.secrets, "resources", []))
        ready = [s.deployment for s in servers] + list(after or [])
        if cfg.gateway.enabled:
            gw = gateway_of(ctx, "the load test")
            base.append(declare(secret_object(common.GATEWAY_KEY_SECRET, ns, {common.GATEWAY_KEY_FIELD: gw.client_key()}),
                                ctx.opts(parent=self, namespace=ns)))
            ready += gw.ready  # the gateway's Certificate is Ready: the gate calls it over TLS
        timeout = f"{gate.deadline_seconds(cfg) + GRACE_S}s"
        # The gate's own ServiceAccount, Role and result ConfigMaps exist before any gate Job starts.
        result_objs = [declare(obj, ctx.opts(parent=self, namespace=ns)) for obj in gate_result.objects_for(cfg, endpoints)]
        specs = gate.gate_jobs(cfg, endpoints)
        self.gate_jobs = [
            declare(job, ctx.opts(parent=self, namespace=ns, depends_on=base + result_objs + ready,
                                  custom_timeouts=pulumi.CustomTimeouts(create=timeout, update=timeout)))
            for job in specs
        ]

        outputs: dict = {"gateJobs": [j["metadata"]["name"] for j in specs]}
        # `pulumi stack output gate`: per server, the Job, what it tested, whether it passed (the Job's
        # status) and the verdict and figures the gate recorded in its result ConfigMap.
        ctx.outputs["gate"] = {
            ep.name: self._gate_output(ctx, ep, spec, job) for ep, spec, job in zip(endpoints, specs, self.gate_jobs, strict=True)
        } if self.gate_jobs else {}
        if cfg.loadtest.ui.enabled and endpoints:
            outputs.update(self._ui(ctx, endpoints, base))
        ctx.outputs["loadtest"] = {k: v for k, v in outputs.items() if k != "uiPassword"}
        if "uiPassword" in outputs:
            ctx.outputs["locustUiPassword"] = outputs["uiPassword"]
        self.register_outputs({"gateJobs": outputs["gateJobs"]})

    def _gate_output(self, ctx: StackContext, ep, spec: dict, job: pulumi.Resource) -> dict:
        cfg, ns, name = ctx.cfg, ctx.cfg.namespaces.loadtest, spec["metadata"]["name"]
        cm = gate_result.config_map_name(ep)
        # Read after the Job: the ID comes from the Job's status, which is unknown in a preview exactly
        # when the Job is created or replaced, and the engine skips a read with an unknown ID
        # (upstream.PULUMI_READ_SKIPPED_FOR_UNKNOWN_ID): no stale result is shown as this Job's.
        read = k8s.core.v1.ConfigMap.get(f"{ns}/{cm}/result", job.status.apply(lambda _: f"{ns}/{cm}"),
                                         opts=ctx.opts(parent=self))
        return {"job": name, "profile": cfg.loadtest.profile, "target": common.target_for(cfg, ep).url,
                "passed": job.status.apply(lambda s: bool(s and s.get("succeeded"))),
                "result": pulumi.Output.all(read.data, job.metadata).apply(
                    lambda args: gate_result.stack_result(args[0], name, _uid(args[1])))}

    def _ui(self, ctx: StackContext, endpoints, base: list[pulumi.Resource]) -> dict:
        cfg, ns = ctx.cfg, ctx.cfg.namespaces.loadtest
        password = random.RandomPassword("locust-ui-password", length=32, special=False,
                                         opts=pulumi.ResourceOptions(parent=self)).result
        session_key = random.RandomPassword("locust-ui-session-key", length=64, special=False,
                                            opts=pulumi.ResourceOptions(parent=self)).result
        login = declare(ui.login_secret(cfg, pulumi.Output.secret(password), pulumi.Output.secret(session_key)),
                        ctx.opts(parent=self, namespace=ns))
        for obj in ui.ui_objects(cfg, endpoints):
            declare(obj, ctx.opts(parent=self, namespace=ns, depends_on=base + [login]))
        return {
            "uiPortForward": f"kubectl -n {ns} port-forward svc/{ui.MASTER} {ui.WEB_PORT}:{ui.WEB_PORT}",
            "uiUser": ui.LOGIN_USER,
            "uiPassword": pulumi.Output.secret(password),
        }
