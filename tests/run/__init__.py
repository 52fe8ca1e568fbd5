"""Tests of planning and running cells."""
