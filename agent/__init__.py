"""The conversation: system prompt, ChatSession (one Memory per session), guards, the no-LLM dialogue, metering.
Imports tools/ and index/; imported by ui/ (and eval/, handrolled/ for the guards)."""
