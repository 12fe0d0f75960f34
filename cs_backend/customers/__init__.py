"""Customers: one per (lower-cased) email address."""
