"""Implementations of what the services need from outside the product: password hashing,
signed tokens, phone numbers (and, to come, messaging providers and national services)."""
