"""``ctfluent-settings-schema``: print the JSON Schema of every setting (the core's, ``messages`` and each registered
entity's section), as pydantic describes the settings models, for editors (YAML language servers validate
``ctfluent.yaml`` against it) and for review. A key the settings do not know is flagged by the schema
(``additionalProperties: false``): the settings themselves ignore it, so a typo would otherwise go unnoticed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ctfluent_dagster.configuration import settings_class


def settings_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the settings file, every settings object closed to unknown keys."""
    schema = settings_class().model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "ctfluent-dagster settings (ctfluent.yaml; CTFLUENT_<KEY>, CTFLUENT_<SECTION>__<KEY>)"
    for model in [schema, *schema.get("$defs", {}).values()]:
        if "properties" in model:
            model.setdefault("additionalProperties", False)
    return schema


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ctfluent-settings-schema", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--output", "-o", help="write the schema to this file (default: standard output)")
    args = parser.parse_args(argv)
    text = json.dumps(settings_schema(), indent=2, sort_keys=True) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
