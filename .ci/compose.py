"""Read a compose file as Docker Compose does, for the checks that take plain
data: its ``!reset`` and ``!override`` tags (merge instructions for an override
file) become the value they carry. Run as a script: the file as JSON on
standard output, for check-jsonschema, whose YAML reader refuses those tags."""

import json
import sys
from pathlib import Path

import yaml


class ComposeLoader(yaml.SafeLoader):
    pass


def _tagged(loader: yaml.SafeLoader, node: yaml.Node):
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    return loader.construct_scalar(node)


for _tag in ("!reset", "!override"):
    ComposeLoader.add_constructor(_tag, _tagged)


def load(path: Path) -> dict:
    return yaml.load(path.read_text(), Loader=ComposeLoader)  # noqa: S506 (a safe loader)


if __name__ == "__main__":
    sys.stdout.write(json.dumps(load(Path(sys.argv[1])), indent=2) + "\n")
