"""The model YAML reads like something a person wrote and keeps one text per meaning: descriptions over several lines
are folded `>` blocks (never quoted scalars with line breaks a dumper chose), a column description written out in
three or more places is a doc block in models/docs/ referenced as {{ doc('name') }}, and every path the project's
comments, models and docs name exists."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from pathlib import Path

import yaml

from mmhealth.manifest import doc_blocks

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "models"
# generated from views/*.json (mmhealth views compile): each text comes from its ViewDefinition
GENERATED = {MODELS / "views" / "_views__models.yml"}
DOC_REF = re.compile(r"""^\{\{\s*doc\(\s*['"](\w+)['"]\s*\)\s*\}\}$""")


def model_yaml_files() -> list[Path]:
    return sorted(MODELS.rglob("*.yml"))


def descriptions(node, path: Path, found: list) -> None:
    """Every `description` scalar node under a composed YAML node, with the file."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == "description" and isinstance(value, yaml.ScalarNode):
                found.append((path, value))
            else:
                descriptions(value, path, found)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            descriptions(item, path, found)


def all_description_nodes() -> list[tuple[Path, yaml.ScalarNode]]:
    found: list = []
    for path in model_yaml_files():
        descriptions(yaml.compose(path.read_text(encoding="utf-8")), path, found)
    return found


def column_descriptions() -> list[tuple[Path, str, str, str]]:
    """(file, model, column, description as written) for every model column, generated YAML excluded."""
    out = []
    for path in model_yaml_files():
        if path in GENERATED:
            continue
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for model in doc.get("models") or []:
            for col in model.get("columns") or []:
                if "description" in col:
                    out.append((path, model["name"], col["name"], str(col["description"])))
    return out


def test_no_description_is_a_quoted_or_plain_scalar_over_several_lines():
    found = all_description_nodes()
    assert len(found) > 700
    offenders = [f"{p.relative_to(REPO)}:{n.start_mark.line + 1}" for p, n in found
                 if n.style not in (">", "|") and n.end_mark.line > n.start_mark.line]
    assert offenders == [], "write these as folded `description: >` blocks"
    # and the model descriptions, which hold the grain and the steps, are all folded blocks
    for path in model_yaml_files():
        root = yaml.compose(path.read_text(encoding="utf-8"))
        models = next((v for k, v in root.value if k.value == "models"), None) if root else None
        for model in models.value if models is not None else []:
            desc = next((v for k, v in model.value if k.value == "description"), None)
            assert desc is not None and desc.style == ">", f"{path.relative_to(REPO)}:{model.start_mark.line + 1}"


def test_a_description_written_in_three_places_is_a_doc_block():
    literal = Counter(" ".join(d.split()) for _, _, _, d in column_descriptions() if not DOC_REF.match(d.strip()))
    repeated = {text: n for text, n in literal.items() if n >= 3}
    assert repeated == {}, "move these to a {% docs %} block in models/docs/ and refer to it with {{ doc('...') }}"


def test_every_doc_reference_has_its_block_and_every_block_is_used():
    blocks = doc_blocks(MODELS)
    assert {"patient_key", "patient_id", "source_lake_run", "source_last_updated_at"} <= set(blocks)
    used: dict[str, list[str]] = defaultdict(list)
    for path, model, column, desc in column_descriptions():
        m = DOC_REF.match(desc.strip())
        if m:
            used[m.group(1)].append(f"{model}.{column}")
            # a block is named for the column it describes, so a reader of the YAML knows what it says
            assert m.group(1) == column, f"{path.relative_to(REPO)}: {model}.{column} uses doc('{m.group(1)}')"
    assert set(used) <= set(blocks), sorted(set(used) - set(blocks))
    assert set(blocks) <= set(used), f"unused doc blocks: {sorted(set(blocks) - set(used))}"
    assert len(used["patient_key"]) >= 15
    for name, text in blocks.items():
        assert text and "\n" not in text, f"doc block {name}: one line of text (it is a column comment in the warehouse)"


# Paths the project's own text names: comments in macros and models, the model YAML and docs, the data tests.
NAMED_IN = [*MODELS.rglob("*.sql"), *MODELS.rglob("*.yml"), *MODELS.rglob("*.md"), *(REPO / "macros").rglob("*.sql"),
            *(REPO / "tests" / "dbt" / "data_tests").rglob("*.sql"), *(REPO / "docs").glob("*.md"),
            REPO / "dbt_project.yml", REPO / "README.md"]
REPO_PATH = re.compile(r"(?<![\w/.-])((?:models|macros|tests|docs|scripts|src|governance|expectations|seeds|views)"
                       r"/[\w./-]*\w)")
# bare file names in comments of the dbt project (a renamed YAML or test file is usually named this way)
BARE_NAME = re.compile(r"(?<![\w/.-])(\w+\.(?:yml|sql|py))\b")


def test_every_path_the_project_names_exists():
    tracked = {p.name for p in REPO.rglob("*") if ".venv" not in p.parts and ".git" not in p.parts}
    missing = []
    for path in NAMED_IN:
        text = path.read_text(encoding="utf-8")
        for n, line in enumerate(text.splitlines(), 1):
            for m in REPO_PATH.finditer(line):
                if not (REPO / m.group(1)).exists():
                    missing.append(f"{path.relative_to(REPO)}:{n}: {m.group(1)}")
            if path.suffix in (".sql", ".yml") or path.name == "dbt_project.yml":
                for m in BARE_NAME.finditer(line):
                    if m.group(1) not in tracked:
                        missing.append(f"{path.relative_to(REPO)}:{n}: {m.group(1)}")
    assert missing == []
