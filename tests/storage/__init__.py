"""Tests of bodega.storage."""
