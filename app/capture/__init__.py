"""Request capture: every scoring and classification request and its answer, personal data
masked, written to the app database off the request path for QA to replay.

``middleware`` keeps the raw bytes on the request path and nothing else; ``buffer`` holds them,
bounded, counting what it drops; ``writer`` (a thread) sends them in batches to ``worker`` (a
process), which masks them (``masking``), shapes rows (``records``), writes them and deletes
rows past the retention (``retention``). docs/request-capture.md tells the whole story.
"""
