"""Declarative base of the EMR tables (same engine and migrations as the records index)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, MetaData
from sqlalchemy.orm import DeclarativeBase

from archive.models import NAMING, UtcDateTime


class EmrBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime,
                                                     dict[str, Any]: JSON}


def new_id() -> str:
    return uuid.uuid4().hex
