"""docs/ENGINE.md is what the engine code cites: every cited section exists, nothing cites the
project-internal note it replaced, and the runtime facts it states that no other test pins
(no durable Host or thread, the per-state checks of the action loop, §E2.1, §E2.2)."""

import re
import subprocess
import sys

import orjson
import pytest
from engine_helpers import FULL_CHAIN, REPO, RULE_FILES

from plugin.engine import RuleEngine, RuleEngineError

ENGINE_DOC = "docs/ENGINE.md"
# The one file allowed to name the old note: the page that replaced it says so.
MAY_NAME_OLD_NOTE = {ENGINE_DOC}
OLD_NOTE = "RULE-ENGINE" + ".md"  # split so this file does not cite it itself


def _tracked_texts() -> dict[str, str]:
    names = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split()
    texts = {}
    for name in names:
        path = REPO / name
        if not path.is_file():
            continue
        try:
            texts[name] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary
    return texts


def _defined_sections() -> set[str]:
    text = (REPO / ENGINE_DOC).read_text(encoding="utf-8")
    return set(re.findall(r"^#+ §(E[\d.]*\d)\b", text, re.M))


def test_every_engine_section_cited_in_the_repository_exists():
    defined = _defined_sections()
    cited: dict[str, set[str]] = {}
    for name, body in _tracked_texts().items():
        for section in re.findall(r"§(E\d+(?:\.\d+)*)", body):
            cited.setdefault(section, set()).add(name)
    # The sections the code cites for each guard (the brief of this page).
    assert {"E1", "E1.2", "E2", "E2.1", "E2.2", "E3.1", "E3.2", "E3.3", "E3.4", "E3.6",
            "E3.7", "E3.8", "E3.9", "E3.10", "E3.11"} <= defined
    missing = {s: sorted(names) for s, names in cited.items() if s not in defined}
    assert not missing, missing
    # Code outside the page cites it: the engine, the fact builder, the reader, the tests.
    citing = set().union(*cited.values()) - {ENGINE_DOC}
    assert {"plugin/engine/runtime.py", "plugin/engine/ids.py", "plugin/thyroid/facts/builder.py",
            "plugin/thyroid/reading/text.py"} <= citing


def test_nothing_cites_the_note_outside_the_repository():
    offenders = sorted(name for name, body in _tracked_texts().items()
                       if OLD_NOTE in body and name not in MAY_NAME_OLD_NOTE)
    assert not offenders, offenders


def test_engine_code_cites_only_prefixed_sections():
    # A bare section number (no E) in the engine was the old note's numbering: ambiguous now.
    texts = _tracked_texts()
    engine_files = [n for n in texts if n.startswith(("plugin/engine/", "tests/test_plugin_engine"))
                    or n == "scripts/bench_engine.py"]
    assert "plugin/engine/runtime.py" in engine_files
    bare = {n: re.findall(r"§\d[\d.]*", texts[n]) for n in engine_files}
    assert not {n: found for n, found in bare.items() if found}


# ----------------------------------------------------------------- §E2.2, §E3.11

NO_HOST_SCRIPT = """
import sys, threading
from plugin.engine import RuleEngine
with RuleEngine(sys.argv[1:], name="nohost") as eng:
    fired = eng.evaluate(FULL_CHAIN).fired
    print(len(fired) > 0, threading.active_count(),
          sorted(m for m in sys.modules if m == "durable" or m.startswith("durable.")))
"""


def test_no_durable_host_and_no_thread_is_started():
    # durable.lang's stock Host would start two Timer threads and import durable.engine.
    script = f"FULL_CHAIN = {FULL_CHAIN!r}\n" + NO_HOST_SCRIPT
    proc = subprocess.run([sys.executable, "-c", script, *map(str, RULE_FILES)], cwd=REPO,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "True 1 []", proc.stdout


# ----------------------------------------------------------------- §E2.1 per-state checks


def _other_sid_in_matches(real):
    """Wrap a durable call so every fact in the action message it returns names another sid."""

    def call(handle, offset):
        out = real(handle, offset)
        if out is None:
            return None
        message_json = out[1] if isinstance(out, tuple) else out
        if message_json is None:
            return out
        message = orjson.loads(message_json)
        for matched in message.values():
            for fact in matched.values():
                fact["sid"] = "s999"
        text = orjson.dumps(message).decode()
        return (out[0], text) if isinstance(out, tuple) else text

    return call


def test_a_match_from_another_state_fails_the_evaluation(monkeypatch):
    import durable_rules_engine as dre

    with RuleEngine(RULE_FILES, name="otherstate", state_pool_size=2) as eng:
        expected = eng.evaluate(FULL_CHAIN)
        for name in ("start_action_for_state", "complete_and_start_action"):
            monkeypatch.setattr(dre, name, _other_sid_in_matches(getattr(dre, name)))
        with pytest.raises(RuleEngineError, match="another state"):
            eng.evaluate(FULL_CHAIN)
        monkeypatch.undo()
        # The state was deleted and the sid reused: the same patient gives the same result.
        assert eng.evaluate(FULL_CHAIN) == eng.evaluate(FULL_CHAIN) == expected


def test_an_action_handed_out_for_another_state_fails_the_evaluation(monkeypatch):
    import durable_rules_engine as dre

    real = dre.start_action_for_state

    def other_state(handle, offset):
        out = real(handle, offset)
        state = orjson.loads(out[0])
        state["sid"] = "s999"
        return orjson.dumps(state).decode(), out[1]

    with RuleEngine(RULE_FILES, name="otherstate2", state_pool_size=1) as eng:
        monkeypatch.setattr(dre, "start_action_for_state", other_state)
        with pytest.raises(RuleEngineError, match="another state"):
            eng.evaluate(FULL_CHAIN)
        monkeypatch.undo()
        assert "candidate" in [f["type"] for f in eng.evaluate(FULL_CHAIN).derived]
