"""MiSTER-E: a mixture of speech and text experts for emotion in conversations (docs/methods/mister-e.md)."""
