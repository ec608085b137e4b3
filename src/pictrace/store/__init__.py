"""Persistence behind one Store interface, opened from a URI."""
