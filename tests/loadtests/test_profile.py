"""Profiles and SLO rules: the built-ins load, bad input gets a message that says where and how to fix it."""


import pytest

from loadtests.gate import Target, build_parser, effective_profile, locust_command
from loadtests.profile import PROFILES_DIR, ProfileError, Rule, gate_rules, load_profile


@pytest.mark.parametrize("name", ["smoke", "local", "dev", "staging", "prod"])
def test_builtin_profiles_load_with_rules(name):
    profile = load_profile(name)
    assert profile.slo, f"{name} has SLO rules"
    assert any(r.metric == "error_rate" for r in profile.slo)
    assert (PROFILES_DIR / f"{name}.yaml").is_file()


def test_rule_parsing_and_evaluation():
    rule = Rule.parse("ttft_ms.p95<=500")
    assert (rule.metric, rule.stat, rule.op, rule.threshold) == ("ttft_ms", "p95", "<=", 500)
    assert rule.holds(499.9) and not rule.holds(500.1) and not rule.holds(None)
    assert Rule.parse("output_tokens_per_s>=200").holds(250)
    assert Rule.parse("e2el_ms.p99 < 30000").name == "e2el_ms.p99<30000"


@pytest.mark.parametrize("text, message", [
    ("ttft_ms<=3", "needs a stat"),
    ("latency.p95<=1", "unknown metric 'latency'"),
    ("error_rate.p95<=0.1", "single number"),
    ("ttft_ms.p95=<3", "expected METRIC[.STAT] OP NUMBER"),
    ("ttft_ms.p42<=3", "needs a stat"),
])
def test_bad_rules_explain_the_fix(text, message):
    with pytest.raises(ProfileError, match=message.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")):
        Rule.parse(text)


def test_bad_profile_names_file_and_field(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("load:\n  users: 0\n  colour: blue\nslo: ['ttft_ms.p95<=100']\n")
    with pytest.raises(ProfileError) as err:
        load_profile(str(path))
    assert str(path) in str(err.value) and "load.users" in str(err.value) and "load.colour" in str(err.value)
    with pytest.raises(ProfileError, match="built-in: dev, local, prod, smoke, staging"):
        load_profile("nope")
    path.write_text("load:\n  mode: rate\n")
    with pytest.raises(ProfileError, match="needs load.rate"):
        load_profile(str(path))


def test_overrides_replace_profile_values_and_add_rules():
    args = build_parser().parse_args(["--host", "http://x", "--profile", "dev", "--rate", "3", "--duration", "9",
                                      "--max-tokens", "7", "--slo", "ttft_ms.p50<=100"])
    profile = effective_profile(args)
    assert (profile.load.mode, profile.load.rate, profile.load.duration_s) == ("rate", 3, 9)
    assert profile.workload.max_tokens == 7
    # --slo adds to the profile's rules (all must hold: it can tighten, never loosen) ...
    assert [(r.name, r.source) for r in profile.slo] == [("error_rate<=0.01", "profile"), ("ttft_ms.p95<=2000", "profile"),
                                                         ("tpot_ms.p95<=100", "profile"), ("ttft_ms.p50<=100", "cli")]
    # ... and the built-in error budget comes first in every run, even with a profile without rules.
    assert [(r.name, r.source) for r in gate_rules([])] == [("error_rate<=0.05", "builtin")]
    assert [r.name for r in gate_rules([Rule.parse("error_rate<=0.5"), Rule.parse("error_rate<=0.05")])] == [
        "error_rate<=0.05", "error_rate<=0.5"]  # a looser profile rule is added, the floor still holds
    # the header and summary.json say what ran: the file's description plus the command-line changes
    assert profile.description.endswith("[command line: max_tokens=7, mode=rate, rate=3, duration_s=9, slo+=ttft_ms.p50<=100]")
    plain = effective_profile(build_parser().parse_args(["--host", "http://x", "--profile", "dev"]))
    assert "command line" not in plain.description
    both = build_parser().parse_args(["--host", "http://x", "--users", "2", "--rate", "3"])
    with pytest.raises(ProfileError, match="give one"):
        effective_profile(both)


@pytest.mark.parametrize("validity", ["max_incomplete_ratio: 0.9", "max_loop_lag_ms: 5000", "min_rate_ratio: 0.1"])
def test_a_profile_cannot_switch_a_validity_check_off(tmp_path, validity):
    path = tmp_path / "lax.yaml"
    path.write_text(f"validity: {{{validity}}}\n")
    with pytest.raises(ProfileError, match=validity.split(":")[0]):
        load_profile(str(path))


def test_api_key_never_on_the_locust_command_line(tmp_path):
    profile = load_profile("smoke")
    cmd = locust_command(profile, Target("http://127.0.0.1:1", "sk-very-secret", "m"), tmp_path)
    assert not any("sk-very-secret" in part for part in cmd)
    assert cmd[-1] == "ClosedLoopUser" and "--measure-s" in cmd
