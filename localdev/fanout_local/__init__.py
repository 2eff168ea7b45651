"""Local tooling: the embedded engine (moto's Step Functions interpreter + a Lambda endpoint)
and the ``fanout`` CLI. Never imported by the deployable code in functions/."""

from __future__ import annotations
