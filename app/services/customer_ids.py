"""What a customer id may be: one rule for the HTTP API and the import, on every database.

1 to 128 characters, each an ASCII letter or digit or one of ``- _ . : @ +``. An id travels in
a URL path and is stored as text: no space, no slash, no percent sign, no control character and
no NUL (PostgreSQL refuses NUL in text, SQLite would store it; PostgreSQL refuses an id over the
column's length, SQLite would store it). ASCII only: an id has one spelling (Unicode can write
the same letters two ways, which would be two customers), needs no escaping in a URL, and means
the same to every regex engine, so the OpenAPI document can give the rule as a pattern.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, WithJsonSchema

from app.db.models import CUSTOMER_ID_LENGTH

_ID = re.compile(rf"[A-Za-z0-9_.:@+-]{{1,{CUSTOMER_ID_LENGTH}}}")
ID_CHARACTERS = "ASCII letters, digits and - _ . : @ +"
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


# The OpenAPI document gives the rule as a pattern (it means the same in every regex engine).
CustomerId = Annotated[
    str,
    AfterValidator(checked_customer_id),
    WithJsonSchema(
        {"type": "string", "pattern": f"^{_ID.pattern}$", "description": CUSTOMER_ID_RULE}
    ),
]
