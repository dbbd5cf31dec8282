"""Files and objects on disk; no SQL here."""
