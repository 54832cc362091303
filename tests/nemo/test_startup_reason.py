"""The one line an upstream server's failed start is reported by: what the checks classify."""

from __future__ import annotations

from gymkit.nemo.launch import startup_failure

TRACEBACK = """\
INFO:     Started server process [7018]
Traceback (most recent call last):
  File "/x/app.py", line 40, in <module>
    config = GoogleSearchResourcesServerConfig(**raw)
pydantic_core._pydantic_core.ValidationError: 1 validation error for GoogleSearchResourcesServerConfig
google_cx
  Field required [type=missing, input_value={'name': 'google_search'}, input_type=dict]
    For further information visit https://errors.pydantic.dev/2.12/v/missing
ERROR:    Application startup failed. Exiting.
"""


def test_the_final_exception_is_the_reason_with_a_validation_errors_fields() -> None:
    why = startup_failure(TRACEBACK)
    assert why.startswith("pydantic_core._pydantic_core.ValidationError: 1 validation error for GoogleSearch")
    assert "; google_cx; Field required" in why and "errors.pydantic.dev" not in why


def test_without_a_traceback_the_last_unindented_line_is_the_reason() -> None:
    assert startup_failure("INFO:     Waiting for application startup.\n  detail\n") == (
        "INFO:     Waiting for application startup."
    )
    assert startup_failure("") == ""


RETRIED = (
    (
        "WARNING: fetching https://www.sec.gov/files/company_tickers.json failed:"
        " <urlopen error [Errno -3] Temporary failure in name resolution>\n"
    )
    + """\
Traceback (most recent call last):
  File "/x/app.py", line 88, in <module>
RuntimeError: Failed to load SEC ticker data after retries. Server cannot start without company_tickers.json.
"""
)


def test_a_need_the_log_shows_above_the_exception_is_quoted() -> None:
    # finance_sec_search: its exception says "after retries"; the log says why they failed.
    why = startup_failure(RETRIED)
    assert why.startswith("RuntimeError: Failed to load SEC ticker data after retries.")
    assert why.endswith(
        "(its log: WARNING: fetching https://www.sec.gov/files/company_tickers.json failed:"
        " <urlopen error [Errno -3] Temporary failure in name resolution>)"
    )
    assert startup_failure(TRACEBACK).count("(its log:") == 0
