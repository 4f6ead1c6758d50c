"""Evidence: the installation's signing key, signed packages and their verifier, bookmarks,
evidence locks and cases."""
