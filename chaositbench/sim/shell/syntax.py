"""The POSIX shell subset the simulated shell understands, parsed into a small syntax tree.

Supported: words with single and double quotes, backslash escapes, ``$VAR``,
``${VAR}`` and ``$?`` expansion, command substitution (``$(...)``, backquotes),
comments, pipelines (``|``, ``!``), lists (``&&``, ``||``, ``;``, newlines,
``&`` run in the foreground) and the redirections ``>``, ``>>``, ``<``, ``N>``,
``N>&M``. No globbing, no field splitting.
"""

from __future__ import annotations

from dataclasses import dataclass, field

OPERATORS = ("&&", "||", ">>", ">&", "|", ";", "&", ">", "<", "\n")
_NAME_START = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
_NAME_CHARS = _NAME_START + "0123456789"


class ShellSyntaxError(ValueError):
    """A script the shell cannot parse (the message is what busybox sh prints after ``sh: syntax error: ``)."""


@dataclass(frozen=True)
class Word:
    """One word: literal text and variable references, expanded when the command runs."""

    parts: tuple[tuple[str, str], ...]  # ("lit", text), ("var", name) or ("cmd", script)

    def expand(self, variables: dict[str, str], outputs: dict[str, str] | None = None) -> str:
        """The word's text; ``outputs`` maps each substituted script to its output."""
        return "".join(text if kind == "lit" else variables.get(text, "") if kind == "var"
                       else (outputs or {}).get(text, "") for kind, text in self.parts)

    def scripts(self) -> list[str]:
        """The command substitutions of the word, in order."""
        return [text for kind, text in self.parts if kind == "cmd"]


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
    commands: list[Command]
    negated: bool = False


@dataclass
class AndOr:
    """Pipelines joined by ``&&``/``||``: ``rest`` holds (operator, pipeline) pairs."""

    first: Pipeline
    rest: list[tuple[str, Pipeline]] = field(default_factory=list)


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
            i = _variable(script, i, parts)
        elif ch == "`":
            end = _closing(script, i + 1, "`", "`")
            parts.append(("cmd", script[i + 1:end]))
            i = end + 1
        else:
            parts.append(("lit", ch))
            i += 1
    raise ShellSyntaxError("unterminated quoted string")


def parse(script: str) -> list[AndOr]:
    """The list of and-or lists of a script; raises :class:`ShellSyntaxError`."""
    tokens = tokenize(script)
    pos = 0
    result: list[AndOr] = []

    def peek() -> Token | None:
        return tokens[pos] if pos < len(tokens) else None

    def unexpected(tok: Token | None) -> ShellSyntaxError:
        return ShellSyntaxError("unexpected end of file" if tok is None else f'unexpected "{tok[1]}"'
                                if tok[0] == "op" and tok[1] != "\n" else "unexpected newline")

    def command() -> Command:
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
                if not cmd.words and tok[1] == Word((("lit", "!"),)):
                    break
                cmd.words.append(tok[1])  # type: ignore[arg-type]
                pos += 1
            else:
                break
        if not cmd.words and not cmd.redirects:
            raise unexpected(peek())
        return cmd

    def pipeline() -> Pipeline:
        nonlocal pos
        negated = False
        if (tok := peek()) is not None and tok == ("word", Word((("lit", "!"),))):
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

    while True:
        skip_newlines()
        if peek() is None:
            return result
        and_or = AndOr(pipeline())
        while (tok := peek()) is not None and tok[0] == "op" and tok[1] in ("&&", "||"):
            pos += 1
            skip_newlines()
            and_or.rest.append((str(tok[1]), pipeline()))
        result.append(and_or)
        tok = peek()
        if tok is None:
            return result
        if tok[0] == "op" and tok[1] in (";", "&", "\n"):
            pos += 1
            continue
        raise unexpected(tok)
