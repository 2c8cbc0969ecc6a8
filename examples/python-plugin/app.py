"""A Hermes tool plugin in Python: `csv_total` sums one column of a CSV text.

Build (see README.md):  componentize-py -d ../../wit -w tool-plugin componentize app -o csv_tools.wasm
"""

import csv
import io
import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports.types import ToolDefinition, ToolOutput

SCHEMA = {
    "type": "object",
    "properties": {"csv": {"type": "string"}, "column": {"type": "string"}},
    "required": ["csv", "column"],
}


class Tool(exports.Tool):
    def list_tools(self) -> list[ToolDefinition]:
        return [
            ToolDefinition(
                name="csv_total",
                description="Sum the numbers of one column of a CSV text (with a header row).",
                parameters=json.dumps(SCHEMA),
            )
        ]

    def call_tool(self, name: str, arguments: str) -> ToolOutput:
        if name != "csv_total":
            # A call the plugin cannot take at all.
            raise Err(f"unknown tool `{name}`")
        try:
            args = json.loads(arguments)
            rows = csv.DictReader(io.StringIO(args["csv"]))
            total = sum(float(row[args["column"]]) for row in rows)
        except (KeyError, ValueError, TypeError) as e:
            # A failed call the model reads and can retry.
            return ToolOutput(content=f"cannot total: {e!r}", is_error=True)
        return ToolOutput(content=f"{total:g}", is_error=False)
