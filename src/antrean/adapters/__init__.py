"""Inbound adapters: they translate, call one service, map the result."""
