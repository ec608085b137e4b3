"""Feature extractors: DecodedImage -> named, versioned feature values."""
