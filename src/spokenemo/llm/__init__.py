"""LLM backends: one small interface, several implementations."""
