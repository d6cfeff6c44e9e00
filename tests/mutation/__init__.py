"""Mutation testing (python -m tests.mutation); see docs/testing.md#mutation-testing."""
