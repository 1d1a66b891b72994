"""The column roles of a dataset file: their names, what each holds, which column plays each.

A file's columns play roles (the id, the label, the model's prediction, ...);
:class:`ColumnMapping` says which column plays which, by default the column named after
the role. :data:`ROLE_HELP` says what each role holds, in the words of every form and
flag that asks for a column. The module imports nothing heavy, so the command line builds
its ``--ROLE-column`` options from it without loading pandas; what each role must hold
is checked by :mod:`erroranalysis.importing`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = [
    "LABEL_ROLES",
    "PRODUCTION_ROLES",
    "REQUIRED_ROLES",
    "ROLES",
    "ROLE_HELP",
    "TEXT_ROLES",
    "ColumnMapping",
    "column_flag",
]

REQUIRED_ROLES = ("id", "label", "prediction")
# A production sample (``import --production``) has predictions but no labels: it needs
# only these roles and may not have the label roles (see erroranalysis.importing).
PRODUCTION_ROLES = ("id", "prediction")
LABEL_ROLES = ("label", "correct", "human_label")
# Read exactly as written, whatever the format would make of them: "007" stays "007".
TEXT_ROLES = ("id", "label", "prediction", "human_label", "text", "audio", "image", "tags")


@dataclass(frozen=True)
class ColumnMapping:
    """Which column of the file plays which role (defaults: the role's own name)."""

    id: str = "id"
    label: str = "label"
    prediction: str = "prediction"
    correct: str = "correct"
    confidence: str = "confidence"
    human_label: str = "human_label"
    text: str = "text"
    audio: str = "audio"
    image: str = "image"
    tags: str = "tags"

    def roles(self) -> dict[str, str]:
        """``{role: file column}`` for every role."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def text_columns(self) -> list[str]:
        """The file columns of the text roles, which every reader reads as written."""
        return [column for role, column in self.roles().items() if role in TEXT_ROLES]


ROLES = tuple(f.name for f in fields(ColumnMapping))
# What each role holds, in the words of every form and flag that asks for its column.
ROLE_HELP = {
    "id": "a unique id per example",
    "label": "the true class",
    "prediction": "the model's predicted class",
    "correct": "optional: true/false; else label == prediction",
    "confidence": "optional: the model's confidence in [0, 1]",
    "human_label": "optional: a second person's label, to measure human-level performance",
    "text": "optional: the example's text",
    "audio": "optional: path (inside the archive or media folder) or http(s) URL of the audio",
    "image": "optional: path (inside the archive or media folder) or http(s) URL of the image",
    "tags": "optional: dataset tags, ';'-separated",
}


def column_flag(role: str) -> str:
    """The command-line flag that maps ``role`` to a column: ``--human-label-column``."""
    return f"--{role.replace('_', '-')}-column"
