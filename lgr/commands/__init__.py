"""One thin module per CLI command: parse flags, build config, call core, render."""
