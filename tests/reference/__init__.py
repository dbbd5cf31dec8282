"""Plain reference implementations used as test oracles for the native code."""
