"""Tests of the plugin API and its adapters."""
