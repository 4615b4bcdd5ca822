"""The routing table: which model name the gateway sends to which server.

Every served name of a server (Ollama variants included) maps to exactly that server; the config
checks already reject a name served twice.
"""

from __future__ import annotations

from components.endpoints import ServerEndpoint


def routing_table(endpoints: list[ServerEndpoint]) -> dict[str, ServerEndpoint]:
    table: dict[str, ServerEndpoint] = {}
    for ep in endpoints:
        for name in ep.served_names:
            if name in table:
                raise ValueError(f"model name {name!r} is served by both {table[name].name} and {ep.name}")
            table[name] = ep
    return table
