"""A handler module that leaves a thread running at import: forking it would be unsafe."""

from __future__ import annotations

import threading
import time

from tests.workflow.toy_handlers import whoami

threading.Thread(target=time.sleep, args=(3600,), daemon=True, name="toy-import-thread").start()

__all__ = ["whoami"]
