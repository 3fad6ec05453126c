"""Reading a policy file: YAML with the line of every value kept.

A policy file is reviewed by people (the hospital's quality office), so every
complaint about it names the file, the line and the problem, in Vietnamese and
English. This module parses YAML once (``yaml.compose`` keeps the marks), builds
the plain Python data and a ``path -> line`` map, rejects duplicate keys (PyYAML
would silently keep the last one), and turns pydantic validation errors into
:class:`Problem` values that carry a line.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from core.errors import PolicyError

PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong in one policy file."""

    file: str
    """The file, as the person gave it (or its name inside the shipped defaults)."""
    line: int
    """1-based line of the offending value (0 when the file itself is the problem)."""
    path: str
    """Where inside the document, e.g. ``steps[1].role``."""
    message_vi: str
    message_en: str

    def as_detail(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "path": self.path,
            "field": f"{self.file}:{self.line} {self.path}".rstrip(),
            "message_vi": self.message_vi,
            "message_en": self.message_en,
        }

    def render(self, lang: str = "vi") -> str:
        msg = self.message_en if lang == "en" else self.message_vi
        where = f"{self.path}: " if self.path else ""
        return f"{self.file}:{self.line}: {where}{msg}"


@dataclass(frozen=True)
class SourceDoc:
    """A parsed policy file: its data, its line map and its digest."""

    file: str
    data: Any
    lines: dict[PathKey, int] = field(repr=False)
    sha256: str

    def line_of(self, path: Sequence[str | int]) -> int:
        """Line of the deepest part of ``path`` found in the document."""
        node: Any = self.data
        found: list[str | int] = []
        for part in path:
            ok, child = _child(node, part)
            if ok:  # else: a pydantic tag (union member name...) — not in the data, skip it
                node = child
                found.append(part)
        return self.lines.get(tuple(found), 1)

    def problem(self, path: Sequence[str | int], message_vi: str, message_en: str) -> Problem:
        return Problem(self.file, self.line_of(path), format_path(path, self.data),
                       message_vi, message_en)


def _child(node: Any, part: str | int) -> tuple[bool, Any]:
    if isinstance(node, dict) and part in node:
        return True, node[part]
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return True, node[part]
    return False, None


def format_path(path: Sequence[str | int], data: Any = None) -> str:
    out = ""
    node = data
    for part in path:
        if data is not None:
            ok, node_next = _child(node, part)
            if not ok:
                continue
            node = node_next
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse_yaml(text: str, file: str) -> SourceDoc:
    """Parse one YAML document, keeping lines; raise :class:`PolicyFileInvalid` on bad YAML."""
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise PolicyFileInvalid([Problem(file, 1, "", "tệp rỗng", "the file is empty")])
        problems: list[Problem] = []
        lines: dict[PathKey, int] = {}
        _walk(node, (), lines, problems, file)
        if problems:
            raise PolicyFileInvalid(problems)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark is not None else 0
        reason = e.problem or e.context or str(e)
        raise PolicyFileInvalid([Problem(
            file, line, "", f"YAML sai cú pháp: {reason}", f"invalid YAML: {reason}")]) from e
    except yaml.YAMLError as e:
        raise PolicyFileInvalid([Problem(
            file, 0, "", f"YAML sai cú pháp: {e}", f"invalid YAML: {e}")]) from e
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise PolicyFileInvalid([Problem(
            file, 1, "", "tệp chính sách phải là một ánh xạ (khóa: giá trị)",
            "a policy file must be a mapping (key: value)")])
    return SourceDoc(file, data, lines, digest)


def _walk(node: yaml.Node, path: PathKey, lines: dict[PathKey, int],
          problems: list[Problem], file: str) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in seen:
                where = format_path((*path, key))
                problems.append(Problem(
                    file, line, where,
                    f"khóa '{key}' bị lặp (đã có ở dòng {seen[key]})",
                    f"duplicate key '{key}' (already at line {seen[key]})"))
                continue
            seen[key] = line
            _walk(value_node, (*path, key), lines, problems, file)
            lines[(*path, key)] = line
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*path, i), lines, problems, file)


# --- pydantic errors, for a person --------------------------------------------------

_VI_BY_TYPE = {
    "string_type": "phải là chuỗi ký tự",
    "int_type": "phải là số nguyên",
    "int_parsing": "phải là số nguyên",
    "bool_type": "phải là true hoặc false",
    "bool_parsing": "phải là true hoặc false",
    "list_type": "phải là danh sách",
    "dict_type": "phải là ánh xạ (khóa: giá trị)",
    "model_type": "phải là ánh xạ (khóa: giá trị)",
    "too_short": "danh sách quá ngắn",
    "greater_than_equal": "giá trị quá nhỏ",
    "greater_than": "giá trị quá nhỏ",
    "string_pattern_mismatch": "không đúng định dạng",
    "union_tag_invalid": "loại không hợp lệ",
}


def problems_from_validation(doc: SourceDoc, error: ValidationError,
                             prefix: Sequence[str | int] = ()) -> list[Problem]:
    out = []
    errors = error.errors(include_url=False)
    locs = [tuple(e["loc"]) for e in errors]
    for err in errors:
        here = tuple(err["loc"])
        if any(len(other) > len(here) and other[:len(here)] == here for other in locs):
            continue  # a consequence of a deeper error already reported (e.g. "too short")
        loc = (*prefix, *err["loc"])
        etype = err["type"]
        en = err["msg"]
        if etype in ("literal_error", "enum"):
            expected = (err.get("ctx") or {}).get("expected", "")
            vi = f"giá trị '{err.get('input')}' không hợp lệ; chấp nhận: {expected}"
            en = f"unknown value '{err.get('input')}'; expected {expected}"
        elif etype == "extra_forbidden":
            vi = f"trường '{loc[-1]}' không được phép (sai chính tả?)"
            en = f"unknown field '{loc[-1]}' (misspelt?)"
        elif etype == "missing":
            vi = f"thiếu trường bắt buộc '{loc[-1]}'"
            en = f"missing required field '{loc[-1]}'"
        elif etype == "value_error":
            # our own validators put "vi || en" in the message
            raw = str((err.get("ctx") or {}).get("error", en))
            vi, _, en = raw.partition(" || ")
            en = en or vi
        else:
            vi = _VI_BY_TYPE.get(etype, "giá trị không hợp lệ") + f" ({en})"
        out.append(doc.problem(loc, vi, en))
    return out


class PolicyFileInvalid(Exception):
    """Internal: problems found in one file; gathered into one :class:`PolicyError`."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(p.render("en") for p in self.problems))


def policy_error(problems: Sequence[Problem]) -> PolicyError:
    """One error for a person: the first problem in the message, all in ``details``."""
    first = problems[0]
    more_vi = f" (và {len(problems) - 1} lỗi khác)" if len(problems) > 1 else ""
    more_en = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return PolicyError(
        "policy.invalid_file",
        f"Tệp chính sách không hợp lệ: {first.file} dòng {first.line}: "
        f"{first.message_vi}{more_vi}",
        f"Invalid policy file: {first.file} line {first.line}: {first.message_en}{more_en}",
        details=[p.as_detail() for p in problems],
    )


def read_text(path: Path, display: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise PolicyFileInvalid([Problem(display, 0, "", "tệp không phải UTF-8",
                                         "the file is not UTF-8")]) from e
    except OSError as e:
        raise PolicyFileInvalid([Problem(display, 0, "", f"không đọc được tệp: {e.strerror}",
                                         f"cannot read the file: {e.strerror}")]) from e
