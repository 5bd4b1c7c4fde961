"""Plain-Python rules of the product. Imports only the standard library."""
