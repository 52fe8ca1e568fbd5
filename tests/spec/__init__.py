"""Tests of the experiment as data."""
