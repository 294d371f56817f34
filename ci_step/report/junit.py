"""The JUnit XML report of a run of the app's unit tests, in the form every CI reads.

One ``<testsuite>`` inside ``<testsuites>``: its ``tests`` is the total the Unit Testing
module gives, ``failures`` its count of failures; one ``<testcase>`` for each failed test
the module listed (``classname`` its module, ``name`` the test), holding a ``<failure>``
whose ``message`` is the error and whose text is the error and the last step. The module
does not list passed tests, so the report holds none: a CI that counts test cases shows the
failed ones only, and a run without failures has no test case at all. The suite's
``<system-out>`` says so in words.

What the CIs' own parsers take: GitLab (``lib/gitlab/ci/parsers/test/junit.rb``) parses
strictly, then reads testsuites > testsuite > testcase (``classname``, ``name``, the text of
``failure``); its conversion to a hash reads a ``type`` attribute as the type of an
element's text (``yaml`` and ``symbol`` refused), so none is written, and a failure always
has text (an empty one would show as a hash). Jenkins' junit plugin (``SuiteResult``,
``CaseResult``) keeps a suite only when it holds a test case, and reads ``classname``,
``name``, ``failure@message`` and its text, and the suite's ``time``.

Every text is masked by the secret registry, and whatever XML 1.0 cannot hold (control
characters, lone surrogates, U+FFFE and U+FFFF) becomes U+FFFD, so the report always parses.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ci_step.inert import inert
from ci_step.secrets import redact

# Not a Char of XML 1.0 (https://www.w3.org/TR/xml/#charsets).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
NO_MESSAGE = "(the Unit Testing module gave no error message)"
MAX_MESSAGE = 200


def xml_text(text: str) -> str:
    """``text`` masked and made inert (a report a job prints starts no CI command), with
    every character XML 1.0 cannot hold replaced by U+FFFD."""
    return _NOT_XML.sub("\ufffd", inert(redact(text)))


class FailedTest(Protocol):
    """A failed test as the module listed it (ci_step.domain.unit_tests.FailedTest)."""

    @property
    def module(self) -> str: ...

    @property
    def test(self) -> str: ...

    @property
    def error(self) -> str: ...

    @property
    def step(self) -> str: ...


@dataclass(frozen=True)
class Report:
    suite: str  # names what ran where: "Mendix unit tests: calc on Test"
    tests: int
    failures: int
    seconds: float | None  # the run's time; None when the module gave none
    failed: Sequence[FailedTest]


def render(report: Report) -> str:
    """The report as UTF-8 XML text."""
    counts = {
        "tests": str(report.tests),
        "failures": str(report.failures),
        "errors": "0",
    }
    if report.seconds is not None:
        counts["time"] = f"{report.seconds:.3f}"
    root = ET.Element("testsuites", {"name": xml_text(report.suite), **counts})
    suite = ET.SubElement(root, "testsuite", {"name": xml_text(report.suite), **counts})
    suite.set("skipped", "0")
    for test in report.failed:
        _case(suite, test)
    ET.SubElement(suite, "system-out").text = xml_text(_note(report))
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


def _case(suite: ET.Element, test: FailedTest) -> None:
    classname = test.module or "(no module)"
    case = ET.SubElement(
        suite, "testcase", {"classname": xml_text(classname), "name": xml_text(test.test)}
    )
    error = test.error or NO_MESSAGE
    first = error.splitlines()[0] if error.splitlines() else NO_MESSAGE
    message = first if len(first) <= MAX_MESSAGE else first[: MAX_MESSAGE - 3] + "..."
    failure = ET.SubElement(case, "failure", {"message": xml_text(message)})
    text = error + (f"\n\nStep: {test.step}" if test.step else "")
    failure.text = xml_text(text)


def _note(report: Report) -> str:
    """The report's limits, in words, for whoever reads the suite's output."""
    failures = f"{report.failures} failure" + ("" if report.failures == 1 else "s")
    lines = [
        f"{report.tests} unit tests ran, {failures}.",
        "The Unit Testing module's remote API lists failed tests only: passed tests are "
        "counted in 'tests' but are not test cases of this report.",
    ]
    listed = len(report.failed)
    if report.failures > listed:
        lines.append(
            f"{report.failures - listed} of the failures were counted but not listed by "
            "the module (a suite that ended without a result)."
        )
    return "\n".join(lines)
