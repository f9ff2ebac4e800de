"""The GraphQL API: types, queries, mutations, and the rules of who sees what."""
