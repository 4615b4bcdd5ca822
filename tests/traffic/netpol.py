"""A small NetworkPolicy evaluator (the semantics of networking.k8s.io/v1) so tests can ask
"may A reach B on port P" instead of comparing dicts.

`Node` is an address of a node (kubelet, host-network pods such as node exporter) as AKS with
Cilium sees it: no ipBlock selects it (AKS docs: ipBlock cannot select node or pod IPs), no pod or
namespace selector either (it has no pod labels); only a rule without peers reaches it. For the
same reason an ipBlock never selects a Pod here, only External addresses."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Pod:
    namespace: str
    labels: dict[str, str] = field(default_factory=dict)
    ip: str = "10.244.0.10"

    @property
    def namespace_labels(self) -> dict[str, str]:
        return {"kubernetes.io/metadata.name": self.namespace}


@dataclass(frozen=True)
class External:
    ip: str


@dataclass(frozen=True)
class Node:
    ip: str = "10.224.0.4"


def _expression(expr: dict, labels: dict[str, str]) -> bool:
    key, op, values = expr["key"], expr["operator"], expr.get("values", [])
    if op == "In":
        return labels.get(key) in values
    if op == "NotIn":
        return labels.get(key) not in values  # a missing label is "not in" (LabelSelector semantics)
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    raise AssertionError(f"unknown selector operator {op}")


def _matches(selector: dict, labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels", "matchExpressions"}, f"evaluator does not support {selector}"
    return (all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())
            and all(_expression(e, labels) for e in selector.get("matchExpressions", [])))


def _peer_matches(peer: dict, other, policy_namespace: str) -> bool:
    if isinstance(other, Node):
        return False
    if "ipBlock" in peer:
        if not isinstance(other, External):
            return False
        addr = ipaddress.ip_address(other.ip)
        block = peer["ipBlock"]
        return addr in ipaddress.ip_network(block["cidr"]) and not any(
            addr in ipaddress.ip_network(e) for e in block.get("except", []))
    if isinstance(other, External):
        return False
    if "namespaceSelector" in peer:
        if not _matches(peer["namespaceSelector"], other.namespace_labels):
            return False
    elif other.namespace != policy_namespace:
        return False
    return "podSelector" not in peer or _matches(peer["podSelector"], other.labels)


def _rule_allows(rule: dict, peers_key: str, other, port: int, protocol: str, ns: str) -> bool:
    peers = rule.get(peers_key)
    ports = rule.get("ports")
    peer_ok = not peers or any(_peer_matches(p, other, ns) for p in peers)
    port_ok = not ports or any(p.get("port") == port and p.get("protocol", "TCP") == protocol for p in ports)
    return peer_ok and port_ok


def _direction(policies: list[dict], pod: Pod, kind: str, other, port: int, protocol: str) -> bool:
    selecting = [p for p in policies if p["metadata"]["namespace"] == pod.namespace
                 and kind in p["spec"]["policyTypes"] and _matches(p["spec"]["podSelector"], pod.labels)]
    if not selecting:
        return True  # no policy selects the pod for this direction: allowed
    key, peers_key = ("ingress", "from") if kind == "Ingress" else ("egress", "to")
    return any(_rule_allows(rule, peers_key, other, port, protocol, pod.namespace)
               for p in selecting for rule in p["spec"].get(key, []))


def allowed(policies: list[dict], src, dst, port: int, protocol: str = "TCP") -> bool:
    """src/dst: Pod or External. Both the sender's egress and the receiver's ingress must allow it."""
    egress_ok = not isinstance(src, Pod) or _direction(policies, src, "Egress", dst, port, protocol)
    ingress_ok = not isinstance(dst, Pod) or _direction(policies, dst, "Ingress", src, port, protocol)
    return egress_ok and ingress_ok
