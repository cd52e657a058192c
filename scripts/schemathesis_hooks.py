"""Schemathesis hooks for Rekomi's API run: every request gets its own Idempotency-Key, so each
generated body runs instead of replaying (or being refused as a reused key)."""
import uuid

import schemathesis


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.headers is None:
        case.headers = {}
    case.headers["Idempotency-Key"] = str(uuid.uuid4())
