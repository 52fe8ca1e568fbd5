"""Tests of records to boards."""
