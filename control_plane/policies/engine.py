"""Rego policies evaluated in process, before publishing, starting a run or deciding a task.

The convention (docs/policies.md is the user-facing version):

- A policy is one or more Rego modules in the package `flowforge.policies.<name>`
  (`<name>`: letters, digits, `_`), written with `import rego.v1`. `<name>` is how
  refusals name it.
- It contributes messages to the set rule `deny`: `deny contains msg if { ... }`. An action
  is allowed when no policy denies it; otherwise every message of every policy is returned.
- A module whose `deny` is not a set (`deny if ...`, `deny := ...`, `deny[k] := v`, a
  function) is refused by `PolicyEngine.compile`: each policy is compiled beside a module
  declaring `deny` as a set, which rego-cpp rejects when the kinds differ. A policy with no
  `deny` at all contributes nothing. A message that is not a string is kept, as its JSON
  followed by "(non-string message)", so a sloppy policy still refuses.
- Every policy sees the same `input` (`PolicyInput`) and no `data`.

What regopy 1.5.2 does, and how the engine copes:

- The query is a comprehension over every package,
  `{name: deny | some name; deny := data.flowforge.policies[name].deny}`, which is the
  empty object for no policies and an empty set for a policy denying nothing; a bare
  `data.pkg.rule` would be *undefined* (no result at all) for a rule whose value is false.
- It is compiled once (`Interpreter.build`); an evaluation is `set_input` and
  `query_bundle`: under a millisecond for the shipped examples, five to six times faster
  than `query`, which compiles the query each time (measured informally, not asserted).
  The interpreter is not thread-safe: one lock serialises evaluations.
- Syntax errors raise `RegoError` from `add_module`, its text an S-expression with byte
  offsets that the engine turns into line and column. rego-cpp also prints them to
  **stdout** unless the interpreter's log level is NONE, which the engine sets.
- Some errors surface only at build time (a failed bundle, with no message at all) or at
  evaluation time (an unknown function, a recursion: regopy's `Output` then fails to parse
  the error as JSON; conflicting values: `ok()` is false, no message). Either way the
  engine names the policy at fault, found by evaluating each policy's entry point on its
  own, and raises `PolicyError`: it never turns an error into "allowed".
- `print()` in a policy writes to the process's stdout whatever the log level.
"""

import json
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import regopy

from control_plane.errors import PolicyError
from control_plane.policies.document import PolicyInput
from control_plane.policies.rego_errors import error_messages, locate_errors

_PACKAGE = re.compile(r"package\s+(?P<path>[^\s#]+)")
_POLICY_PACKAGE = re.compile(r"flowforge\.policies\.(?P<name>[A-Za-z_][A-Za-z0-9_]*)")
_EXPECTED_PACKAGE = (
    "a policy module starts with `package flowforge.policies.<name>`, <name> made of "
    "letters, digits and _ (e.g. `package flowforge.policies.production_owners`)"
)
_DENIALS_QUERY = "denials := {name: deny | some name; deny := data.flowforge.policies[name].deny}"
# Compiled beside each policy: rego-cpp refuses a rule defined with two kinds, so a `deny`
# that is not a set fails to build instead of failing, or silently allowing, at run time.
_SET_DECLARATION = """package flowforge.policies.{name}
import rego.v1
deny contains "declared as a set by FlowForge" if false
"""
_NO_DETAIL = "rego-cpp reports no detail for this error"
_NO_BUILD_DETAIL = (
    f"{_NO_DETAIL}; one cause is a rule defined two ways, e.g. `deny if` beside `deny contains`"
)
_NO_EVALUATION_DETAIL = f"{_NO_DETAIL}; one cause is a rule given two different values"


@dataclass(frozen=True)
class PolicyModule:
    """One Rego source; `name` says where it came from (a file, a database row)."""

    name: str
    source: str


@dataclass(frozen=True)
class Denial:
    policy: str
    message: str

    def __str__(self) -> str:
        return f"refused by policy {self.policy}: {self.message}"


@dataclass(frozen=True)
class PolicyDecision:
    """Every denial of one evaluation, ordered by policy and then message."""

    denials: tuple[Denial, ...] = ()

    @property
    def allowed(self) -> bool:
        return not self.denials

    def refusal(self) -> str:
        """The text shown to the user: each denial, `; `-separated ("" when allowed)."""
        return "; ".join(str(denial) for denial in self.denials)


_ALLOWED = PolicyDecision()


class PolicyEngine:
    """Evaluates a compiled set of policies; build it with `PolicyEngine.compile`."""

    def __init__(
        self,
        interpreter: regopy.Interpreter | None = None,
        bundle: regopy.Bundle | None = None,
        policies: Mapping[str, tuple[str, ...]] | None = None,
    ) -> None:
        self._interpreter = interpreter
        self._bundle = bundle
        self._policies = dict(policies or {})
        self._lock = threading.Lock()

    @property
    def policies(self) -> tuple[str, ...]:
        """The names of the compiled policies, sorted."""
        return tuple(sorted(self._policies))

    @classmethod
    def compile(cls, modules: Sequence[PolicyModule]) -> "PolicyEngine":
        """Compile `modules` into one engine, or raise `PolicyError` naming the bad module."""
        if not modules:
            return cls()
        policies = _modules_by_policy(modules)
        interpreter = _interpreter()
        for module in modules:
            _add_module(interpreter, module)
        for name in policies:
            interpreter.add_module(f"<{name}: deny is a set>", _SET_DECLARATION.format(name=name))
        bundle = _build(interpreter, _DENIALS_QUERY, [_entrypoint(name) for name in policies])
        if bundle is None:
            raise _build_failure(modules, policies)
        engine = cls(interpreter, bundle, policies)
        # Found now rather than on a user's action: what fails before reading any input.
        engine._denials({}, failing="fails on an empty input")
        return engine

    def evaluate(self, input: PolicyInput) -> PolicyDecision:
        """Every policy's denials for `input`; raises `PolicyError` if a policy fails."""
        if self._interpreter is None:
            return _ALLOWED
        return PolicyDecision(self._denials(input))

    def _denials(self, input: Mapping[str, Any], failing: str = "fails") -> tuple[Denial, ...]:
        interpreter, bundle = self._interpreter, self._bundle
        assert interpreter is not None and bundle is not None
        with self._lock:
            interpreter.set_input(regopy.Input(input))
            try:
                result = _run(partial(interpreter.query_bundle, bundle), "denials")
            except _EvaluationFailed as failure:
                raise self._evaluation_failure(interpreter, bundle, failure, failing) from None
        if not isinstance(result, dict):
            raise PolicyError(f"the policies returned {result!r}, not an object of denials")
        denials = (
            Denial(policy, _message_text(message))
            for policy, messages in result.items()
            for message in messages
        )
        return tuple(sorted(denials, key=lambda denial: (denial.policy, denial.message)))

    def _evaluation_failure(
        self,
        interpreter: regopy.Interpreter,
        bundle: regopy.Bundle,
        failure: Exception,
        failing: str,
    ) -> PolicyError:
        """Name the policies that fail on the current input, each evaluated on its own."""
        problems: dict[str, str] = {}
        for name, module_names in self._policies.items():
            try:
                _run(partial(interpreter.query_bundle_entrypoint, bundle, _entrypoint(name)), None)
            except _EvaluationFailed as own:
                problems[name] = f"policy {name} ({_listing(module_names)}) {failing}: {own}"
        if not problems:
            return PolicyError(f"the policies {failing} together: {failure}")
        first = next(iter(problems))
        return PolicyError("; ".join(problems.values()), module=self._policies[first][0])


def load_policy_files(paths: Sequence[Path]) -> list[PolicyModule]:
    """Read each `.rego` file, and each directory's `*.rego` files (sorted, not recursive).

    A directory's `*_test.rego` files are skipped: that is where OPA's convention keeps a
    policy's tests, which are not policies.
    """
    modules: list[PolicyModule] = []
    for path in paths:
        if path.is_dir():
            files = sorted(
                p for p in path.glob("*.rego") if p.is_file() and not p.name.endswith("_test.rego")
            )
        elif path.is_file() and path.suffix == ".rego":
            files = [path]
        elif path.exists():
            raise PolicyError(
                f"policy path {path} is neither a .rego file nor a directory", module=str(path)
            )
        else:
            raise PolicyError(f"policy path {path} does not exist", module=str(path))
        modules.extend(_read(file) for file in files)
    return modules


def _read(path: Path) -> PolicyModule:
    try:
        return PolicyModule(path.as_posix(), path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"policy file {path} cannot be read: {exc}", module=str(path)) from exc


def _interpreter() -> regopy.Interpreter:
    interpreter = regopy.Interpreter()
    # At any other level rego-cpp prints every syntax error to stdout as well as raising it.
    interpreter.log_level = regopy.LogLevel.NONE
    return interpreter


def _entrypoint(policy: str) -> str:
    return f"flowforge/policies/{policy}/deny"


def _modules_by_policy(modules: Sequence[PolicyModule]) -> dict[str, tuple[str, ...]]:
    policies: dict[str, tuple[str, ...]] = {}
    seen: set[str] = set()
    for module in modules:
        if module.name in seen:
            raise PolicyError(
                f"two policy modules are named {module.name!r}; give each a unique name",
                module=module.name,
            )
        seen.add(module.name)
        name = _policy_name(module)
        policies[name] = (*policies.get(name, ()), module.name)
    return dict(sorted(policies.items()))


def _policy_name(module: PolicyModule) -> str:
    declared = "no package"
    for line in module.source.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        package = _PACKAGE.match(stripped)
        if package is not None:
            found = _POLICY_PACKAGE.fullmatch(package["path"])
            if found is not None:
                return found["name"]
            declared = f"package {package['path']}"
        break
    raise PolicyError(
        f"policy module {module.name!r} declares {declared}; {_EXPECTED_PACKAGE}",
        module=module.name,
    )


def _add_module(interpreter: regopy.Interpreter, module: PolicyModule) -> None:
    try:
        interpreter.add_module(module.name, module.source)
    except regopy.RegoError as exc:
        detail = locate_errors(str(exc), module.source)
        raise PolicyError(
            f"policy module {module.name!r} does not parse: {detail}",
            module=module.name,
        ) from None


def _build_failure(
    modules: Sequence[PolicyModule], policies: Mapping[str, tuple[str, ...]]
) -> PolicyError:
    """Find which policy makes the bundle fail: rego-cpp's failed build names nothing."""
    by_name = {module.name: module for module in modules}
    for name, module_names in policies.items():
        own = [by_name[module_name] for module_name in module_names]
        if not _builds(name, own, declare_set=False):
            reason = f"does not compile ({_NO_BUILD_DETAIL})"
        elif not _builds(name, own, declare_set=True):
            reason = (
                "defines `deny` as something other than a set of messages; write "
                "`deny contains msg if { ... }` (not `deny if`, `deny :=` or `deny[key] :=`)"
            )
        else:
            continue
        return PolicyError(f"policy {name} ({_listing(module_names)}) {reason}", module_names[0])
    return PolicyError(
        f"the policy modules do not compile together ({_NO_BUILD_DETAIL}): "
        f"{_listing(list(by_name))}"
    )


def _builds(policy: str, modules: Sequence[PolicyModule], *, declare_set: bool) -> bool:
    interpreter = _interpreter()
    for module in modules:
        interpreter.add_module(module.name, module.source)
    if declare_set:
        interpreter.add_module("<deny is a set>", _SET_DECLARATION.format(name=policy))
    return _build(interpreter, None, [_entrypoint(policy)]) is not None


def _build(
    interpreter: regopy.Interpreter, query: str | None, entrypoints: Sequence[str]
) -> regopy.Bundle | None:
    """The compiled bundle, or None: querying a bundle that is not ok crashes the process."""
    try:
        bundle = interpreter.build(query, entrypoints)
    except regopy.RegoError:
        return None
    return bundle if bundle.ok() else None


def _listing(module_names: Sequence[str]) -> str:
    label = "module" if len(module_names) == 1 else "modules"
    return f"{label} " + ", ".join(repr(name) for name in module_names)


class _EvaluationFailed(Exception):
    pass


def _run(query: Callable[[], Any], binding: str | None) -> Any:
    """The value of `binding` (or the first expression) of a query, or `_EvaluationFailed`."""
    try:
        output = query()
    except json.JSONDecodeError as exc:
        # regopy 1.5 hands rego-cpp's error to json.loads; the error is the text it choked on.
        raise _EvaluationFailed(error_messages(exc.doc) or _NO_DETAIL) from None
    except regopy.RegoError as exc:
        raise _EvaluationFailed(error_messages(str(exc)) or _NO_DETAIL) from None
    if not output.ok() or len(output) != 1:
        raise _EvaluationFailed(_NO_EVALUATION_DETAIL)
    result = output[0]
    return result[binding] if binding is not None else result[0]


def _message_text(message: object) -> str:
    if isinstance(message, str):
        return message
    return f"{json.dumps(message, sort_keys=True)} (non-string message)"
