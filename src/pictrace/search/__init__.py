"""Candidates -> verification/re-rank -> calibrated, tiered Matches."""
