"""Protobuf text format (``pipeline.config``), read without protobuf or the TF OD API.

A small tokenizer and recursive-descent parser turn text into :class:`Field`
lists; :class:`Message` is a read-only view of them with typed getters whose
errors name the file, the line and the field path. The pipeline.config
reader (:mod:`dataprep.models.pipeline_config`) is built on it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Union

from dataprep.anchors.generator import AnchorConfigError

# [1] Protobuf text format: fields are `name: scalar`, `name { ... }`,
#     `name: { ... }` or `name < ... >`; repeated scalars may also be written
#     `name: [a, b]`; `#` starts a comment; `,`/`;` may end a field. Like
#     text_format.Merge (which the TF OD API uses), the last value of a singular
#     scalar wins and repeated occurrences of a message are merged.
#     Ref: https://protobuf.dev/reference/protobuf/textformat-spec/
_TOKEN_RE = re.compile(
    r"""
    (?P<newline>\n)
  | (?P<space>[ \t\r\f\v]+)
  | (?P<comment>\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<punct>[{}<>:\[\],;])
  | (?P<word>[A-Za-z0-9_.+\-]+)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str  # "string", "punct", "word", "end"
    text: str
    line: int


@dataclass(frozen=True)
class Field:
    name: str
    value: Union[Token, "list[Field]"]  # scalar token or message fields
    line: int

    @property
    def is_message(self) -> bool:
        return isinstance(self.value, list)


def tokenize(text: str, source: str) -> list[Token]:
    tokens: list[Token] = []
    line, pos = 1, 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None:
            snippet = text[pos : pos + 20].split("\n")[0]
            raise AnchorConfigError(f"{source}:{line}: cannot parse text near {snippet!r}")
        kind = match.lastgroup or ""
        if kind == "newline":
            line += 1
        elif kind in ("string", "punct", "word"):
            tokens.append(Token(kind, match.group(), line))
        pos = match.end()
    tokens.append(Token("end", "", line))
    return tokens


class Parser:
    """Recursive-descent parser of protobuf text format into :class:`Field` lists."""

    _CLOSE = {"{": "}", "<": ">"}

    def __init__(self, text: str, source: str) -> None:
        self.source = source
        self.tokens = tokenize(text, source)
        self.pos = 0

    def _peek(self) -> Token:
        return self.tokens[self.pos]

    def _next(self) -> Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def _error(self, token: Token, message: str) -> AnchorConfigError:
        found = "end of file" if token.kind == "end" else repr(token.text)
        return AnchorConfigError(f"{self.source}:{token.line}: {message}, found {found}")

    def parse(self) -> list[Field]:
        fields = self._message(closing=None)
        return fields

    def _message(self, closing: str | None) -> list[Field]:
        fields: list[Field] = []
        while True:
            token = self._peek()
            if token.kind == "end":
                if closing is not None:
                    raise self._error(token, f"expected {closing!r} to close a message")
                return fields
            if token.kind == "punct" and token.text == closing:
                self._next()
                return fields
            fields.extend(self._field())
            if self._peek().kind == "punct" and self._peek().text in ",;":
                self._next()

    def _field_name(self) -> Token:
        token = self._next()
        if token.kind == "punct" and token.text == "[":  # extension or Any type URL
            parts = []
            while not (self._peek().kind == "punct" and self._peek().text == "]"):
                part = self._next()
                if part.kind == "end":
                    raise self._error(part, "expected ']' after extension name")
                parts.append(part.text)
            self._next()
            return Token("word", "[" + "".join(parts) + "]", token.line)
        if token.kind != "word" or not re.match(r"[A-Za-z_]\w*$", token.text):
            raise self._error(token, "expected a field name")
        return token

    def _field(self) -> list[Field]:
        name = self._field_name()
        token = self._peek()
        has_colon = token.kind == "punct" and token.text == ":"
        if has_colon:
            self._next()
            token = self._peek()
        if token.kind == "punct" and token.text in self._CLOSE:
            self._next()
            return [Field(name.text, self._message(self._CLOSE[token.text]), name.line)]
        if not has_colon:
            raise self._error(token, f"expected ':' or '{{' after field {name.text!r}")
        if token.kind == "punct" and token.text == "[":
            self._next()
            return self._list(name)
        return [Field(name.text, self._scalar(), name.line)]

    def _list(self, name: Token) -> list[Field]:
        items: list[Field] = []
        while True:
            token = self._peek()
            if token.kind == "punct" and token.text == "]":
                self._next()
                return items
            if items:
                if not (token.kind == "punct" and token.text == ","):
                    raise self._error(token, f"expected ',' or ']' in the list of {name.text!r}")
                self._next()
                token = self._peek()
            if token.kind == "punct" and token.text in self._CLOSE:
                self._next()
                items.append(Field(name.text, self._message(self._CLOSE[token.text]), token.line))
            else:
                items.append(Field(name.text, self._scalar(), token.line))

    def _scalar(self) -> Token:
        token = self._next()
        if token.kind == "word":
            return token
        if token.kind == "string":
            text = token.text
            while self._peek().kind == "string":  # adjacent strings concatenate
                text = text[:-1] + self._next().text[1:]
            return Token("string", text, token.line)
        raise self._error(token, "expected a value")


def parse_text_proto(text: str, source: str = "<string>") -> list[Field]:
    """Parse protobuf text format into a list of fields (internal structure)."""
    return Parser(text, source).parse()


# -------------------------------------------------------- typed field access
class Message:
    """Read-only view of merged message fields with typed getters and clear errors."""

    def __init__(self, fields: list[Field], path: str, source: str, line: int = 0) -> None:
        self.fields = fields
        self.path = path
        self.source = source
        self.line = line

    def where(self, field: Field | None = None) -> str:
        line = field.line if field is not None else self.line
        return f"{self.source}:{line}" if line else self.source

    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    def has(self, name: str) -> bool:
        return any(f.name == name for f in self.fields)

    def message(self, name: str) -> "Message | None":
        found = [f for f in self.fields if f.name == name]
        if not found:
            return None
        for f in found:
            if not f.is_message:
                raise AnchorConfigError(f"{self.where(f)}: {self.path}.{name}: expected a {{ ... }} block")
        merged = [child for f in found for child in f.value]  # type: ignore[union-attr]
        return Message(merged, f"{self.path}.{name}" if self.path else name, self.source, found[0].line)

    def _scalars(self, name: str) -> list[Field]:
        found = [f for f in self.fields if f.name == name]
        for f in found:
            if f.is_message:
                raise AnchorConfigError(f"{self.where(f)}: {self.path}.{name}: expected a value, not a block")
        return found

    def _convert(self, f: Field, kind: str) -> Any:
        token = f.value
        assert isinstance(token, Token)
        where = f"{self.where(f)}: {self.path}.{f.name}"
        if kind == "string":
            if token.kind != "string":
                raise AnchorConfigError(f"{where}: expected a quoted string, got {token.text!r}")
            return token.text[1:-1]
        if token.kind == "string":
            raise AnchorConfigError(f"{where}: expected {_KIND_NAMES[kind]}, got the string {token.text}")
        try:
            return _CONVERTERS[kind](token.text)
        except ValueError:
            raise AnchorConfigError(f"{where}: expected {_KIND_NAMES[kind]}, got {token.text!r}") from None

    def get(self, name: str, kind: str, default: Any) -> Any:
        found = self._scalars(name)
        return self._convert(found[-1], kind) if found else default

    def get_list(self, name: str, kind: str) -> list[Any]:
        return [self._convert(f, kind) for f in self._scalars(name)]

    def check_known(self, known: set[str]) -> None:
        for f in self.fields:
            if f.name not in known:
                raise AnchorConfigError(
                    f"{self.where(f)}: {self.path}: unknown field {f.name!r} "
                    f"(expected one of: {', '.join(sorted(known))})"
                )


def _parse_int(text: str) -> int:
    match = re.fullmatch(r"([-+]?)(0[xX][0-9a-fA-F]+|\d+)", text)
    if match is None:
        raise ValueError(text)
    sign, digits = (-1 if match.group(1) == "-" else 1), match.group(2)
    return sign * int(digits, 16 if digits[:2].lower() == "0x" else 10)


def _parse_float(text: str) -> float:
    t = text[:-1] if text[-1:] in "fF" and not text.lower().endswith("inf") else text
    value = float(t)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def _parse_bool(text: str) -> bool:
    if text in ("true", "True", "t", "1"):
        return True
    if text in ("false", "False", "f", "0"):
        return False
    raise ValueError(text)


_CONVERTERS = {"int": _parse_int, "float": _parse_float, "bool": _parse_bool}
_KIND_NAMES = {"int": "an integer", "float": "a finite number", "bool": "true or false", "string": "a string"}
