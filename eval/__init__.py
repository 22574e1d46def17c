"""Evaluation beside the app: transcripts, real dialogues (eval/redial/), pipelines, metrics, audits, benchmarks.
May import every application package; only ui's command line imports it (`movierec eval`, `audit`, `recommend`)."""
