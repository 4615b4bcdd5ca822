"""Test helpers shipped with the load tests: a scripted OpenAI-compatible server for the smoke checks."""
