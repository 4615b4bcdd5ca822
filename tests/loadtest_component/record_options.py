"""Run the offline plan of a stack file and print, per resource, the options Pulumi is handed:
dependencies and custom timeouts (the plan's own records keep inputs only).

    python -m tests.loadtest_component.record_options STACK_FILE   -> JSON on stdout
"""

from __future__ import annotations

import json
import sys

from components.config import load_from_file
from components.offline import engine, mocks


class OptionsRecordingMonitor(mocks.RecordingMonitor):
    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        record = next((r for r in reversed(self.records) if r["urn"] == response.urn), None)
        if record is not None:
            timeouts = request.customTimeouts
            record["dependencies"] = list(request.dependencies)
            record["timeouts"] = {"create": timeouts.create, "update": timeouts.update}
        return response


def main(path: str) -> None:
    loaded, raw = load_from_file(path)
    engine.RecordingMonitor = OptionsRecordingMonitor
    result = engine.run_plan(loaded, raw, "options")
    out = [{k: r.get(k) for k in ("type", "name", "urn", "dependencies", "timeouts")} for r in result.records]
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
