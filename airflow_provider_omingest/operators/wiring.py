"""How the tasks of an ingestion find each other: task ids, XCom keys and UI labels, in one place.

The DAG factory (and the task group factory) wire tasks with these ids; the delete and summary
operators read the plan and the unit results under these ids and keys.
"""

from __future__ import annotations

__all__ = [
    "DELETE_TASK_ID",
    "EXTRACT_TASK_ID",
    "PLAN_TASK_ID",
    "PLAN_XCOM_KEY",
    "SUMMARY_TASK_ID",
    "SUMMARY_XCOM_KEY",
    "UNIT_ERROR_XCOM_KEY",
    "UNIT_GROUP_ID",
    "UNIT_LABEL_KEY",
    "UNIT_MAP_INDEX_TEMPLATE",
    "UPDATE_TASK_ID",
    "qualified",
]

PLAN_TASK_ID = "plan"
#: The mapped task group holding each unit's extract and update.
UNIT_GROUP_ID = "unit"
EXTRACT_TASK_ID = "extract"
UPDATE_TASK_ID = "update"
DELETE_TASK_ID = "delete"
SUMMARY_TASK_ID = "summary"

#: The plan task pushes the whole plan under this key (it returns the units to map over).
PLAN_XCOM_KEY = "plan"
#: The summary task pushes the run summary under this key (also for failed runs).
SUMMARY_XCOM_KEY = "summary"
#: A failed extract or update pushes ``{"unit_id", "error"}`` under this key; the summary records it.
UNIT_ERROR_XCOM_KEY = "unit_error"

#: Context key rendered by :data:`UNIT_MAP_INDEX_TEMPLATE`: each mapped instance shows its schemas.
UNIT_LABEL_KEY = "omingest_unit"
UNIT_MAP_INDEX_TEMPLATE = "{{ omingest_unit }}"


def qualified(task_id: str, *groups: str | None) -> str:
    """Return ``task_id`` inside the task groups ``groups`` (outermost first), e.g. ``ingest.unit.update``."""
    return ".".join([*(g for g in groups if g), task_id])
