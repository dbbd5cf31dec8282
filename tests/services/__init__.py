"""Tests of bodega.services."""
