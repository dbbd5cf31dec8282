"""Tests of bodega.catalogue."""
