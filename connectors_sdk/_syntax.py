"""The program a syntax check compiles: one jq cannot fold into a large constant.

jq computes an operator between two literals while it compiles, so compiling
`"x" * 2000000000` builds a 2 GB string, in whatever process checks the syntax: the
control plane at publish, the agent, the CLI. String repetition is the only fold that
makes a value larger than the program's text, and it needs a number literal. The check
therefore compiles the program with every number literal replaced by a term that is not
a constant (`.`, `..`, `(.)`, `(.  )`, ...): it parses wherever a number does and has the
number's length, so jq's line and column numbers still point into the user's text.
Evaluation, in an evaluator process with its limits, compiles the program as written.
"""

import re

# Outside strings: the tokens that may hold digits without being numbers (names, fields,
# variables and formats are `[A-Za-z_]...` after their sigil), numbers as jq reads them,
# and the characters that change the mode.
_CODE = re.compile(
    r"""
    (?P<comment>\#[^\n]*)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<number>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<other>\.\.|[^#A-Za-z_0-9"().]+|.)
    """,
    re.VERBOSE | re.DOTALL,
)
# Inside a string: text, an interpolation's start, an escape, the closing quote.
_STRING = re.compile(r'[^"\\]+|\\\(|\\.|"|\\', re.DOTALL)
_NAME_CHARACTER = re.compile(r"[A-Za-z0-9_]")


def syntax_only(program: str) -> str:
    """Return `program` with its number literals replaced by same-length non-constants.

    Only for compiling, to check the syntax: the result does not compute what `program`
    does. Strings (and the text of interpolated strings) are kept; numbers inside
    `\\( ... )` are replaced like any other. A program without `*` cannot repeat a string
    and is returned as it is, so that its syntax errors name the very token jq saw.
    """
    if "*" not in program:
        return program
    out: list[str] = []
    # One entry per open interpolation: its depth of parentheses; the bottom is the program.
    depths = [0]
    in_string = False
    pos = 0
    while pos < len(program):
        pattern = _STRING if in_string else _CODE
        match = pattern.match(program, pos)
        assert match is not None  # both patterns match any character
        text, pos = match.group(), match.end()
        if in_string:
            if text == '"':
                in_string = False
            elif text == "\\(":
                depths.append(0)
                in_string = False
        elif match.lastgroup == "number":
            text = _non_constant(len(text), program[pos : pos + 1])
        elif text == '"':
            in_string = True
        elif text == "(":
            depths[-1] += 1
        elif text == ")":
            if depths[-1] == 0 and len(depths) > 1:
                depths.pop()
                in_string = True
            else:
                depths[-1] -= 1
        out.append(text)
    return "".join(out)


def _non_constant(length: int, following: str) -> str:
    # `.` or `..` followed by a letter would read as a field (`1and` -> `.and`): such a
    # number gets `(.)`, one or two columns longer, instead.
    if length <= 2 and not _NAME_CHARACTER.match(following):
        return "." * length
    return "(." + " " * (length - 3) + ")"
