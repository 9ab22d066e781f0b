"""What a customer id may be: one rule for the HTTP API and the import, on every database.

1 to 128 characters, each a letter or a digit (of any script: 客户 ids in Chinese are fine) or
one of ``- _ . : @ +``. An id travels in a URL path and is stored as text: no space, no slash,
no percent sign, no control character and no NUL (PostgreSQL refuses NUL in text, SQLite would
store it; PostgreSQL refuses an id over the column's length, SQLite would store it).
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

from app.db.models import CUSTOMER_ID_LENGTH

# Python's \w: the characters str.isalnum() accepts, and "_". Checked in Python everywhere,
# never by another regex engine (Rust's or RE2's \w differ).
_ID = re.compile(rf"[\w.:@+-]{{1,{CUSTOMER_ID_LENGTH}}}")
ID_CHARACTERS = "letters, digits and - _ . : @ +"
CUSTOMER_ID_RULE = f"1 to {CUSTOMER_ID_LENGTH} characters: {ID_CHARACTERS}"


def customer_id_problem(customer_id: str) -> str | None:
    """Why ``customer_id`` is not a valid id (never quoting it), or None when it is."""
    if _ID.fullmatch(customer_id):
        return None
    if not customer_id:
        return "blank"
    if len(customer_id) > CUSTOMER_ID_LENGTH:
        return f"longer than {CUSTOMER_ID_LENGTH} characters"
    return f"may hold only {ID_CHARACTERS}"


def checked_customer_id(customer_id: str) -> str:
    """``customer_id`` if valid; a ``ValueError`` naming the rule (for pydantic) if not."""
    problem = customer_id_problem(customer_id)
    if problem is not None:
        raise ValueError(f"{problem}: a customer id is {CUSTOMER_ID_RULE}")
    return customer_id


CustomerId = Annotated[str, AfterValidator(checked_customer_id)]
