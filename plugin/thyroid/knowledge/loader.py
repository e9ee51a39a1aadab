"""The thyroid knowledge, loaded once: code lists, thresholds, drug table, card texts and rules.

A :class:`Knowledge` is built from one folder (``rules/thyroid`` by default, the
``THYROID_KNOWLEDGE_DIR`` setting otherwise) by :func:`load_knowledge`, called in
:func:`plugin.thyroid.create_services` and passed down to the reader, the fact mapper, the engine
and the card builders. It is the only code that decides where the knowledge lives
(:func:`default_folder`); the loaders it calls take paths.

Loading runs the start-up checks: a rule file the engine refuses, a conclusion without card text
(:mod:`plugin.thyroid.knowledge.check`) or a malformed YAML file raises, so a broken ruleset stops
the service before the first patient.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plugin.package_data import data_dir

if TYPE_CHECKING:  # the loaders import this module's default_folder
    from plugin.engine import RuleEngine
    from plugin.thyroid.facts.common import Thresholds
    from plugin.thyroid.knowledge.codes import CodeLists
    from plugin.thyroid.knowledge.precedence import Precedence
    from plugin.thyroid.orders.common import OrderCardText

#: the plugin setting naming another knowledge folder (docs/CONFIGURATION.md)
SETTING = "THYROID_KNOWLEDGE_DIR"


#: its environment variable; also read here, so that direct library use (tests, the CLI,
#: ``scripts/mutate_knowledge.py``) follows it without a config
ENV_VAR = "RAIR_CDS_" + SETTING


def default_folder() -> Path:
    """``$RAIR_CDS_THYROID_KNOWLEDGE_DIR`` when set, else ``rules/thyroid`` (in the installed
    package, or in the checkout)."""
    configured = os.environ.get(ENV_VAR, "").strip()
    if configured:
        return Path(configured).expanduser().resolve()
    return data_dir("rules") / "thyroid"


#: the order rules' file (their own ruleset: they read the finished assessment, not the record)
ORDER_RULES = "orders.rules.yaml"


def rule_files(folder: Path) -> list[Path]:
    """The patient rule files of ``folder`` (``*.rules.yaml`` but :data:`ORDER_RULES`), in a
    stable order."""
    return sorted(p for p in folder.glob("*.rules.yaml") if p.name != ORDER_RULES)


@dataclass(frozen=True, eq=False)
class Knowledge:
    """Everything the thyroid services know, read from one folder (see the module docstring).

    ``engine`` runs the patient rules, ``order_engine`` the order rules (:data:`ORDER_RULES`,
    read by :mod:`plugin.thyroid.orders.cards`). ``thresholds`` are the file's DESIGN numbers;
    ``precedence`` the tiers that resolve the rules' candidate conclusions (``precedence.yaml``,
    DECISIONS §D4.17); ``version`` is ``<thresholds version>+<12 hex of the patient rule,
    order rule, precedence, drug and threshold files>`` (the assessment's ``knowledgeVersion``).
    """

    folder: Path
    codes: CodeLists
    thresholds: Thresholds
    therapies: Mapping[str, Any]
    templates: Mapping[str, Any]
    order_text: OrderCardText
    precedence: Precedence
    engine: RuleEngine
    order_engine: RuleEngine
    version: str

    def version_for(self, thresholds: Thresholds) -> str:
        """``version``, plus ``.cfg-<8 hex>`` when ``thresholds`` differ from the file's."""
        if thresholds == self.thresholds:
            return self.version
        return self.version + ".cfg-" + hashlib.sha256(repr(thresholds).encode()).hexdigest()[:8]


def content_version(folder: Path, thresholds_version: str) -> str:
    """``<thresholds version>+<12 hex of the patient and order rule, precedence, therapies and
    thresholds files>``."""
    digest = hashlib.sha256()
    for path in [*rule_files(folder), folder / ORDER_RULES, folder / "precedence.yaml",
                 folder / "therapies.yaml", folder / "thresholds.yaml"]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return f"{thresholds_version}+{digest.hexdigest()[:12]}"


def load_knowledge(folder: Path | str | None = None) -> Knowledge:
    """The knowledge of ``folder`` (default :func:`default_folder`), checked and with its engine.

    Loaded once per folder and process (the engine is built after any fork, on first use).

    :raises plugin.thyroid.knowledge.check.KnowledgeError: when rules and card text disagree.
    :raises plugin.engine.RuleEngineError: when a rule file is malformed.
    :raises OSError, KeyError, ValueError: when a knowledge file is missing or malformed.
    """
    return _load(Path(folder or default_folder()).resolve())


def knowledge_from_config(config: Mapping[str, Any]) -> Knowledge:
    """The knowledge of the folder the ``THYROID_KNOWLEDGE_DIR`` setting names (default: ours)."""
    return load_knowledge(config.get(SETTING) or None)


@functools.lru_cache(maxsize=8)
def _load(folder: Path) -> Knowledge:
    from plugin.engine import RuleEngine
    from plugin.thyroid.cards.common import load_templates
    from plugin.thyroid.facts.common import load_therapies, load_thresholds
    from plugin.thyroid.knowledge.check import check_knowledge
    from plugin.thyroid.knowledge.codes import load_codes
    from plugin.thyroid.knowledge.precedence import load_precedence
    from plugin.thyroid.orders.common import load_order_text

    precedence = load_precedence(folder / "precedence.yaml")
    # every conclusion the rules can reach must have card text and a citation (issue 3), and
    # every candidate a known tier (DECISIONS §D4.17)
    check_knowledge(folder, precedence)
    thresholds = load_thresholds(folder / "thresholds.yaml")
    return Knowledge(
        folder=folder,
        codes=load_codes(folder / "codes.yaml"),
        thresholds=thresholds,
        therapies=load_therapies(folder / "therapies.yaml"),
        templates=load_templates(folder / "cards.yaml"),
        order_text=load_order_text(folder / "order_cards.yaml"),
        precedence=precedence,
        engine=RuleEngine(rule_files(folder), name="thyroid"),
        order_engine=RuleEngine([folder / ORDER_RULES], name="thyroid_orders"),
        version=content_version(folder, thresholds.version),
    )
