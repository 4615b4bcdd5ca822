"""`Traffic`: declares the gateway, the autoscalers and the network policies of one stack."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
import pulumi_tls as tls

from components.config import NAMESPACE
from components.context import StackContext
from components.k8s.declare import declare

from . import autoscaling, gateway, keys, names, network, operators, ratelimit_store, vertical
from .access import CERTIFICATE_READY_TIMEOUT, GatewayAccess, azure_host


class Traffic(pulumi.ComponentResource):
    def __init__(self, ctx: StackContext, depends_on: list[pulumi.Resource] | None = None,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("slmkit:traffic:Traffic", "traffic", None, opts)
        cfg, endpoints = ctx.cfg, ctx.endpoints
        after = list(depends_on or [])
        scaled = autoscaling.scaled_objects(cfg, endpoints)

        store = [declare(o, ctx.opts(parent=self, namespace=cfg.namespaces.system))
                 for o in ratelimit_store.redis_objects(cfg)]
        releases: dict[str, pulumi.Resource] = {}
        previous: list[pulumi.Resource] = list(store)
        for spec in operators.releases(cfg, autoscaling=bool(scaled)):
            releases[spec.release] = self._release(ctx, spec, previous)
            previous = [releases[spec.release]]
        operators_ready = list(releases.values())

        # Isolation first: nothing the kit runs is reachable before its allow-lists exist.
        for obj in network.network_policies(cfg, endpoints):
            declare(obj, ctx.opts(parent=self, namespace=obj["metadata"]["namespace"]))

        for obj in scaled:
            declare(obj, ctx.opts(parent=self, namespace=obj["metadata"]["namespace"],
                                  depends_on=[*operators_ready, *after]))

        # VPAs only watch and recommend until a server opts into `vertical: auto`; the CRD comes with
        # the cluster's VPA (AKS: the managed one the platform turns on).
        for obj in vertical.vertical_pod_autoscalers(cfg, endpoints):
            declare(obj, ctx.opts(parent=self, namespace=obj["metadata"]["namespace"], depends_on=after))

        self.api_keys: pulumi.Output | None = None
        if cfg.gateway.enabled:
            # Not after the servers: routes and policies can exist while models are still loading.
            self._gateway(ctx, operators_ready)
        self.register_outputs({"apiKeys": self.api_keys})

    def _release(self, ctx: StackContext, spec: operators.ReleaseSpec, after: list[pulumi.Resource]) -> pulumi.Resource:
        chart = spec.chart
        opts = ctx.opts(parent=self, namespace=spec.namespace, depends_on=after)
        ref = f"{chart.repo}/{chart.name}" if chart.is_oci else chart.name
        helm = k8s.helm.v4 if spec.templated else k8s.helm.v3
        repo = None if chart.is_oci else helm.RepositoryOptsArgs(repo=chart.repo)
        if spec.templated:
            # Rendered by Pulumi and applied server-side object by object (no Helm release record);
            # a dependency on it waits for every object it renders.
            return k8s.helm.v4.Chart(spec.release, chart=ref, version=chart.version, namespace=spec.namespace,
                                     values=spec.values, skip_crds=spec.skip_crds, repository_opts=repo, opts=opts)
        args = {"name": spec.release, "namespace": spec.namespace, "chart": ref, "version": chart.version,
                "values": spec.values, "create_namespace": False, "atomic": True, "cleanup_on_fail": True,
                "timeout": 900, "skip_crds": spec.skip_crds}
        if repo is not None:
            args["repository_opts"] = repo
        return k8s.helm.v3.Release(spec.release, **args, opts=opts)

    def _private_ca(self, ctx: StackContext) -> list[pulumi.Resource]:
        """A CA of the stack's own (kept in the Pulumi state, the key as a secret) for the self-signed
        issuer, and its certificate for the namespaces whose pods call the gateway."""
        cfg = ctx.cfg
        key = tls.PrivateKey("gateway-ca-key", algorithm="ECDSA", ecdsa_curve="P256",
                             opts=pulumi.ResourceOptions(parent=self))
        cert = tls.SelfSignedCert(
            "gateway-ca", private_key_pem=key.private_key_pem, is_ca_certificate=True,
            validity_period_hours=10 * 365 * 24, allowed_uses=["cert_signing", "crl_signing", "digital_signature"],
            subject=tls.SelfSignedCertSubjectArgs(common_name=f"slmkit {cfg.environment} gateway CA",
                                                  organization="slmkit"),
            opts=pulumi.ResourceOptions(parent=self))
        created = [declare(gateway.ca_secret(cfg, cert.cert_pem, pulumi.Output.secret(key.private_key_pem)),
                           ctx.opts(parent=self, namespace=cfg.namespaces.gateway))]
        for ns in ca_client_namespaces(cfg):
            created.append(declare(gateway.ca_bundle(ns, cert.cert_pem), ctx.opts(parent=self, namespace=ns)))
        # Public: what a runner-side gate passes as `--ca-file` (deploy-stack.yml).
        ctx.outputs["gatewayCa"] = cert.cert_pem
        return created

    def _gateway(self, ctx: StackContext, after: list[pulumi.Resource]) -> None:
        cfg, endpoints = ctx.cfg, ctx.endpoints
        supplied = pulumi.Config(NAMESPACE).get_secret("apiKeys")
        client = keys.client_keys(cfg.gateway.api_key_names, supplied, self)
        secrets = [declare(keys.client_keys_secret(cfg.namespaces.gateway, client),
                           ctx.opts(parent=self, namespace=cfg.namespaces.gateway))]
        server_key = getattr(ctx.secrets, "server_api_key", None)
        if server_key is not None and any(ep.requires_api_key for ep in endpoints):
            secrets.append(declare(keys.backend_key_secret(cfg.namespaces.models, server_key),
                                   ctx.opts(parent=self, namespace=cfg.namespaces.models)))
        if gateway.uses_private_ca(cfg):
            secrets += self._private_ca(ctx)
        dns_label = self._azure_dns_label(ctx) if cfg.uses_azure_dns_label else None
        ready = []
        for obj in gateway.gateway_objects(cfg, endpoints, dns_label):
            is_certificate = obj["kind"] == "Certificate" and obj["metadata"]["name"] == names.CERTIFICATE
            timeouts = pulumi.CustomTimeouts(create=CERTIFICATE_READY_TIMEOUT, update=CERTIFICATE_READY_TIMEOUT) \
                if is_certificate else None
            declared = declare(obj, ctx.opts(parent=self, namespace=obj["metadata"].get("namespace"),
                                             depends_on=[*after, *secrets], custom_timeouts=timeouts))
            if is_certificate:
                ready.append(declared)  # Ready (its Secret holds the certificate) before anyone calls over TLS
        self.api_keys = pulumi.Output.secret(client)
        ctx.gateway = GatewayAccess(self.api_keys, list(cfg.gateway.api_key_names), ready)
        ctx.outputs["gatewayApiKeys"] = self.api_keys
        ctx.outputs["gatewayModels"] = sorted(n for ep in endpoints for n in ep.served_names)
        # From outside the cluster: the hostname, or on AKS the Azure DNS name (the certificate names both).
        ctx.outputs["gatewayUrl"] = pulumi.Output.concat("https://", azure_host(cfg, dns_label), "/v1") \
            if dns_label is not None else gateway.public_url(cfg)

    def _azure_dns_label(self, ctx: StackContext):
        """`gateway.azureDnsLabel`, else `slmkit-<environment>-<8 random characters>`: unique in the Azure
        location (Azure's rule), and kept in the state, so the name and the certificate stay put."""
        cfg = ctx.cfg
        if cfg.gateway.azure_dns_label:
            return cfg.gateway.azure_dns_label
        suffix = random.RandomString("gateway-dns-label", length=8, special=False, upper=False,
                                     opts=pulumi.ResourceOptions(parent=self))
        return pulumi.Output.concat(f"slmkit-{cfg.environment}-", suffix.result)


def ca_client_namespaces(cfg) -> list[str]:
    """Namespaces whose pods call the gateway over TLS: the load-test gate (and UI)."""
    return [cfg.namespaces.loadtest]
