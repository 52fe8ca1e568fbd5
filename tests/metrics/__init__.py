"""Tests of GLUE metrics."""
