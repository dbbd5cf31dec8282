"""Tests of bodega.cli."""
