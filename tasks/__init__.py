"""Prefect tasks: one unit of work each, thin wrappers over the plain functions in `reelmind`.

Caching: the stages resume from their own outputs in the file's work folder (keyed by content hash and model
configuration), which the store stage deletes once the video is committed; Prefect result caching would hand back
paths to deleted files, so these tasks declare `NO_CACHE` and rely on that instead. Retries: transient errors are
retried once; a `MediaError` (bad input) is final and never retried.
"""
