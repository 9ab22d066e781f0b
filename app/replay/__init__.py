"""QA replay: re-send captured production requests to the staged model versions and report
how their answers differ (``insight replay``)."""
