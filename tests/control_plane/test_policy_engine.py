"""Rego policies in process: the shipped examples, the convention, and its refusals."""

import re
import threading
import types
import typing
from pathlib import Path
from typing import Any

import pytest

import control_plane.policies
from control_plane.errors import ControlPlaneError, PolicyError
from control_plane.policies import (
    Denial,
    PolicyDecision,
    PolicyEngine,
    PolicyInput,
    PolicyModule,
    load_policy_files,
)

ROOT = Path(__file__).parents[2]
EXAMPLES = ROOT / "examples" / "policies"
DOC = ROOT / "docs" / "policies.md"
HEADER = "package flowforge.policies.{}\n\nimport rego.v1\n\n"


def policy_input(
    action: str = "publish",
    *,
    role: str | None = "editor",
    tags: tuple[str, ...] = (),
    node_types: tuple[str, ...] = ("core.http",),
    pools: tuple[str, ...] = (),
    pool: str | None = None,
) -> PolicyInput:
    task = None
    if action == "decide":
        task = {"id": "t1", "run_id": "r1", "node_id": "approve", "title": "Approve"}
    return typing.cast(
        PolicyInput,
        {
            "action": action,
            "principal": {
                "id": "u1",
                "kind": "user",
                "name": "Ada",
                "email": "ada@example.com",
                "groups": ["platform"],
                "instance_admin": False,
                "role": role,
            },
            "workspace": {"id": "ws1", "name": "Acme"},
            "project": {"id": "p1", "name": "payroll", "tags": list(tags)},
            "workflow": {
                "id": "wf1",
                "name": "monthly-run",
                "version": 3,
                "node_types": sorted(set(node_types)),
                "pools": sorted(set(pools)),
                "secrets": [],
            },
            "pool": pool if action == "start" else None,
            "task": task,
        },
    )


def engine_of(**sources: str) -> PolicyEngine:
    return PolicyEngine.compile([PolicyModule(f"{n}.rego", s) for n, s in sources.items()])


def policy(name: str, body: str) -> str:
    return HEADER.format(name) + body


@pytest.fixture(scope="module")
def examples() -> PolicyEngine:
    return PolicyEngine.compile(load_policy_files([EXAMPLES]))


def messages(decision: PolicyDecision, policy: str) -> list[str]:
    return [d.message for d in decision.denials if d.policy == policy]


# The shipped examples


def test_the_examples_load_as_three_policies(examples: PolicyEngine) -> None:
    assert examples.policies == ("no_code_nodes", "onprem_only", "production_owners")


@pytest.mark.parametrize(
    ("role", "tags", "action", "refused"),
    [
        ("owner", ("production",), "publish", False),
        ("editor", ("production",), "publish", True),
        ("viewer", ("production", "finance"), "publish", True),
        ("operator", ("production",), "publish", True),
        (None, ("production",), "publish", True),
        ("editor", (), "publish", False),
        ("editor", ("staging",), "publish", False),
        ("editor", ("production",), "start", False),
        ("viewer", ("production",), "decide", False),
    ],
)
def test_only_owners_publish_to_production_projects(
    examples: PolicyEngine, role: str | None, tags: tuple[str, ...], action: str, refused: bool
) -> None:
    decision = examples.evaluate(policy_input(action, role=role, tags=tags, pool="onprem"))

    expected = ["only owners may publish to projects tagged production"] if refused else []
    assert messages(decision, "production_owners") == expected
    assert decision.allowed is not refused


def test_a_refusal_names_the_policy_and_its_message(examples: PolicyEngine) -> None:
    decision = examples.evaluate(policy_input(role="viewer", tags=("production",)))

    assert decision.denials == (
        Denial("production_owners", "only owners may publish to projects tagged production"),
    )
    assert decision.refusal() == (
        "refused by policy production_owners: only owners may publish to projects tagged production"
    )


@pytest.mark.parametrize(
    ("action", "tags", "pool", "pools", "expected"),
    [
        ("start", ("onprem-only",), "onprem", ("onprem",), []),
        ("start", ("onprem-only",), "onprem", (), []),
        (
            "start",
            ("onprem-only",),
            "default",
            (),
            ["runs of projects tagged onprem-only start only on pool onprem, not default"],
        ),
        (
            "publish",
            ("onprem-only",),
            None,
            ("cloud", "onprem"),
            ["node pool cloud is not allowed in projects tagged onprem-only: use pool onprem"],
        ),
        (
            "start",
            ("onprem-only",),
            "gpu",
            ("gpu",),
            [
                "node pool gpu is not allowed in projects tagged onprem-only: use pool onprem",
                "runs of projects tagged onprem-only start only on pool onprem, not gpu",
            ],
        ),
        ("publish", ("onprem-only",), None, ("onprem",), []),
        ("start", (), "default", ("cloud",), []),
        ("decide", ("onprem-only",), None, ("cloud",), []),
    ],
)
def test_onprem_only_projects_run_on_the_onprem_pool(
    examples: PolicyEngine,
    action: str,
    tags: tuple[str, ...],
    pool: str | None,
    pools: tuple[str, ...],
    expected: list[str],
) -> None:
    decision = examples.evaluate(policy_input(action, tags=tags, pool=pool, pools=pools))

    assert messages(decision, "onprem_only") == expected


@pytest.mark.parametrize(
    ("action", "tags", "node_types", "refused"),
    [
        ("publish", ("no-code",), ("core.http", "core.code"), True),
        ("start", ("no-code",), ("core.code",), True),
        ("publish", ("no-code",), ("core.http", "core.transform"), False),
        ("publish", (), ("core.code",), False),
        ("publish", ("low-code",), ("core.code",), False),
        ("decide", ("no-code",), ("core.code",), False),
    ],
)
def test_no_code_projects_take_no_code_node(
    examples: PolicyEngine,
    action: str,
    tags: tuple[str, ...],
    node_types: tuple[str, ...],
    refused: bool,
) -> None:
    decision = examples.evaluate(
        policy_input(action, role="owner", tags=tags, node_types=node_types, pool="onprem")
    )

    expected = (
        ["workflow monthly-run has a core.code node, which projects tagged no-code do not allow"]
        if refused
        else []
    )
    assert messages(decision, "no_code_nodes") == expected


def test_two_policies_denying_at_once_give_both_denials(examples: PolicyEngine) -> None:
    decision = examples.evaluate(
        policy_input(role="editor", tags=("production", "no-code"), node_types=("core.code",))
    )

    assert [d.policy for d in decision.denials] == ["no_code_nodes", "production_owners"]
    assert decision.refusal() == (
        "refused by policy no_code_nodes: workflow monthly-run has a core.code node, which "
        "projects tagged no-code do not allow; refused by policy production_owners: only "
        "owners may publish to projects tagged production"
    )


# The convention


def test_no_policies_allow_everything() -> None:
    engine = PolicyEngine.compile([])

    decision = engine.evaluate(policy_input(role=None, tags=("production",)))

    assert decision.allowed
    assert decision.refusal() == ""
    assert engine.policies == ()


def test_a_policy_without_deny_or_whose_deny_never_fires_allows() -> None:
    engine = engine_of(
        helper=policy("helper", 'owners := {r | some r in ["owner"]}\n'),
        never=policy("never", 'deny contains "no" if input.action == "delete"\n'),
    )

    assert engine.evaluate(policy_input()).allowed
    assert engine.policies == ("helper", "never")


def test_modules_sharing_a_package_are_one_policy() -> None:
    engine = engine_of(
        one=policy("shared", 'deny contains "first" if input.action == "publish"\n'),
        two=policy("shared", 'deny contains "second" if input.action == "publish"\n'),
    )

    assert engine.evaluate(policy_input()).denials == (
        Denial("shared", "first"),
        Denial("shared", "second"),
    )


def test_a_non_string_message_still_refuses_and_says_so() -> None:
    engine = engine_of(odd=policy("odd", 'deny contains {"code": 7} if input.action == "start"\n'))

    decision = engine.evaluate(policy_input("start", pool="default"))

    assert decision.denials == (Denial("odd", '{"code": 7} (non-string message)'),)


# Refused modules


def test_a_syntax_error_names_the_module_and_line(capfd: pytest.CaptureFixture[str]) -> None:
    source = policy("broken", 'deny contains "x" if {\n\tinput.action ==\n}\n')

    with pytest.raises(PolicyError) as caught:
        PolicyEngine.compile([PolicyModule("team/broken.rego", source)])

    assert str(caught.value) == (
        "policy module 'team/broken.rego' does not parse: "
        "line 6, column 15: Invalid boolean operator"
    )
    assert caught.value.module == "team/broken.rego"
    assert caught.value.code == "POLICY_INVALID"
    assert isinstance(caught.value, ControlPlaneError)
    # rego-cpp prints syntax errors unless told not to.
    assert capfd.readouterr() == ("", "")


@pytest.mark.parametrize(
    ("source", "declared"),
    [
        ("package authz\n\nimport rego.v1\n", "package authz"),
        (
            "# team policies\npackage flowforge.policies.team.a\n",
            "package flowforge.policies.team.a",
        ),
        ('package flowforge.policies["my-policy"]\n', 'package flowforge.policies["my-policy"]'),
        ("import rego.v1\n", "no package"),
        ("", "no package"),
    ],
)
def test_a_module_outside_flowforge_policies_is_refused(source: str, declared: str) -> None:
    with pytest.raises(PolicyError) as caught:
        PolicyEngine.compile([PolicyModule("authz.rego", source)])

    assert str(caught.value).startswith(f"policy module 'authz.rego' declares {declared}; ")
    assert "`package flowforge.policies.<name>`" in str(caught.value)


@pytest.mark.parametrize(
    "deny",
    [
        'deny if input.action == "publish"\n',
        "default deny := false\n",
        'deny := "no"\n',
        'deny[key] := true if { some key in ["a"] }\n',
        "deny(x) := x\n",
    ],
)
def test_a_deny_that_is_not_a_set_is_refused_when_loading(deny: str) -> None:
    with pytest.raises(PolicyError) as caught:
        engine_of(wrong=policy("wrong", deny))

    assert str(caught.value).startswith(
        "policy wrong (module 'wrong.rego') defines `deny` as something other than a set"
    )
    assert "deny contains msg if" in str(caught.value)


def test_a_pre_v1_deny_is_refused() -> None:
    with pytest.raises(PolicyError, match="other than a set"):
        engine_of(old='package flowforge.policies.old\n\ndeny[msg] { msg := "no" }\n')


def test_a_policy_failing_on_any_input_is_refused_when_loading() -> None:
    with pytest.raises(PolicyError) as caught:
        engine_of(typo=policy("typo", "deny contains msg if { msg := sprintff(1) }\n"))

    assert str(caught.value) == (
        "policy typo (module 'typo.rego') fails on an empty input: Function not found: sprintff"
    )


def test_a_policy_failing_on_one_input_names_itself_and_refuses() -> None:
    engine = engine_of(
        fine=policy("fine", 'deny contains "fine says no" if input.action == "start"\n'),
        typo=policy(
            "typo",
            'deny contains msg if { input.action == "start"; msg := sprintff(1) }\n',
        ),
    )

    assert engine.evaluate(policy_input("publish")).allowed
    with pytest.raises(PolicyError) as caught:
        engine.evaluate(policy_input("start", pool="default"))

    assert str(caught.value) == (
        "policy typo (module 'typo.rego') fails: Function not found: sprintff"
    )
    assert caught.value.module == "typo.rego"


def test_two_modules_with_one_name_are_refused() -> None:
    module = PolicyModule("same.rego", policy("same", ""))

    with pytest.raises(PolicyError, match=r"two policy modules are named 'same\.rego'"):
        PolicyEngine.compile([module, module])


# Loading files


def test_load_policy_files_reads_a_directorys_rego_files_sorted(tmp_path: Path) -> None:
    (tmp_path / "b.rego").write_text(policy("b", ""))
    (tmp_path / "a.rego").write_text(policy("a", ""))
    (tmp_path / "a_test.rego").write_text(policy("a", "test_x if true\n"))
    (tmp_path / "README.md").write_text("not a policy")
    (tmp_path / "drafts").mkdir()
    (tmp_path / "drafts" / "c.rego").write_text(policy("c", ""))

    modules = load_policy_files([tmp_path])

    assert [Path(m.name).name for m in modules] == ["a.rego", "b.rego"]
    assert modules[0].source == policy("a", "")


def test_load_policy_files_reads_a_named_file(tmp_path: Path) -> None:
    (tmp_path / "one.rego").write_text(policy("one", ""))

    [module] = load_policy_files([tmp_path / "one.rego"])

    assert module.name == (tmp_path / "one.rego").as_posix()


def test_load_policy_files_refuses_a_missing_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"

    with pytest.raises(PolicyError, match=f"policy path {re.escape(str(missing))} does not exist"):
        load_policy_files([missing])


def test_load_policy_files_refuses_a_file_that_is_not_rego(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text("deny: true")

    with pytest.raises(PolicyError, match=r"neither a \.rego file nor a directory"):
        load_policy_files([tmp_path / "policy.yaml"])


# Reuse


def test_one_engine_gives_the_same_answers_over_many_evaluations(examples: PolicyEngine) -> None:
    inputs = [
        policy_input(role="viewer", tags=("production",)),
        policy_input(role="owner", tags=("production",)),
        policy_input("start", tags=("onprem-only", "no-code"), node_types=("core.code",)),
        policy_input("decide", tags=("production", "onprem-only")),
    ]
    first = [examples.evaluate(i) for i in inputs]

    again = [examples.evaluate(inputs[n % len(inputs)]) for n in range(200)]

    assert again == first * 50
    assert [d.allowed for d in first] == [False, True, False, True]


def test_evaluations_from_several_threads_do_not_mix(examples: PolicyEngine) -> None:
    refused = policy_input(role="viewer", tags=("production",))
    allowed = policy_input(role="owner", tags=("production",))
    answers: list[tuple[bool, bool]] = []

    def evaluate_both() -> None:
        for _ in range(50):
            answers.append((examples.evaluate(refused).allowed, examples.evaluate(allowed).allowed))

    threads = [threading.Thread(target=evaluate_both) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert answers == [(False, True)] * 200


# The documentation


def documented_fields() -> list[str]:
    section = DOC.read_text().split("## The input document", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([a-z_.]+)` \|", section, re.MULTILINE)


def typed_dict_fields(typed_dict: Any, prefix: str = "") -> list[str]:
    fields = []
    for key, hint in typing.get_type_hints(typed_dict).items():
        fields.append(prefix + key)
        options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
        for option in options:
            if typing.is_typeddict(option):
                fields.extend(typed_dict_fields(option, f"{prefix}{key}."))
    return fields


def test_the_documented_input_fields_are_policy_inputs_keys() -> None:
    assert documented_fields() == typed_dict_fields(PolicyInput)


def test_the_policy_shown_in_the_docs_is_the_shipped_example() -> None:
    [block] = re.findall(r"```rego\n(.*?)```", DOC.read_text(), re.DOTALL)

    assert block == (EXAMPLES / "production_owners.rego").read_text()


def test_the_package_exports_what_it_documents() -> None:
    assert sorted(control_plane.policies.__all__) == [
        "Denial",
        "PolicyAction",
        "PolicyDecision",
        "PolicyEngine",
        "PolicyInput",
        "PolicyModule",
        "PolicyPrincipal",
        "PolicyProject",
        "PolicyTask",
        "PolicyWorkflow",
        "PolicyWorkspace",
        "load_policy_files",
    ]
