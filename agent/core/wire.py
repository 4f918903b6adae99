"""Bases of every wire model. They import nothing but pydantic, so the SDK can use the same
models the server answers with without importing the server.

- `StrictModel`: what a client or peer sends (request bodies): no coercion, no unknown
  fields, only finite floats. Refusals become 400 VALIDATION_ERROR.
- `Answer`: what the agent answers. Unknown fields are ignored when parsing, so an SDK keeps
  working against a newer agent that adds fields.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Base for request bodies: no type coercion, no unknown fields, only finite floats."""

    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)


class Answer(BaseModel):
    """Base for answers and event payloads."""

    model_config = ConfigDict(extra="ignore")
