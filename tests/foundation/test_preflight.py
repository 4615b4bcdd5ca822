"""`make deploy` stops with one clear line when a prerequisite is missing."""

from __future__ import annotations

import socket

import pytest
import yaml

from components import preflight


def write_kubeconfig(path, server: str, current: str | None = "kind-slmkit") -> str:
    doc = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "kind-slmkit", "cluster": {"server": server}}],
        "contexts": [{"name": "kind-slmkit", "context": {"cluster": "kind-slmkit", "user": "u"}}],
        "users": [{"name": "u", "user": {}}],
    }
    if current:
        doc["current-context"] = current
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_missing_kubeconfig_names_how_to_make_a_cluster(tmp_path):
    with pytest.raises(preflight.Missing, match="kind create cluster"):
        preflight.resolve_context(str(tmp_path / "nope"), None)


def test_unknown_context_lists_the_known_ones(tmp_path):
    cfg = write_kubeconfig(tmp_path / "config", "https://127.0.0.1:6443")
    with pytest.raises(preflight.Missing, match=r"'prod-aks' is not in the kubeconfig \(contexts: kind-slmkit\)"):
        preflight.resolve_context(cfg, "prod-aks")


def test_no_current_context(tmp_path):
    cfg = write_kubeconfig(tmp_path / "config", "https://127.0.0.1:6443", current=None)
    with pytest.raises(preflight.Missing, match="no current context"):
        preflight.resolve_context(cfg, None)


def test_unreachable_cluster_is_reported_with_the_address(tmp_path):
    server = f"https://127.0.0.1:{closed_port()}"
    name, resolved = preflight.resolve_context(write_kubeconfig(tmp_path / "config", server), None)
    with pytest.raises(preflight.Missing, match=f"unreachable at {server}"):
        preflight.check_reachable(name, resolved, timeout=1)


def test_reachable_cluster_passes(tmp_path):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        server = f"https://127.0.0.1:{listener.getsockname()[1]}"
        name, resolved = preflight.resolve_context(write_kubeconfig(tmp_path / "config", server), None)
        preflight.check_reachable(name, resolved, timeout=1)


def test_missing_pulumi_cli_says_how_to_install(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(preflight.Missing, match="get.pulumi.com"):
        preflight.check_pulumi_cli()


# --- Gateway API CRDs already on the cluster (a fake kubectl on PATH answers) ----------------------

FAKE_KUBECTL = """#!/bin/sh
echo "$@" > "$(dirname "$0")/args"
case "$FAKE_CRD" in
  none) echo 'Error from server (NotFound): customresourcedefinitions.apiextensions.k8s.io "gateways.gateway.networking.k8s.io" not found' >&2; exit 1;;
  forbidden) echo 'Error from server (Forbidden): customresourcedefinitions is forbidden' >&2; exit 1;;
  *) printf '%s' "$FAKE_CRD";;
esac
"""


@pytest.fixture
def fake_kubectl(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool, body in (("kubectl", FAKE_KUBECTL), ("pulumi", "#!/bin/sh\nexit 0\n")):
        (bin_dir / tool).write_text(body)
        (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")

    def answer(value: str) -> None:
        monkeypatch.setenv("FAKE_CRD", value)

    answer.args = lambda: (bin_dir / "args").read_text().split()
    return answer


def test_no_gateway_api_crds_yet_is_fine_and_asks_the_right_context(fake_kubectl):
    fake_kubectl("none")
    note = preflight.check_gateway_api_crds("kind-slmkit", "/tmp/kc")
    assert "no Gateway API CRDs yet" in note and "v1.6.1 experimental" in note
    args = fake_kubectl.args()
    assert args[:4] == ["--context", "kind-slmkit", "--kubeconfig", "/tmp/kc"]
    assert args[4:7] == ["get", "crd", "gateways.gateway.networking.k8s.io"]
    assert "gateway\\.networking\\.k8s\\.io/channel" in args[-1]


def test_standard_channel_crds_stop_the_deploy_with_what_to_do(fake_kubectl):
    fake_kubectl("standard|v1.5.0|kubectl-client-side-apply")
    with pytest.raises(preflight.Missing) as err:
        preflight.check_gateway_api_crds("aks-prod", None)
    line = str(err.value)
    assert "\n" not in line
    assert "standard channel (channel standard, bundle v1.5.0)" in line and "safe-upgrades" in line
    assert "xargs kubectl delete" in line and "--kubeconfig" not in fake_kubectl.args()


def test_experimental_crds_from_an_earlier_deploy_pass(fake_kubectl):
    fake_kubectl("experimental|v1.6.1|pulumi-kubernetes-7a3f2c1e kube-apiserver")
    assert "earlier deploy" in preflight.check_gateway_api_crds("kind-slmkit", None)


def test_crds_another_tool_installed_stop_the_deploy(fake_kubectl):
    fake_kubectl("experimental|v1.4.0|helm")
    with pytest.raises(preflight.Missing, match="another tool installed.*managed by helm.*helm uninstall"):
        preflight.check_gateway_api_crds("kind-slmkit", None)


def test_unreadable_crds_are_reported_not_ignored(fake_kubectl):
    fake_kubectl("forbidden")
    with pytest.raises(preflight.Missing, match="could not read CRD.*Forbidden"):
        preflight.check_gateway_api_crds("kind-slmkit", None)


def test_the_check_runs_for_existing_clusters_with_a_gateway(fake_kubectl, tmp_path):
    from tests.fixtures.plans import REPO

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        kubeconfig = write_kubeconfig(tmp_path / "config", f"https://127.0.0.1:{listener.getsockname()[1]}")
        stack = yaml.safe_load((REPO / "stacks" / "Pulumi.local.yaml").read_text())
        stack["config"]["slmkit:cluster"] = {**stack["config"].get("slmkit:cluster", {}), "kind": "existing",
                                             "kubeconfig": kubeconfig}
        stack["config"]["slmkit:gateway"] = {"enabled": True}
        stack_file = tmp_path / "Pulumi.gw.yaml"
        stack_file.write_text(yaml.safe_dump(stack))
        fake_kubectl("standard|v1.6.1|kubectl")
        with pytest.raises(preflight.Missing, match="standard channel"):
            preflight.check(stack_file, "stacks/Pulumi.gw.yaml")
        fake_kubectl("none")
        assert "no Gateway API CRDs yet" in preflight.check(stack_file, "stacks/Pulumi.gw.yaml")
# --- the whole report: every missing prerequisite at once ---------------------------------------

LOCAL_STACK = preflight.Path(__file__).resolve().parents[2] / "stacks" / "Pulumi.local.yaml"


def tool_dir(tmp_path, *names: str) -> str:
    """A PATH holding executables of these names (preflight only looks them up)."""
    d = tmp_path / "bin"
    d.mkdir(exist_ok=True)
    for name in names:
        exe = d / name
        exe.write_text("#!/bin/sh\nexit 0\n")
        exe.chmod(0o755)
    return str(d)


def report(monkeypatch, tmp_path, tools: tuple[str, ...], kubeconfig: str | None) -> tuple[int, list[str]]:
    monkeypatch.setenv("PATH", tool_dir(tmp_path, *tools))
    monkeypatch.setenv("KUBECONFIG", kubeconfig or str(tmp_path / "no-kubeconfig"))
    try:
        preflight.check(LOCAL_STACK, "stacks/Pulumi.local.yaml")
    except preflight.Missing as err:
        return 1, str(err).splitlines()
    return 0, []


@pytest.fixture
def cluster(tmp_path):
    """A kind context whose API server address answers (a listening socket on loopback)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield write_kubeconfig(tmp_path / "config", f"https://127.0.0.1:{listener.getsockname()[1]}")


ALL_TOOLS = ("pulumi", "docker", "kind")


def test_nothing_missing_passes(monkeypatch, tmp_path, cluster):
    assert report(monkeypatch, tmp_path, ALL_TOOLS, cluster) == (0, [])


@pytest.mark.parametrize("missing, words", [
    ("pulumi", "get.pulumi.com"),
    ("kind", "side-loads the load-test image with `kind`"),
])
def test_each_missing_tool_is_reported_with_its_fix(monkeypatch, tmp_path, cluster, missing, words):
    code, lines = report(monkeypatch, tmp_path, tuple(t for t in ALL_TOOLS if t != missing), cluster)
    assert code == 1 and len(lines) == 1 and words in lines[0]


def test_without_docker_the_cluster_cli_is_not_needed(monkeypatch, tmp_path, cluster):
    # No Docker: nothing is side-loaded (the cluster pulls the published image), so kind is optional.
    assert report(monkeypatch, tmp_path, ("pulumi",), cluster) == (0, [])


def test_missing_kubeconfig_is_reported(monkeypatch, tmp_path):
    code, lines = report(monkeypatch, tmp_path, ALL_TOOLS, None)
    assert code == 1 and len(lines) == 1 and "kind create cluster" in lines[0]


def test_unreachable_cluster_is_reported(monkeypatch, tmp_path):
    cfg = write_kubeconfig(tmp_path / "config", f"https://127.0.0.1:{closed_port()}")
    code, lines = report(monkeypatch, tmp_path, ALL_TOOLS, cfg)
    assert code == 1 and len(lines) == 1 and "unreachable" in lines[0]


def test_every_missing_prerequisite_is_reported_at_once(monkeypatch, tmp_path, capsys):
    cfg = write_kubeconfig(tmp_path / "config", f"https://127.0.0.1:{closed_port()}")
    code, lines = report(monkeypatch, tmp_path, ("docker",), cfg)
    assert code == 1
    assert [next(w for w in ("get.pulumi.com", "unreachable", "`kind`") if w in line) for line in lines] == \
        ["get.pulumi.com", "unreachable", "`kind`"]
    # The command prints a count and one `preflight:` line per problem.
    assert preflight.main(["--stack", "local"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "preflight: 3 prerequisite(s) missing for stack local:" and len(err) == 4


def test_azure_stacks_report_cli_kubelogin_together(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", tool_dir(tmp_path))
    assert [("Azure CLI" in m, "kubelogin" in m) for m in preflight.check_azure()] == [(True, False), (False, True)]


# --- which Vertical Pod Autoscaler an existing cluster runs (a kubectl stand-in on PATH) --------------

RECOMMENDER = {"items": [
    {"metadata": {"namespace": "kube-system", "name": "vpa-recommender"},
     "spec": {"template": {"spec": {"containers": [{"image": "registry.k8s.io/autoscaling/vpa-recommender:1.4.1"}]}}}},
    {"metadata": {"namespace": "default", "name": "web"},
     "spec": {"template": {"spec": {"containers": [{"image": "nginx:1.27"}]}}}}]}


def fake_vpa_kubectl(tmp_path, monkeypatch, has_crd: bool) -> None:
    import json
    import os

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    listing = tmp_path / "deployments.json"
    listing.write_text(json.dumps(RECOMMENDER))
    script = bin_dir / "kubectl"
    script.write_text("#!/bin/sh\ncase \"$*\" in\n"
                      f"  *'get crd'*) {'echo customresourcedefinition/x' if has_crd else 'echo NotFound >&2; exit 1'} ;;\n"
                      f"  *'get deployments'*) cat {listing} ;;\nesac\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


def test_preflight_names_the_clusters_vpa_and_hints_to_enable_it(tmp_path, monkeypatch):
    fake_vpa_kubectl(tmp_path, monkeypatch, has_crd=True)
    line = preflight.check_vpa("kind-slmkit", None, wanted=False)
    assert line == ("VPA: kube-system/vpa-recommender (registry.k8s.io/autoscaling/vpa-recommender:1.4.1); "
                    "set slmkit:verticalScaling.enabled: true for recommendations")
    assert preflight.check_vpa("kind-slmkit", None, wanted=True).startswith("VPA: kube-system/vpa-recommender")


def test_preflight_stops_when_the_stack_wants_a_vpa_the_cluster_lacks(tmp_path, monkeypatch):
    fake_vpa_kubectl(tmp_path, monkeypatch, has_crd=False)
    assert preflight.check_vpa("kind-slmkit", None, wanted=False) == "VPA: none in the cluster"
    with pytest.raises(preflight.Missing, match="verticalScaling.enabled: false"):
        preflight.check_vpa("kind-slmkit", None, wanted=True)
