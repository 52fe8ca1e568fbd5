"""Tests of what runs on the device."""
