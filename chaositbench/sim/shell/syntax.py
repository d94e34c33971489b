"""The POSIX shell subset the simulated shell understands, parsed into a small syntax tree.

Supported: words with single and double quotes, backslash escapes, ``$VAR``,
``${VAR}`` and ``$?`` expansion, command substitution (``$(...)``, backquotes),
integer arithmetic (``$((...))``), ``for``/``if``/``while``/``until`` commands,
comments, pipelines (``|``, ``!``), lists (``&&``, ``||``, ``;``, newlines,
``&`` run in the foreground) and the redirections ``>``, ``>>``, ``<``, ``N>``,
``N>&M``; unquoted expansions are split into fields. No globbing.
"""

from __future__ import annotations

import ast
import operator
from dataclasses import dataclass, field

OPERATORS = ("&&", "||", ">>", ">&", "|", ";", "&", ">", "<", "\n")
_NAME_START = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
_NAME_CHARS = _NAME_START + "0123456789"


class ShellSyntaxError(ValueError):
    """A script the shell cannot parse (the message is what busybox sh prints after ``sh: syntax error: ``)."""


_ARITHMETIC = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
               ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.USub: operator.neg}


def arithmetic(expression: str, variables: dict[str, str]) -> int:
    """``$((...))``: integers, variables (with or without ``$``), ``+ - * / %`` and parentheses."""
    def value(node: ast.AST) -> int:
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.Name):
            text = variables.get(node.id, "0") or "0"
            return int(text) if text.lstrip("-").isdigit() else 0
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
            right = value(node.right)
            if isinstance(node.op, (ast.FloorDiv, ast.Mod)) and right == 0:
                raise ShellSyntaxError("divide by zero")
            return int(_ARITHMETIC[type(node.op)](value(node.left), right))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _ARITHMETIC:
            return int(_ARITHMETIC[type(node.op)](value(node.operand)))
        raise ShellSyntaxError(f"arithmetic syntax error: {expression}")
    try:
        tree = ast.parse(expression.strip().replace("$", "").replace("/", "//"), mode="eval")
    except SyntaxError:
        raise ShellSyntaxError(f"arithmetic syntax error: {expression}") from None
    return value(tree.body)


@dataclass(frozen=True)
class Word:
    """One word: literal text and expansions, expanded when the command runs.

    Parts are ``("lit", text)``, ``("var", name)``, ``("cmd", script)``, or
    ``("math", expression)`` (``$((...))``), or ``("qvar", name)``,
    ``("qcmd", script)``, ``("qmath", expression)`` for expansions inside double
    quotes, which are not split into fields.
    """

    parts: tuple[tuple[str, str], ...]

    @staticmethod
    def _value(kind: str, text: str, variables: dict[str, str], outputs: dict[str, str] | None) -> str:
        if kind == "lit":
            return text
        if kind.endswith("math"):
            return str(arithmetic(text, variables))
        return variables.get(text, "") if kind.endswith("var") else (outputs or {}).get(text, "")

    def expand(self, variables: dict[str, str], outputs: dict[str, str] | None = None) -> str:
        """The word's text; ``outputs`` maps each substituted script to its output."""
        return "".join(self._value(kind, text, variables, outputs) for kind, text in self.parts)

    def fields(self, variables: dict[str, str], outputs: dict[str, str] | None = None) -> list[str]:
        """The fields the word expands to: unquoted expansions are split on whitespace, as sh does."""
        fields: list[str] = []
        current, started = "", False
        for kind, text in self.parts:
            value = self._value(kind, text, variables, outputs)
            if kind not in ("var", "cmd", "math"):
                current, started = current + value, True
                continue
            pieces = value.split()
            if value[:1].isspace() and started:
                fields.append(current)
                current, started = "", False
            for index, piece in enumerate(pieces):
                if index:
                    fields.append(current)
                    current = ""
                current, started = current + piece, True
            if value[-1:].isspace() and started:
                fields.append(current)
                current, started = "", False
        if started:
            fields.append(current)
        return fields

    def scripts(self) -> list[str]:
        """The command substitutions of the word, in order."""
        return [text for kind, text in self.parts if kind.endswith("cmd")]


@dataclass(frozen=True)
class Redirect:
    """``fd`` redirected to a file (``op`` ``>``, ``>>``, ``<``) or duplicated from another descriptor (``>&``)."""

    fd: int
    op: str
    target: Word


@dataclass
class Command:
    """A simple command: its words and redirections."""

    words: list[Word] = field(default_factory=list)
    redirects: list[Redirect] = field(default_factory=list)


@dataclass
class Pipeline:
    commands: list["Command | ForLoop | IfClause | WhileLoop"]
    negated: bool = False


@dataclass
class AndOr:
    """Pipelines joined by ``&&``/``||``: ``rest`` holds (operator, pipeline) pairs."""

    first: Pipeline
    rest: list[tuple[str, Pipeline]] = field(default_factory=list)


@dataclass
class ForLoop:
    """``for NAME [in WORD...]; do BODY; done``."""

    name: str
    items: list[Word]
    body: list[AndOr]


@dataclass
class IfClause:
    """``if COND; then BODY; [elif COND; then BODY;]... [else BODY;] fi``: (condition, body) pairs."""

    branches: list[tuple[list[AndOr], list[AndOr]]]
    otherwise: list[AndOr]


@dataclass
class WhileLoop:
    """``while COND; do BODY; done`` (``until``: while COND fails)."""

    condition: list[AndOr]
    body: list[AndOr]
    until: bool = False


Token = tuple[str, object]  # ("word", Word) | ("op", str) | ("io", int)


def _closing(script: str, i: int, opener: str, closer: str) -> int:
    """The index of the ``closer`` matching an ``opener`` just before ``i`` (quotes and nesting respected)."""
    depth, quote = 1, ""
    while i < len(script):
        ch = script[i]
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "\\":
            i += 1
        elif ch == closer and (opener == closer or depth == 1):
            return i
        elif ch == opener:
            depth += 1
        elif ch == closer:
            depth -= 1
        i += 1
    raise ShellSyntaxError(f"unterminated {'`' if opener == '`' else '$('}")


def _variable(script: str, i: int, parts: list[tuple[str, str]]) -> int:
    """Read a ``$`` expansion starting at ``script[i] == '$'``; returns the index after it."""
    nxt = script[i + 1] if i + 1 < len(script) else ""
    if script.startswith("((", i + 1):
        depth, end = 0, i + 3
        while end < len(script) and not (depth == 0 and script.startswith("))", end)):
            depth += {"(": 1, ")": -1}.get(script[end], 0)
            end += 1
        if end >= len(script):
            raise ShellSyntaxError("unterminated $((")
        parts.append(("math", script[i + 3:end]))
        return end + 2
    if nxt == "(":
        end = _closing(script, i + 2, "(", ")")
        parts.append(("cmd", script[i + 2:end]))
        return end + 1
    if nxt == "{":
        end = script.find("}", i + 2)
        if end < 0:
            raise ShellSyntaxError("unterminated ${")
        parts.append(("var", script[i + 2:end]))
        return end + 1
    if nxt == "?" or nxt.isdigit():
        parts.append(("var", nxt))
        return i + 2
    if nxt and nxt in _NAME_START:
        j = i + 1
        while j < len(script) and script[j] in _NAME_CHARS:
            j += 1
        parts.append(("var", script[i + 1:j]))
        return j
    parts.append(("lit", "$"))
    return i + 1


def _coalesce(parts: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    merged: list[tuple[str, str]] = []
    for kind, text in parts:
        if kind == "lit" and merged and merged[-1][0] == "lit":
            merged[-1] = ("lit", merged[-1][1] + text)
        else:
            merged.append((kind, text))
    return tuple(merged)


def tokenize(script: str) -> list[Token]:
    """Split a script into words, operators and redirection descriptors."""
    tokens: list[Token] = []
    parts: list[tuple[str, str]] = []
    started = False
    i = 0

    def finish() -> None:
        nonlocal parts, started
        if started:
            tokens.append(("word", Word(_coalesce(parts))))
        parts, started = [], False

    while i < len(script):
        ch = script[i]
        if ch in " \t\r":
            finish()
            i += 1
        elif ch == "#" and not started:
            while i < len(script) and script[i] != "\n":
                i += 1
        elif ch == "\\":
            if i + 1 < len(script) and script[i + 1] != "\n":
                parts.append(("lit", script[i + 1]))
                started = True
            i += 2
        elif ch == "'":
            end = script.find("'", i + 1)
            if end < 0:
                raise ShellSyntaxError("unterminated quoted string")
            parts.append(("lit", script[i + 1:end]))
            started, i = True, end + 1
        elif ch == '"':
            started, i = True, _double_quoted(script, i + 1, parts)
        elif ch == "$":
            started, i = True, _variable(script, i, parts)
        elif ch == "`":
            end = _closing(script, i + 1, "`", "`")
            parts.append(("cmd", script[i + 1:end]))
            started, i = True, end + 1
        elif any(script.startswith(op, i) for op in OPERATORS):
            if ch in "<>" and started and all(k == "lit" and t.isdigit() for k, t in parts):
                tokens.append(("io", int("".join(t for _, t in parts))))
                parts, started = [], False
            finish()
            op = next(op for op in OPERATORS if script.startswith(op, i))
            tokens.append(("op", op))
            i += len(op)
        else:
            parts.append(("lit", ch))
            started, i = True, i + 1
    finish()
    return tokens


def _double_quoted(script: str, i: int, parts: list[tuple[str, str]]) -> int:
    """Read a double-quoted string whose text starts at ``i``; returns the index after the closing quote."""
    while i < len(script):
        ch = script[i]
        if ch == '"':
            return i + 1
        if ch == "\\" and i + 1 < len(script) and script[i + 1] in '$`"\\\n':
            if script[i + 1] != "\n":
                parts.append(("lit", script[i + 1]))
            i += 2
        elif ch == "$":
            before = len(parts)
            i = _variable(script, i, parts)
            parts[before:] = [(kind if kind == "lit" else "q" + kind, text) for kind, text in parts[before:]]
        elif ch == "`":
            end = _closing(script, i + 1, "`", "`")
            parts.append(("qcmd", script[i + 1:end]))
            i = end + 1
        else:
            parts.append(("lit", ch))
            i += 1
    raise ShellSyntaxError("unterminated quoted string")


RESERVED_END = frozenset({"do", "done", "then", "elif", "else", "fi"})


def _reserved(tok: Token | None) -> str | None:
    """The reserved word a token is, when it is an unquoted literal one."""
    if tok is None or tok[0] != "word":
        return None
    parts = tok[1].parts  # type: ignore[union-attr]
    if len(parts) == 1 and parts[0][0] == "lit" and parts[0][1] in RESERVED_END | {"for", "if", "while", "until"}:
        return parts[0][1]
    return None


def parse(script: str) -> list[AndOr]:
    """The list of and-or lists of a script; raises :class:`ShellSyntaxError`."""
    tokens = tokenize(script)
    pos = 0

    def peek() -> Token | None:
        return tokens[pos] if pos < len(tokens) else None

    def unexpected(tok: Token | None) -> ShellSyntaxError:
        if tok is None:
            return ShellSyntaxError("unexpected end of file")
        if tok[0] == "op":
            return ShellSyntaxError(f'unexpected "{tok[1]}"' if tok[1] != "\n" else "unexpected newline")
        return ShellSyntaxError(f'unexpected "{tok[1].expand({})}"')  # type: ignore[union-attr]

    def expect(word: str) -> None:
        nonlocal pos
        if _reserved(peek()) != word:
            raise unexpected(peek())
        pos += 1

    def simple_command() -> Command:
        nonlocal pos
        cmd = Command()
        while (tok := peek()) is not None:
            fd: int | None = None
            if tok[0] == "io":
                fd, pos = int(tok[1]), pos + 1  # type: ignore[call-overload]
                tok = peek()
                if tok is None or tok[0] != "op" or tok[1] not in (">", ">>", "<", ">&"):
                    raise unexpected(tok)
            if tok[0] == "op" and tok[1] in (">", ">>", "<", ">&"):
                op = str(tok[1])
                pos += 1
                target = peek()
                if target is None or target[0] != "word":
                    raise unexpected(target)
                default_fd = 0 if op == "<" else 1
                cmd.redirects.append(Redirect(default_fd if fd is None else fd, op, target[1]))  # type: ignore[arg-type]
                pos += 1
            elif tok[0] == "word":
                cmd.words.append(tok[1])  # type: ignore[arg-type]
                pos += 1
            else:
                break
        if not cmd.words and not cmd.redirects:
            raise unexpected(peek())
        return cmd

    def command() -> Command | ForLoop | IfClause | WhileLoop:
        nonlocal pos
        word = _reserved(peek())
        if word == "for":
            pos += 1
            name = peek()
            if name is None or name[0] != "word":
                raise unexpected(name)
            pos += 1
            items: list[Word] = []
            skip_newlines()
            if _reserved(peek()) is None and peek() == ("word", Word((("lit", "in"),))):
                pos += 1
                while (tok := peek()) is not None and tok[0] == "word":
                    items.append(tok[1])  # type: ignore[arg-type]
                    pos += 1
            if peek() in (("op", ";"), ("op", "\n")):
                pos += 1
            skip_newlines()
            expect("do")
            body = compound_list()
            expect("done")
            return ForLoop(name[1].expand({}), items, body)  # type: ignore[union-attr]
        if word in ("while", "until"):
            pos += 1
            condition = compound_list()
            expect("do")
            body = compound_list()
            expect("done")
            return WhileLoop(condition, body, until=word == "until")
        if word == "if":
            pos += 1
            branches: list[tuple[list[AndOr], list[AndOr]]] = []
            otherwise: list[AndOr] = []
            while True:
                condition = compound_list()
                expect("then")
                branches.append((condition, compound_list()))
                if _reserved(peek()) == "elif":
                    pos += 1
                    continue
                if _reserved(peek()) == "else":
                    pos += 1
                    otherwise = compound_list()
                expect("fi")
                return IfClause(branches, otherwise)
        if word in RESERVED_END:
            raise unexpected(peek())
        return simple_command()

    def pipeline() -> Pipeline:
        nonlocal pos
        negated = False
        if peek() == ("word", Word((("lit", "!"),))):
            negated, pos = True, pos + 1
        commands = [command()]
        while peek() == ("op", "|"):
            pos += 1
            skip_newlines()
            commands.append(command())
        return Pipeline(commands, negated)

    def skip_newlines() -> None:
        nonlocal pos
        while peek() == ("op", "\n"):
            pos += 1

    def compound_list() -> list[AndOr]:
        """And-or lists up to the end of the script or a reserved word that closes a compound command."""
        nonlocal pos
        result: list[AndOr] = []
        while True:
            skip_newlines()
            if peek() is None or _reserved(peek()) in RESERVED_END:
                return result
            and_or = AndOr(pipeline())
            while (tok := peek()) is not None and tok[0] == "op" and tok[1] in ("&&", "||"):
                pos += 1
                skip_newlines()
                and_or.rest.append((str(tok[1]), pipeline()))
            result.append(and_or)
            tok = peek()
            if tok is None or _reserved(tok) in RESERVED_END:
                return result
            if tok[0] == "op" and tok[1] in (";", "&", "\n"):
                pos += 1
                continue
            raise unexpected(tok)

    lists = compound_list()
    if peek() is not None:
        raise unexpected(peek())
    return lists
