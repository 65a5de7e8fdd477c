"""The views hold no SQL over the warehouse marts: read-side queries live in warehouse/."""

from __future__ import annotations

import ast
import re
from pathlib import Path

VIEWS = Path(__file__).resolve().parents[3] / "console" / "views"
# A string naming a warehouse model the way SQL does (`from mart_leads`, `join int_asks`).
_WAREHOUSE_SQL = re.compile(r"\b(from|join)\s+(mart|int|stg)_\w+", re.IGNORECASE)


def warehouse_sql(root: Path) -> list[str]:
    """`file:line` of every string literal under `root` that reads a warehouse model."""
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and _WAREHOUSE_SQL.search(node.value):
                found.append(f"{path.name}:{node.lineno}")
    return found


def test_no_view_queries_the_marts_itself() -> None:
    assert warehouse_sql(VIEWS) == []


def test_the_guard_sees_a_planted_query(tmp_path: Path) -> None:
    (tmp_path / "planted.py").write_text(
        'ROWS = "select first_name\\n from mart_patients where practice_slug = $p"\n')
    assert warehouse_sql(tmp_path) == ["planted.py:1"]
