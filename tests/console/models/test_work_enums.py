"""Task kinds and dispositions are StrEnums whose values are the contract's strings."""

from __future__ import annotations

import json

from console.models.work import Disposition, TaskKind
from console.work.dispositions import DISPOSITIONS, DispositionResult
from warehouse.metrics_base import TASK_KINDS


def test_json_carries_the_plain_strings() -> None:
    assert json.dumps({"kind": TaskKind.close_loop, "disposition": Disposition.no_answer}) == (
        '{"kind": "close_loop", "disposition": "no_answer"}')
    result = DispositionResult(task_id=1, disposition=Disposition.referred, touch_id=2,
                               task_status="done")
    assert json.loads(json.dumps(result.to_json()))["disposition"] == "referred"
    assert f"{TaskKind.follow_up}:1" == "follow_up:1"


def test_the_enums_name_every_kind_and_disposition_once() -> None:
    assert tuple(TaskKind) == TASK_KINDS  # the warehouse's SQL-side list, same order
    assert set(Disposition) == DISPOSITIONS
    assert all(member == member.name for member in (*TaskKind, *Disposition))
