"""JUnit XML as GitLab and Jenkins read it, after their own parsers.

GitLab (``lib/gitlab/ci/parsers/test/junit.rb``): a strict parse, then ActiveSupport's
XML-to-hash conversion (element text under ``__content__``, dropped when blank beside child
elements; an element whose hash is only text becomes that text; a ``type`` attribute names
a type to convert the text to, ``yaml`` and ``symbol`` refused), then testsuites >
testsuite > testcase, a case's status from its ``failure``, ``error`` or ``skipped`` key
and its details from that value joined as text.

Jenkins' junit plugin (``SuiteResult.parse``, ``CaseResult``): a strict parse; nested
``testsuite`` elements walked; an element is a suite only when it holds a ``testcase`` (or
``error``); a case's class is its ``classname`` or the suite's name, its name ``name``, its
stack trace the ``failure`` text and its details ``failure@message``; a suite's duration
is its ``time``. A report without any case is "empty": the ``junit`` step fails on it
unless ``allowEmptyResults``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

CONTENT = "__content__"


def strict(xml: str) -> ET.Element:
    """The document, parsed strictly as both CIs do: a character XML 1.0 cannot hold, or a
    malformed document, raises."""
    return ET.fromstring(xml)  # noqa: S314 - the step's own report, read back


def _hash(element: ET.Element) -> Any:
    node: dict[str, Any] = {}
    text = element.text or ""
    for child in element:
        key = child.tag.replace("-", "_")
        value = _hash(child)
        if key in node:
            node[key] = [*node[key], value] if isinstance(node[key], list) else [node[key], value]
        else:
            node[key] = value
        text += child.tail or ""
    node[CONTENT] = text
    if len(node) > 1 and not text.strip():
        del node[CONTENT]
    for name, value in element.attrib.items():
        assert name != "type", f"<{element.tag} type=...>: GitLab converts the text to that type"
        node[name] = value
    if CONTENT in node and (len(node) == 1 or node[CONTENT].strip()):
        return node[CONTENT]  # ActiveSupport's become_content?
    return node


def _each(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


@dataclass(frozen=True)
class GitLabCase:
    suite_name: str
    classname: str | None
    name: str | None
    status: str
    system_output: str | None


def gitlab_cases(xml: str) -> list[GitLabCase]:
    """The test cases GitLab makes of a report (strict parse: a bad one raises)."""
    root = strict(xml)
    document = {root.tag: _hash(root)}
    cases: list[GitLabCase] = []

    def suites(node: Any, top: bool) -> None:
        for item in _each(node):
            if not isinstance(item, dict):
                continue
            if top:
                suites(item.get("testsuites"), False)
            else:
                for case in _each(item.get("testcase")):
                    cases.append(_gitlab_case(case, item.get("name")))
            suites(item.get("testsuite"), False)

    suites(document, True)
    return cases


def _gitlab_case(data: Any, suite: str | None) -> GitLabCase:
    assert isinstance(data, dict), f"a test case GitLab reads as {data!r}"
    for status in ("failure", "error"):
        if status in data:
            detail = data[status]
            assert isinstance(detail, str), f"GitLab would show the {status} as {detail!r}"
            return GitLabCase(suite or "", data.get("classname"), data.get("name"), status, detail)
    status = "skipped" if "skipped" in data else "success"
    return GitLabCase(suite or "", data.get("classname"), data.get("name"), status, None)


@dataclass(frozen=True)
class JenkinsCase:
    class_name: str
    name: str
    error_details: str | None  # failure@message
    error_stack_trace: str | None  # the failure's text


@dataclass(frozen=True)
class JenkinsSuite:
    name: str
    duration: float
    cases: list[JenkinsCase]
    stdout: str | None


def jenkins_suites(xml: str, file_name: str = "report.xml") -> list[JenkinsSuite]:
    """The suites Jenkins makes of a report (strict parse: a bad one raises)."""
    found: list[JenkinsSuite] = []

    def parse(element: ET.Element) -> None:
        for suite in element.findall("testsuite"):
            parse(suite)
        if element.find("testcase") is not None or element.find("error") is not None:
            found.append(_jenkins_suite(element, file_name))

    parse(strict(xml))
    return found


def _jenkins_suite(suite: ET.Element, file_name: str) -> JenkinsSuite:
    name = suite.get("name") or f"({file_name})"
    cases = []
    for case in suite.findall("testcase"):
        class_name = case.get("classname") or suite.get("name")
        test_name = case.get("name")
        if class_name is None:
            assert test_name is not None, "Jenkins fails on a case without classname and name"
            class_name, _, test_name = test_name.rpartition(".")
        failure = case.find("error")
        failure = failure if failure is not None else case.find("failure")
        cases.append(
            JenkinsCase(
                class_name,
                test_name or "(?)",
                None if failure is None else failure.get("message"),
                None if failure is None else (failure.text or ""),
            )
        )
    out = suite.find("system-out")
    time = suite.get("time")
    return JenkinsSuite(
        name, float(time) if time else 0.0, cases, None if out is None else out.text
    )
