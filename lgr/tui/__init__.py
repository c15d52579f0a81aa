"""The terminal UI of `lgr dashboard` (Textual). Logic lives in lgr.core.observe; this only shows it."""
