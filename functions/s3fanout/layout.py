"""Where a run's objects live in the manifest bucket."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RunLayout:
    """Keys under ``{root}/{run_id}/`` for one run."""

    root: str
    run_id: str

    @property
    def base(self) -> str:
        return f"{self.root}/{self.run_id}/"

    @property
    def plan_key(self) -> str:
        """JSON array of work units, read by the Map's ItemReader."""
        return f"{self.base}plan.json"

    def round_key(self, number: int) -> str:
        """The items of Map round ``number``: round 0 is the plan; later rounds continue the
        units a child execution's time limit deferred (written by MergeIndex)."""
        return self.plan_key if number == 0 else f"{self.base}rounds/{number:04d}.json"

    def round_of(self, key: str) -> int | None:
        """The round whose items ``key`` holds, or None: not one of this run's."""
        if key == self.plan_key:
            return 0
        name = key.removeprefix(f"{self.base}rounds/").removesuffix(".json")
        if name != key and name.isdigit() and len(name) == 4 and int(name) > 0:
            return int(name)
        return None

    @property
    def run_key(self) -> str:
        """The run's validated options and attempt id, read by MergeIndex."""
        return f"{self.base}run.json"

    @property
    def index_key(self) -> str:
        return f"{self.base}index.json"

    @property
    def page_key(self) -> str:
        """The share page (text/html): what a person opens."""
        return f"{self.base}index.html"

    @property
    def fetch_tool_key(self) -> str:
        """The recipient's tool as one file (a Python zipapp), linked from the index and page."""
        return f"{self.base}fanout-fetch.pyz"

    @property
    def summaries_prefix(self) -> str:
        return f"{self.base}summaries/"

    @property
    def parts_prefix(self) -> str:
        return f"{self.base}parts/"

    @property
    def errors_prefix(self) -> str:
        return f"{self.base}errors/"

    def part_key(self, unit: int, segment: int = 0, child: int = 0) -> str:
        # Segment 0 keeps the plain name; continuations of a long unit add a segment
        # number, and the pieces a unit spread into (child > 0) a piece number.
        if child:
            return f"{self.parts_prefix}{unit:05d}-c{child:03d}-{segment:04d}.jsonl"
        if segment == 0:
            return f"{self.parts_prefix}{unit:05d}.jsonl"
        return f"{self.parts_prefix}{unit:05d}-{segment:04d}.jsonl"

    def summary_key(self, unit: int, segment: int = 0, child: int = 0) -> str:
        if child:
            return f"{self.summaries_prefix}{unit:05d}-c{child:03d}-{segment:04d}.json"
        return f"{self.summaries_prefix}{unit:05d}-{segment:04d}.json"

    def error_key(self, unit: int, child: int = 0) -> str:
        if child:
            return f"{self.errors_prefix}{unit:05d}-c{child:03d}.json"
        return f"{self.errors_prefix}{unit:05d}.json"
