"""Perfledger's service: the write-side application, the GraphQL API, the CLI and their wiring."""
