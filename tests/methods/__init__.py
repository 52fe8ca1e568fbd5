"""Tests of the built-in methods, each against the contract."""
